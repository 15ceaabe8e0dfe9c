"""JSON Lines: one object per answer, with its session, prompt, model fingerprint, figures and votes."""

from __future__ import annotations

import json
from typing import TextIO

from sqlite_utils import Database

from workbench.core.answer import truncated
from workbench.export.records import tally
from workbench.parity import loads
from workbench.store.queries import answers

FIGURES = ("ttft_ms", "duration_ms", "load_ms", "prompt_tokens", "completion_tokens", "tokens_per_s", "cost_usd")
# Line separators that json.dumps leaves raw but str.splitlines() would split a record on.
_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _vote(vote: dict) -> dict:
    """A vote as stored (JSON columns parsed), less the prompt id its answer already carries."""
    out = {k: v for k, v in vote.items() if k != "prompt_id"}
    out["blind"] = bool(out.get("blind"))
    if isinstance(out.get("shown"), str):
        try:
            out["shown"] = json.loads(out["shown"])
        except ValueError:
            pass
    return out


def record(row: dict) -> dict:
    """The JSON object for one answer (the same field names as `workbench run --json` where they overlap)."""
    out = {
        "id": row["id"],
        "session": {"id": row["session_id"], "name": row["session_name"], "started_at": row["session_started_at"],
                    "source": row["session_source"]},
        "prompt": {"id": row["prompt_id"], "text": row["prompt_text"], "system": row["prompt_system"],
                   "params": row["prompt_params"], "created_at": row["prompt_created_at"],
                   "key": row.get("prompt_key"), "title": row.get("prompt_title"),
                   "tags": row.get("prompt_tags") or [], "repeat": row.get("prompt_repeat"),
                   "conversation": row.get("conversation"), "turn": row.get("turn"),
                   "parent_id": row.get("parent_prompt_id")},
        "turn": row.get("turn"),
        "parent_response_id": row.get("parent_response_id"),
        "model_name": row["model_name"],
        "model": row["model"],
        "label": row["label"],
        "position": row["position"],
        "attempt": row["attempt"],
        "blind": bool(row["blind"]),
        "status": row["status"],
        "text": row["text"],
        "error": row["error"],
        "finish_reason": row["finish_reason"],
        "truncated": truncated(row["status"], row["finish_reason"]),
        "where": row["where_run"],
        **{k: row[k] for k in FIGURES},
        "started_at": row["started_at"],
        "updated_at": row["updated_at"],
        "verification": row.get("verification"),
        "votes": [_vote(v) for v in row["votes"] if not v.get("retracted_at")],
        "vote_tally": tally(row),
        "retracted_votes": [_vote(v) for v in row["votes"] if v.get("retracted_at")],
        "received": loads(row.get("received")),  # what the model was given (workbench/parity.py), or None
    }
    return out


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write one line per answer; returns how many."""
    count = 0
    for row in answers(db, session_id):
        out.write(json.dumps(record(row), ensure_ascii=False).translate(_SEPARATORS))
        out.write("\n")
        count += 1
    return count

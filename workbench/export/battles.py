"""The log's votes as pairwise battles in the public arena format (JSON Lines).

One line per pair a vote implies: `model_a`, `model_b`, `winner` (model_a,
model_b, tie or "tie (bothbad)"), plus where it came from (prompt, tags, blind,
time). The same file feeds `workbench leaderboard --battles`, here or anywhere
that reads the arena format.
"""

from __future__ import annotations

import json
from typing import TextIO

from sqlite_utils import Database

from workbench.store.queries import prompt_filters, vote_pairs


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write one battle per line; returns how many."""
    where, params = prompt_filters(session_id)
    where += ["v.retracted_at IS NULL", "v.outcome IN ('winner', 'tie', 'both_bad')"]
    names = {r[0]: r[1] for r in db.execute("SELECT id, model_name FROM responses").fetchall()}
    sql = ("SELECT v.outcome, v.winner_response_id, v.response_ids, v.blind, v.created_at, p.id, p.tags "
           "FROM votes v JOIN prompts p ON p.id = v.prompt_id WHERE " + " AND ".join(where) + " ORDER BY v.id")
    count = 0
    for outcome, winner, ids, blind, created, prompt_id, tags in db.execute(sql, params).fetchall():
        for model_a, model_b, result in vote_pairs(outcome, winner, json.loads(ids or "[]"), names):
            out.write(json.dumps({"model_a": model_a, "model_b": model_b, "winner": result,
                                  "prompt_id": prompt_id, "tags": json.loads(tags or "[]"),
                                  "blind": bool(blind), "tstamp": created}, ensure_ascii=False) + "\n")
            count += 1
    return count

"""CSV: one row per answer under a header row, flat columns that open cleanly in a spreadsheet.

(This module is `workbench.export.csv`; with absolute imports its `import csv` is the standard library's.)
"""

from __future__ import annotations

import csv
from typing import TextIO

from sqlite_utils import Database

from workbench.core.answer import truncated
from workbench.export.records import PARAMS, tally
from workbench.store.queries import MODEL_FIELDS, answers

ANSWER = ("id", "session_id", "session_name", "session_started_at", "prompt_id", "prompt_created_at",
          "conversation", "turn", "parent_response_id",
          "model_name", "label", "position", "attempt", "blind", "status", "finish_reason", "where_run",
          "ttft_ms", "duration_ms", "load_ms", "prompt_tokens", "completion_tokens", "tokens_per_s",
          "cost_usd", "started_at", "updated_at")
TALLY = ("votes", "wins", "losses", "ties", "both_bad", "mean_score")
TESTS = ("tests_outcome", "tests_passed", "tests_total", "tests_exit_status", "tests_duration_ms")
# Long text last, so the figures stay in view when a spreadsheet opens the file.
TEXT = ("prompt_text", "prompt_system", "error", "text")
# The fingerprint's own name is the answer's model_name; its id becomes model_id.
FINGERPRINT = tuple(k for k in MODEL_FIELDS if k != "name")
COLUMNS = (ANSWER + ("truncated",) + tuple(PARAMS) + tuple(f"model_{k}" for k in FINGERPRINT) + TALLY + TESTS + TEXT)


def flat(row: dict) -> dict:
    """One answer as a flat dict of the CSV's columns (fingerprint fields as `model_*`, votes summed)."""
    out = {k: row[k] for k in ANSWER}
    out["truncated"] = truncated(row["status"], row["finish_reason"])
    out.update({k: row["prompt_params"].get(k) for k in PARAMS})
    model = row["model"] or {}
    out.update({f"model_{k}": model.get(k) for k in FINGERPRINT})
    out.update(tally(row))
    check = row.get("verification") or {}
    out.update({f"tests_{k}": check.get(k) for k in ("outcome", "passed", "total", "exit_status", "duration_ms")})
    out.update({k: row[k] for k in TEXT})
    return out


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write the header and one row per answer (CRLF line ends, as RFC 4180 and spreadsheets expect)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in answers(db, session_id):
        writer.writerow(flat(row))
        count += 1
    return count

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


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write one battle per line; returns how many."""
    where = ["v.retracted_at IS NULL", "v.outcome IN ('winner', 'tie', 'both_bad')"]
    params: list = []
    if session_id is not None:
        where.append("p.session_id = ?")
        params.append(session_id)
    names = {r[0]: r[1] for r in db.execute("SELECT id, model_name FROM responses").fetchall()}
    sql = ("SELECT v.outcome, v.winner_response_id, v.response_ids, v.blind, v.created_at, p.id, p.tags "
           "FROM votes v JOIN prompts p ON p.id = v.prompt_id WHERE " + " AND ".join(where) + " ORDER BY v.id")
    count = 0
    for outcome, winner, ids, blind, created, prompt_id, tags in db.execute(sql, params).fetchall():
        ids = [i for i in json.loads(ids or "[]") if i in names]
        pairs = []
        if outcome == "winner" and winner in names:
            pairs = [(names[winner], names[i], "model_a") for i in ids if i != winner]
        elif outcome in ("tie", "both_bad"):
            label = "tie" if outcome == "tie" else "tie (bothbad)"
            pairs = [(names[a], names[b], label) for k, a in enumerate(ids) for b in ids[k + 1:]]
        for model_a, model_b, result in pairs:
            if model_a == model_b:
                continue  # the same model in two panes: no information about a ranking
            out.write(json.dumps({"model_a": model_a, "model_b": model_b, "winner": result,
                                  "prompt_id": prompt_id, "tags": json.loads(tags or "[]"),
                                  "blind": bool(blind), "tstamp": created}, ensure_ascii=False) + "\n")
            count += 1
    return count

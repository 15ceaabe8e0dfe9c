"""How long the leaderboard takes: 100,000 votes, 100 bootstrap rounds.

Votes are drawn from known strengths (20 models, 10% ties, 3% both bad). Three
figures, each the median of three runs: the Bradley–Terry fit with its
bootstrap alone; end to end from a log file holding the same votes (open it,
`queries.battles`, fit); and end to end from an arena-format JSONL file
(`read_battles`, fit). Building the files is not timed.
Prints one JSON object and a line of prose. `--quick` runs a small smoke version
(2,000 votes, 20 rounds).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.arena import Battle, leaderboard, read_battles
from workbench.store import open_db
from workbench.store.queries import battles as log_battles

MODELS = 20
OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")


def synthetic(votes: int, seed: int = 0) -> list[Battle]:
    """Pairwise votes between MODELS models whose true ratings are spread like an arena's."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 150, MODELS)
    a = rng.integers(0, MODELS, votes)
    b = (a + rng.integers(1, MODELS, votes)) % MODELS
    p_a = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
    u = rng.random(votes)
    out = np.where(u < 0.10, 2, np.where(u < 0.13, 3, np.where(rng.random(votes) < p_a, 0, 1)))
    return [Battle(f"model-{x:02d}", f"model-{y:02d}", OUTCOMES[o]) for x, y, o in zip(a, b, out)]


def write_log(path: Path, battles: list[Battle]) -> None:
    """A workbench log holding the votes: one prompt with two answers and one vote per battle."""
    db = open_db(path)
    conn = db.conn
    stamp = "2026-01-01T00:00:00.000+00:00"
    with conn:
        conn.execute("INSERT INTO sessions (id, source, started_at) VALUES (1, 'app', ?)", [stamp])
        conn.executemany("INSERT INTO prompts (id, session_id, text, created_at) VALUES (?, 1, 'p', ?)",
                         ((i + 1, stamp) for i in range(len(battles))))
        conn.executemany(
            "INSERT INTO responses (id, prompt_id, model_name, position, status, text) "
            "VALUES (?, ?, ?, ?, 'complete', '')",
            ((2 * i + 1 + side, i + 1, name, side) for i, bt in enumerate(battles)
             for side, name in enumerate((bt.model_a, bt.model_b))))
        rows = []
        for i, bt in enumerate(battles):
            ra, rb = 2 * i + 1, 2 * i + 2
            outcome = {"model_a": "winner", "model_b": "winner", "tie": "tie", "tie (bothbad)": "both_bad"}[bt.winner]
            winner = ra if bt.winner == "model_a" else rb if bt.winner == "model_b" else None
            rows.append((i + 1, stamp, outcome, winner, json.dumps([ra, rb])))
        conn.executemany("INSERT INTO votes (prompt_id, created_at, outcome, winner_response_id, response_ids, blind) "
                         "VALUES (?, ?, ?, ?, ?, 0)", rows)
    conn.close()


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Median wall seconds of `fn()` over `repeat` runs, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    quick = "--quick" in sys.argv
    votes, rounds = (2_000, 20) if quick else (100_000, 100)
    battles = synthetic(votes)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bench.db"
        write_log(log, battles)
        arena_file = Path(tmp) / "battles.jsonl"
        arena_file.write_text("".join(json.dumps(b.__dict__) + "\n" for b in battles), encoding="utf-8")

        fit_s, board = timed(lambda: leaderboard(battles, rounds=rounds))

        def from_log():
            db = open_db(log, migrate=False)
            try:
                return leaderboard(log_battles(db), rounds=rounds)
            finally:
                db.conn.close()

        def query_only():
            db = open_db(log, migrate=False)
            try:
                return log_battles(db)
            finally:
                db.conn.close()

        log_s, from_db = timed(from_log)
        query_s, _ = timed(query_only)
        file_s, from_file = timed(lambda: leaderboard(read_battles(arena_file), rounds=rounds))
    # A log vote is stored winner-first, so its bootstrap draws differ from the file's; the fit must not.
    points = [[(s.model, s.rating, s.wins, s.losses, s.ties) for s in b.standings] for b in (board, from_db, from_file)]
    assert points[0] == points[1] == points[2], "the three paths must agree"
    result = {
        "benchmark": "leaderboard",
        "votes": votes,
        "models": MODELS,
        "bootstrap_rounds": rounds,
        "fit_bootstrap_s": round(fit_s, 3),
        "log_end_to_end_s": round(log_s, 3),
        "log_query_s": round(query_s, 3),
        "arena_file_end_to_end_s": round(file_s, 3),
    }
    print(json.dumps(result))
    print(f"{votes:,} votes, {rounds} bootstrap rounds: fit and intervals in {fit_s:.2f} s; "
          f"from the log end to end in {log_s:.2f} s (of which the query {query_s:.2f} s); "
          f"from an arena JSONL file in {file_s:.2f} s.")


if __name__ == "__main__":
    main()

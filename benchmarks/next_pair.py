"""How fast the pool's pair-drawing rule narrows the leaderboard's intervals, against fewest-votes-first.

Simulated votes: a pool of 10 models with known ratings votes pair after pair (Bradley–Terry outcomes on the
400 × log10 scale, no ties); after every 10 votes the leaderboard is fitted as `workbench leaderboard` does
(100 bootstrap rounds) and the run stops once its widest 95% interval is at most the target. Three ways to
choose the next pair, each on the same seeds:

- information: `workbench.blind.draw_pair` given the votes and who won them (LM Arena's active-sampling
  weight on the Bradley–Terry fit, as its docstring states);
- fewest-votes-first: the rule `draw_pair` had before, a pair with the fewest votes (ties at random). It is
  also what `draw_pair` does when told only how many votes each pair has (all models then look alike), as
  the compare screen tells it today.

Three pools (SCENARIOS): ratings 800 points apart end to end (a 135M model beside much larger ones, target
200 points), 300 apart (models of a size, target 150), and nine close models with one 940 points above them
that wins nearly every vote (target 150). A run that has not reached the target after 3,000 votes counts as
3,001 in the median. Also timed: one `draw_pair` call for a pool of 10 with 400 votes (it runs on the UI
thread). Prints one JSON object and a line of prose. `--quick` runs a small smoke version (5 models, 2 seeds,
targets half as wide again).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from itertools import combinations

import numpy as np

from workbench.arena import Battle, leaderboard
from workbench.blind import draw_pair


def fewest_votes_first(pool: list[str], votes: dict, rng: random.Random) -> list[str]:
    """The rule before: a pair with the fewest votes so far, ties broken at random."""
    pairs = list(combinations(sorted(pool), 2))
    fewest = min(votes.get(p, 0) for p in pairs)
    pair = list(rng.choice([p for p in pairs if votes.get(p, 0) == fewest]))
    rng.shuffle(pair)
    return pair


def votes_to_target(arm: str, true: dict[str, float], target: float, seed: int, every: int, rounds: int,
                    cap: int) -> int | None:
    """Votes until the leaderboard's widest 95% interval is at most `target` points (None: not within `cap`)."""
    pool = sorted(true)
    rng, outcomes = random.Random(seed), np.random.default_rng(seed)
    votes: dict[tuple[str, str], int] = {}
    wins: dict[tuple[str, str], int] = {}
    battles: list[Battle] = []
    for n in range(1, cap + 1):
        if arm == "fewest_votes_first":
            a, b = fewest_votes_first(pool, votes, rng)
        else:
            a, b = draw_pair(pool, votes, rng, wins=wins)
        a_wins = outcomes.random() < 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
        winner, loser = (a, b) if a_wins else (b, a)
        key = tuple(sorted((a, b)))
        votes[key] = votes.get(key, 0) + 1
        wins[winner, loser] = wins.get((winner, loser), 0) + 1
        battles.append(Battle(winner, loser, "model_a"))
        if n % every == 0 and len({m for bt in battles for m in (bt.model_a, bt.model_b)}) == len(pool):
            board = leaderboard(battles, rounds=rounds, min_votes=1, seed=seed)
            if max(s.upper - s.lower for s in board.standings) <= target:
                return n
    return None


def draw_time_ms(size: int, n_votes: int, calls: int) -> dict:
    """Milliseconds per draw_pair call for a pool of `size` with `n_votes` votes and their outcomes."""
    rng = random.Random(7)
    pool = [f"model-{i}" for i in range(size)]
    votes: dict = {}
    wins: dict = {}
    for _ in range(n_votes):
        a, b = sorted(rng.sample(pool, 2))
        votes[a, b] = votes.get((a, b), 0) + 1
        pair = (a, b) if rng.random() < 0.5 + 0.04 * (pool.index(a) - pool.index(b)) else (b, a)
        wins[pair] = wins.get(pair, 0) + 1
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        draw_pair(pool, votes, rng, wins=wins)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median": round(statistics.median(times), 2), "p95": round(times[int(0.95 * (calls - 1))], 2),
            "max": round(times[-1], 2)}


SCENARIOS = (
    ("ratings 800 points apart end to end", lambda k: np.linspace(-400, 400, k), 200.0),
    ("ratings 300 points apart end to end", lambda k: np.linspace(-150, 150, k), 150.0),
    ("one model 940 points above the rest (it wins nearly every vote)",
     lambda k: np.append(np.linspace(0, 160, k - 1), 1100.0), 150.0),
)


def main() -> None:
    quick = "--quick" in sys.argv
    size, seeds, every, rounds, cap = (5, 2, 20, 30, 600) if quick else (10, 10, 10, 100, 3000)
    arms = ("information", "fewest_votes_first")
    scenarios = []
    for name, ratings, target in SCENARIOS:
        target = target * (1.5 if quick else 1.0)
        true = {f"m{i}": float(r) for i, r in enumerate(ratings(size))}
        found = {arm: [votes_to_target(arm, true, target, seed, every, rounds, cap) for seed in range(seeds)]
                 for arm in arms}
        scenarios.append({"pool": name, "ratings": [round(r) for r in true.values()], "target_width": target,
                          "votes_to_target": {arm: {
                              "median": statistics.median(cap + 1 if x is None else x for x in runs),
                              "reached": sum(x is not None for x in runs), "per_seed": runs}
                              for arm, runs in found.items()}})
    timing = draw_time_ms(10, 400, 20 if quick else 300)
    result = {"benchmark": "next_pair", "models": size, "seeds": seeds, "check_every": every,
              "bootstrap_rounds": rounds, "vote_cap": cap, "scenarios": scenarios, "draw_pair_ms_pool_10": timing}
    print(json.dumps(result))
    parts = []
    for s in scenarios:
        v = s["votes_to_target"]
        parts.append(f"{s['pool'].split(' (')[0]}: {_said(v['information'], seeds)} with draw_pair's rule, "
                     f"{_said(v['fewest_votes_first'], seeds)} fewest-votes-first")
    print(f"Median votes until the widest 95% interval is at most the target, {seeds} seeds each: "
          + "; ".join(parts) + f". draw_pair: {timing['median']:.1f} ms for a pool of 10.")


def _said(arm: dict, seeds: int) -> str:
    """'540', or '540 (4 of 6 reached it)' when some runs never did."""
    median = "never" if arm["reached"] * 2 < seeds else f"{arm['median']:g}"
    return median if arm["reached"] == seeds else f"{median} ({arm['reached']} of {seeds} reached it)"


if __name__ == "__main__":
    main()

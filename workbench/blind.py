"""Blind comparisons: shuffled panes, and pairs drawn from a pool where the next vote is worth the most."""

from __future__ import annotations

import math
import random
from itertools import combinations
from typing import Mapping, Sequence

LABELS = "ABCDEF"
PRIOR = 0.1
"""As `workbench.arena.PRIOR` (repeated so drawing a pair needs no numpy): each model is credited with a tenth
of a game won and a tenth lost against a reference player, which keeps the strength of a model that won every vote
finite."""
UNVOTED = 1e6
"""Stands in for 1/√0 − 1/√1: a pair never voted on outranks every other."""
SCALE = 400 / math.log(10)
"""Rating points per unit of natural-log strength (the arena's 400 × log10 scale)."""


def shuffled_order(n: int, rng: random.Random) -> list[int]:
    """A fresh random assignment of n models to n panes."""
    order = list(range(n))
    rng.shuffle(order)
    return order


class Draw(list):
    """The two models drawn (a list, in pane order) and why that pair: `reason` names them ("alpha vs gamma:
    closest ratings (12 points apart), fewest votes between them (3)"), `why` is the same without the names,
    for a blind round."""

    reason: str
    why: str


def draw_pair(pool: Sequence[str], votes: Mapping[tuple[str, str], int], rng: random.Random,
              wins: Mapping[tuple[str, str], float] | None = None) -> Draw:
    """Two models from the pool: the pair whose next vote is worth the most, and why (`Draw.reason`).

    `votes` counts the votes per pair (either order of the names); `wins`, when given, the points each model
    scored against each other one (`wins[(x, y)]`: x's wins over y, a tie counting half). Without `wins` every
    model is taken to be as strong as the others, and the rule is fewest-votes-first.

    The rule is LM Arena's active sampling (Chiang et al., 2024, "Chatbot Arena", §5): a pair (i, j) with
    n votes between them is worth √q·(1/√n − 1/√(n + 1)), how much one more vote shrinks the standard error
    of their win rate, whose variance per vote is q = p(1 − p), p the chance that i beats j. p comes from the
    Bradley–Terry fit of the votes so far (the leaderboard's, with its weak prior), so it draws on votes
    through other models too. A pair never voted on comes first (n = 0); then q favours models of close
    rating, where the outcome is most uncertain, over a lopsided pair whose winner is known in advance (a
    model that won every vote is not pitted against the rest again and again), and the 1/√n terms favour
    pairs with few votes. LM Arena samples pairs in proportion to the weight; the largest is drawn here (ties
    at random), which reached a target interval width in fewer votes in simulation (benchmarks/next_pair.py;
    benchmarks/README.md also gives the other rules tried: an A-optimal one on the fit's covariance did
    better with models of close rating but kept drawing a model that wins every vote, and never got its
    interval down). Cost: one small Newton fit in pure Python, about 1 ms for a pool of 10.
    """
    names = sorted(set(pool))
    if len(names) < 2:
        raise ValueError("a pool needs at least two models")
    n = len(names)
    index = {m: i for i, m in enumerate(names)}
    games = [[0.0] * n for _ in range(n)]
    for (x, y), count in votes.items():
        if x in index and y in index and x != y:
            games[index[x]][index[y]] += count
            games[index[y]][index[x]] += count
    theta = [0.0] * n
    if wins is not None:
        scored = [[0.0] * n for _ in range(n)]
        for (x, y), points in wins.items():
            if x in index and y in index and x != y:
                scored[index[x]][index[y]] += points
        theta = _strengths(games, scored)
    best, gains = -1.0, {}
    for i, j in combinations(range(n), 2):
        p = 1 / (1 + math.exp(theta[j] - theta[i]))
        count = games[i][j]
        shrink = 1 / math.sqrt(count) - 1 / math.sqrt(count + 1) if count else UNVOTED
        gains[i, j] = math.sqrt(p * (1 - p)) * shrink
        best = max(best, gains[i, j])
    top = [pair for pair, gain in gains.items() if gain >= best * (1 - 1e-9)]
    i, j = rng.choice(top)
    why = _why(i, j, names, games, theta, wins is not None, gains)
    drawn = Draw([names[i], names[j]])
    rng.shuffle(drawn)
    drawn.why = why
    drawn.reason = f"{names[i]} vs {names[j]}: {why}"
    return drawn


def pair_points(model_a: str, model_b: str, result: str) -> list[tuple[str, str, float]]:
    """What one battle adds to `draw_pair`'s `wins`, as (x, y, points x scored against y): the winner 1 (`result`
    "model_a" or "model_b", the arena's format), a tie or "both bad" half to each."""
    if result == "model_a":
        return [(model_a, model_b, 1.0)]
    if result == "model_b":
        return [(model_b, model_a, 1.0)]
    return [(model_a, model_b, 0.5), (model_b, model_a, 0.5)]


def _why(i: int, j: int, names: list[str], games: list[list[float]], theta: list[float], rated: bool,
         gains: dict) -> str:
    """What sets the drawn pair apart, in a few words."""
    parts, notable = [], False
    if rated:
        gap = abs(theta[i] - theta[j]) * SCALE
        closest = min(abs(theta[a] - theta[b]) for a, b in gains) * SCALE
        notable = gap <= closest + 0.5
        parts.append(f"closest ratings ({gap:.0f} points apart)" if notable else f"ratings {gap:.0f} points apart")
    count = games[i][j]
    if count == 0:
        parts.append("no votes between them yet")
    elif count <= min(games[a][b] for a, b in gains):
        parts.append(f"fewest votes between them ({count:g})")
    else:
        parts.append(f"{count:g} votes between them")
        if not notable:
            parts.append("the most to learn from one vote")
    return ", ".join(parts)


def _information(games: list[list[float]], theta: list[float], prior: float = PRIOR) -> list[list[float]]:
    """The Fisher information of the strengths (minus the log-posterior's Hessian) at `theta`."""
    n = len(theta)
    info = [[0.0] * n for _ in range(n)]
    for i in range(n):
        tail = math.exp(-abs(theta[i]))
        info[i][i] = 2 * prior * tail / (1 + tail) ** 2  # 2·prior·s(1 − s), never rounded to 0
        for j in range(i + 1, n):
            if games[i][j]:
                p = 1 / (1 + math.exp(theta[j] - theta[i]))
                w = games[i][j] * p * (1 - p)
                info[i][i] += w
                info[i][j] -= w
                info[j][i] -= w
        for j in range(i):
            info[i][i] -= info[i][j]
    return info


def _strengths(games: list[list[float]], scored: list[list[float]], prior: float = PRIOR,
               iters: int = 30, tol: float = 1e-6) -> list[float]:
    """Bradley–Terry strengths (natural log) maximising likelihood × the prior, by capped Newton steps."""
    n = len(games)
    theta = [0.0] * n
    for _ in range(iters):
        grad = []
        for i in range(n):
            g = prior * (1 - 2 / (1 + math.exp(-theta[i])))
            for j in range(n):
                if games[i][j]:
                    g += scored[i][j] - games[i][j] / (1 + math.exp(theta[j] - theta[i]))
            grad.append(g)
        step = _solve(_information(games, theta, prior), grad)
        largest = max(abs(s) for s in step)
        size = min(1.0, 4.0 / largest) if largest else 1.0  # capped, as the leaderboard's fit
        before = _log_posterior(games, scored, theta, prior)
        while True:  # halve until the step gains (the log-posterior is concave: a few halvings at most)
            trial = [t + size * s for t, s in zip(theta, step)]
            if _log_posterior(games, scored, trial, prior) >= before or size < 1e-6:
                break
            size /= 2
        theta = trial
        if largest * size < tol:
            break
    return theta


def _log_posterior(games: list[list[float]], scored: list[list[float]], theta: list[float], prior: float) -> float:
    """Log-likelihood of the votes plus the prior's, at `theta` (up to a constant)."""
    total = 0.0
    for i, t in enumerate(theta):
        total += prior * (t - 2 * _softplus(t))
        for j, u in enumerate(theta):
            if scored[i][j]:
                total -= scored[i][j] * _softplus(u - t)  # log P(i beats j) = −log(1 + e^(u − t))
    return total


def _softplus(x: float) -> float:
    """log(1 + e^x), without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """x with matrix · x = rhs (Gaussian elimination with partial pivoting)."""
    n = len(rhs)
    a = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        lead = a[col][col]
        for r in range(col + 1, n):
            f = a[r][col] / lead
            if f:
                row, top = a[r], a[col]
                for c in range(col, n + 1):
                    row[c] -= f * top[c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def outcome_text(outcome: str | None, winner_label: str | None) -> str:
    """How a vote reads in a notice: 'A wins', 'tie', 'both bad'."""
    if outcome == "winner" and winner_label:
        return f"{winner_label} wins"
    return {"tie": "tie", "both_bad": "both bad"}.get(outcome or "", "no vote")

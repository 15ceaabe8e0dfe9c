"""Votes → Bradley–Terry ratings on the arena (Elo-like) scale, with bootstrap intervals.

A rating difference of d means odds of 10^(d/400) that the higher-rated model
wins. Ties count as half a win for each side, and "both bad" counts as a tie.
The fit is the maximum-likelihood Bradley–Terry model, found with Newton's
method, with a weak prior (a fraction of a game won and lost against a
reference of average strength) so a model that won or lost every vote still
gets a finite rating. Intervals come from resampling the votes with
replacement; a model's rank is 1 + the number of models whose lower bound is
above its upper bound.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
MAX_BATTLES_BYTES = 512 << 20
"""The public arena battle dumps are a few hundred MiB (about 100 bytes a vote, millions of votes);
512 MiB takes any of them yet refuses a runaway file before memory runs out (parsed, it is ~10x that)."""


@dataclass(frozen=True)
class Battle:
    """One pairwise vote, in the public arena format."""

    model_a: str
    model_b: str
    winner: str  # one of WINNERS


@dataclass
class Standing:
    """One model's place on the leaderboard."""

    model: str
    rating: float
    lower: float
    upper: float
    rank: int
    votes: int
    wins: int
    losses: int
    ties: int

    @property
    def win_rate(self) -> float:
        """Share of votes won, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.votes if self.votes else 0.0

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return {**asdict(self), "win_rate": round(self.win_rate, 4)}


@dataclass
class Leaderboard:
    """Ratings with intervals, and the pairwise win-rate matrix."""

    standings: list[Standing]
    matrix: dict[str, dict[str, float | None]] = field(default_factory=dict)
    battles: int = 0
    rounds: int = 0

    def as_dict(self) -> dict:
        """Plain dict for `--json`."""
        return {"battles": self.battles, "bootstrap_rounds": self.rounds,
                "standings": [s.as_dict() for s in self.standings], "win_rate_matrix": self.matrix}


class BattleError(Exception):
    """A battles file that cannot be read; the message names the file and the line."""


def read_battles(path: Path | str) -> list[Battle]:
    """Battles from a JSON list or JSONL file with `model_a`, `model_b`, `winner`."""
    from workbench.inputs import InputFileError, read_text

    path = Path(path)
    try:
        text = read_text(path, MAX_BATTLES_BYTES, encoding="utf-8-sig")  # -sig: a byte-order mark is no JSON error
    except InputFileError as exc:  # a FIFO or a device would block or never end: only regular files
        raise BattleError(str(exc)) from None
    items: list[tuple[str, object]] = []
    if text.lstrip().startswith("["):
        items = _list_items(path, text)
    else:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise BattleError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
    return [_battle(where, obj) for where, obj in items]


def _list_items(path: Path, text: str) -> list[tuple[str, object]]:
    """The items of a JSON list, each with the line it starts on, so errors can name the line."""
    decoder = json.JSONDecoder()
    items: list[tuple[str, object]] = []
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def line_of(i: int) -> int:
        return text.count("\n", 0, i) + 1

    i = skip(text.index("[") + 1)
    line, mark = line_of(i), i
    if i < n and text[i] == "]":
        i += 1
    else:
        while True:
            i = skip(i)
            line, mark = line + text.count("\n", mark, i), i
            try:
                obj, i = decoder.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                raise BattleError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
            items.append((f"{path}:{line} (item {len(items) + 1})", obj))
            i = skip(i)
            if i < n and text[i] == ",":
                i += 1
            elif i < n and text[i] == "]":
                i += 1
                break
            else:
                raise BattleError(f"{path}:{line_of(i)}: not valid JSON: expected ',' or ']' after an item")
    i = skip(i)
    if i < n:
        raise BattleError(f"{path}:{line_of(i)}: not valid JSON: extra data after the list")
    return items


def _battle(where: str, obj: object) -> Battle:
    if not isinstance(obj, dict):
        raise BattleError(f"{where}: expected an object with model_a, model_b and winner")
    for key in ("model_a", "model_b", "winner"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise BattleError(f"{where}: missing or empty '{key}'")
    if obj["winner"] not in WINNERS:
        raise BattleError(f"{where}: unknown winner {obj['winner']!r} (expected one of: {', '.join(WINNERS)})")
    if obj["model_a"] == obj["model_b"]:
        raise BattleError(f"{where}: model {obj['model_a']!r} is paired with itself")
    return Battle(obj["model_a"], obj["model_b"], obj["winner"])


def _counts(models: Sequence[str], battles: Iterable[Battle]) -> tuple[np.ndarray, np.ndarray]:
    """Votes grouped by (a, b, outcome): returns the categories (k×3 ints) and their counts."""
    index = {m: i for i, m in enumerate(models)}
    outcome = {"model_a": 0, "model_b": 1, "tie": 2, "tie (bothbad)": 2}
    codes = np.fromiter(
        ((index[b.model_a] * len(models) + index[b.model_b]) * 3 + outcome[b.winner] for b in battles),
        dtype=np.int64,
    )
    cats, counts = np.unique(codes, return_counts=True)
    pair, out = np.divmod(cats, 3)
    a, b = np.divmod(pair, len(models))
    return np.stack([a, b, out], axis=1), counts.astype(float)


def _matrices(n: int, cats: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W[i, j]: wins of i over j (ties half each); G[i, j]: games between i and j."""
    a, b, out = cats[:, 0], cats[:, 1], cats[:, 2]
    score_a = np.where(out == 0, 1.0, np.where(out == 1, 0.0, 0.5)) * counts
    wins = np.zeros((n, n))
    np.add.at(wins, (a, b), score_a)
    np.add.at(wins, (b, a), counts - score_a)
    games = np.zeros((n, n))
    np.add.at(games, (a, b), counts)
    np.add.at(games, (b, a), counts)
    return wins, games


def _fit(wins: np.ndarray, games: np.ndarray, prior: float, iters: int = 100, tol: float = 1e-10,
         start: np.ndarray | None = None) -> np.ndarray:
    """Bradley–Terry strengths maximising likelihood × prior, by Newton's method; log10 strengths, mean zero.

    The prior is `prior` of a game won and as much lost by each model against a reference of strength 1.
    Newton's method, not Hunter's MM iterations: MM needs many thousands of steps when models meet only
    their neighbours (an arena pairing similar models), and stopped short at its cap (16 points off on
    a 100-model arena).
    """
    theta = np.zeros(wins.shape[0]) if start is None else start * np.log(10)  # natural-log strengths
    score = wins.sum(axis=1)

    def objective(th: np.ndarray) -> float:
        log_p = -np.logaddexp(0.0, th[None, :] - th[:, None])  # log P(i beats j)
        return float((wins * log_p).sum() + prior * (th - 2 * np.logaddexp(0.0, th)).sum())

    value = objective(theta)
    for _ in range(iters):
        p = 0.5 * (1 + np.tanh((theta[:, None] - theta[None, :]) / 2))  # P(i beats j), without overflow
        sig = 0.5 * (1 + np.tanh(theta / 2))  # P(i beats the reference)
        grad = score - (games * p).sum(axis=1) + prior * (1 - 2 * sig)
        weight = games * p * p.T
        curvature = np.diag(weight.sum(axis=1) + 2 * prior * sig * (1 - sig)) - weight  # minus the Hessian
        if prior > 0:
            step = np.linalg.solve(curvature, grad)
        else:  # only ratios are identified: the least-norm step keeps the mean where it is
            step = np.linalg.lstsq(curvature, grad, rcond=None)[0]
        size, slope = 1.0, float(grad @ step)
        while True:  # backtrack until the step gains enough (Armijo)
            trial = theta + size * step
            trial_value = objective(trial)
            if trial_value >= value + 1e-4 * size * slope or size < 1e-8:
                break
            size /= 2
        theta, value = trial, trial_value
        if np.max(np.abs(size * step)) < tol:
            break
    logs = theta / np.log(10)
    return logs - logs.mean()


def leaderboard(battles: Sequence[Battle], rounds: int = 100, anchor: float = 1000.0,
                anchor_model: str | None = None, prior: float = 0.1, seed: int = 0) -> Leaderboard:
    """Fit ratings and bootstrap intervals; raises ValueError when there are no votes."""
    if not battles:
        raise ValueError("no votes to rank")
    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    if anchor_model is not None and anchor_model not in models:
        raise ValueError(f"anchor model {anchor_model!r} has no votes")
    n = len(models)
    cats, counts = _counts(models, battles)
    wins, games = _matrices(n, cats, counts)
    point = _fit(wins, games, prior)
    rating = 400 * point
    samples = np.empty((rounds, n))
    if rounds:
        rng = np.random.default_rng(seed)
        probs = counts / counts.sum()
        for r in range(rounds):
            resampled = rng.multinomial(int(counts.sum()), probs).astype(float)
            keep = resampled > 0
            w, g = _matrices(n, cats[keep], resampled[keep])
            samples[r] = 400 * _fit(w, g, prior, start=point)
    shift = anchor - (rating[models.index(anchor_model)] if anchor_model in models else 0.0)
    rating = rating + shift
    if rounds:
        # Each resample is pinned the same way as the point estimate before taking quantiles.
        pin = samples[:, models.index(anchor_model)][:, None] if anchor_model in models else 0.0
        samples = samples - pin + (anchor if anchor_model in models else shift)
        lower, upper = np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)
    else:
        lower = upper = rating
    standings = []
    decisive = np.zeros((n, 3), dtype=int)  # wins, losses, ties per model
    for (a, b, out), c in zip(cats, counts.astype(int)):
        if out == 0:
            decisive[a, 0] += c
            decisive[b, 1] += c
        elif out == 1:
            decisive[b, 0] += c
            decisive[a, 1] += c
        else:
            decisive[a, 2] += c
            decisive[b, 2] += c
    for i, model in enumerate(models):
        rank = 1 + int(np.sum(lower > upper[i]))
        w, l, t = (int(x) for x in decisive[i])
        standings.append(Standing(model, round(float(rating[i]), 1), round(float(lower[i]), 1),
                                  round(float(upper[i]), 1), rank, w + l + t, w, l, t))
    standings.sort(key=lambda s: (-s.rating, s.model))
    matrix = {
        models[i]: {models[j]: (round(float(wins[i, j] / games[i, j]), 4) if games[i, j] else None)
                    for j in range(n) if j != i}
        for i in range(n)
    }
    return Leaderboard(standings, matrix, int(counts.sum()), rounds)

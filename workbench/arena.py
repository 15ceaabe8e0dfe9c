"""Votes → Bradley–Terry ratings on the arena (Elo-like) scale, with bootstrap intervals.

The computation is LM Arena's (FastChat's `compute_elo_mle_with_tie`): the Bradley–Terry model on
the 400·log10 scale, so a rating difference of d means odds of 10^(d/400) that the higher-rated
model wins; ties (and "both bad") count as half a win for each side; 95% intervals are the
2.5th and 97.5th percentiles of fits to votes resampled with replacement; a model's rank is 1 + the
number of models whose lower bound is above its upper bound. Two differences: the ratings' mean is
pinned at the anchor (1000) unless a model is named as the anchor (LM Arena pins one of its models),
and the fit is the maximum of likelihood × a weak prior (PRIOR: each model is credited with 0.1 of a
game won and 0.1 lost against an imaginary reference player of about average rating). On a
connected set of votes where every model both scored against and conceded to the rest, the prior
pulls ratings toward the middle by a few points at 20 votes a model and by under one from about 100;
without it a model that won or lost every vote has no finite maximum (LM Arena's optimiser stops
wherever its 100 steps end). The fit uses Newton's method.

What the votes cannot tell is reported, not hidden (`Leaderboard.warnings`): a model with fewer than
`min_votes` votes is not ranked; models that never met, directly or through others, fall into
separate groups, each ranked on its own; and a model that won (or lost) every battle against the rest
of its group has its rating set by the prior, not measured.

Style control (`leaderboard(..., style_control=True)`) is LM Arena's too: answer length and markdown
(headers, list items, bold) enter the fit as covariates, so the ratings are what is left once those are
held equal (`_fit_style`). `fresh_battles` keeps the votes on prompts newer than every rated model's cutoff.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
MAX_BATTLES_BYTES = 512 << 20
"""The public arena battle dumps are a few hundred MiB (about 100 bytes a vote, millions of votes);
512 MiB takes any of them yet refuses a runaway file before memory runs out (parsed, it is ~10x that)."""
SCALE = 400
"""Rating points per factor of 10 in the odds of winning (LM Arena's, and chess Elo's, scale)."""
PRIOR = 0.1
"""Games credited to each model, won and as many lost, against a reference player of strength 1 (before the
ratings are shifted to the anchor): a tenth of a game keeps a clean sweep finite yet weighs next to nothing
once a model has tens of votes."""
MAX_STEP = 4.0
"""Largest change of a strength in one Newton step, in natural-log units (about 700 rating points). A model left
without votes (a bootstrap round that drew none of its few) is held by the prior alone, whose curvature far from
the middle is tiny: its full Newton step overshot by hundreds of units, to where its curvature rounded to zero
and the solve failed. Capped steps walk it back in a few iterations and leave the optimum as it was."""
DEFAULT_MIN_VOTES = 10
"""Votes (pairwise battles) a model needs before it is ranked. Why 10: with fewer, the bootstrap has too few
distinct resamples to give an honest interval (one vote has exactly one, hence the zero-width '+0/+0' that
looked certain), and a clean sweep by pure chance is common (between two equal models, 1 in 8 at 4 votes,
1 in 512 at 10), which the prior rather than the votes would then rate. At 10 a win rate's standard error is
still about ±16 points, so the intervals stay wide, as they should, but they are intervals. A personal log
reaches it in one sitting; `--min-votes` sets it lower to peek, or higher for a stricter board."""


STYLE_FEATURES = ("length", "headers", "lists", "bold")
"""The answers' style that style control holds equal, as LM Arena's (its `STYLE_CONTROL_ELEMENTS_V1`)."""
STYLE_LABELS = {"length": "length (tokens)", "headers": "headers", "lists": "list items", "bold": "bold spans"}
STYLE_RIDGE = 0.5
"""Weight of the Gaussian prior (ridge) on the style coefficients: a penalty of STYLE_RIDGE/2 × coefficient²,
the one LM Arena's `fit_contextual_bt` puts on every parameter (reg 0.5). Its pull is a fraction of a vote's
worth: it keeps a coefficient finite when a style difference always won, and nothing more."""
CONV_METADATA_KEYS = ("sum_assistant_a_tokens", "header_count_a", "list_count_a", "bold_count_a",
                      "sum_assistant_b_tokens", "header_count_b", "list_count_b", "bold_count_b")
"""What an arena battle's `conv_metadata` must hold for style control (a count, or a mapping of counts to sum,
as in the public dumps: header_count_a = {"h1": 0, "h2": 3, ...})."""


class Style(NamedTuple):
    """One answer's style, as LM Arena's style control counts it."""

    tokens: int
    """Length. In the log: words and punctuation marks (`\\w+` runs and single other characters), one count
    for every model, as LM Arena counts every model's answer with one tokenizer (tiktoken's)."""
    headers: int
    """Markdown headings: lines starting with 1 to 6 '#' and a space (outside fenced code)."""
    lists: int
    """List items: lines starting with '-', '*', '+' or a number and '.', then a space (outside fenced code)."""
    bold: int
    """Bold spans: **text** or __text__ within a line (outside fenced code)."""


_FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:\n {0,3}\1[`~]*[ \t]*(?=\n|\Z)|\Z)", re.M | re.S)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_HEADER = re.compile(r"^#{1,6}[ \t]", re.M)
_LIST_ITEM = re.compile(r"^[ \t]*(?:\d+\.|[-*+])[ \t]", re.M)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def style_of(text: str | None) -> Style:
    """An answer's length and markdown counts; headings, lists and bold in fenced code do not count."""
    text = text or ""
    prose = _FENCED.sub("", text)
    return Style(len(_TOKEN.findall(text)), len(_HEADER.findall(prose)), len(_LIST_ITEM.findall(prose)),
                 len(_BOLD.findall(prose)))


@dataclass(frozen=True)
class Battle:
    """One pairwise vote, in the public arena format."""

    model_a: str
    model_b: str
    winner: str  # one of WINNERS
    style_a: Style | None = None
    """Model A's answer's style (style control needs both); None when unknown."""
    style_b: Style | None = None
    created: dt.date | None = None
    """When the prompt was written (`--fresh` needs it); None when unknown."""


@dataclass
class Controlled:
    """A model's rating with the answers' length and markdown held equal (LM Arena's style control)."""

    rating: float
    lower: float
    upper: float
    rank: int | None
    """As the plain rank, from the style-controlled intervals."""


@dataclass
class Standing:
    """One model's place on the leaderboard."""

    model: str
    rating: float
    lower: float
    upper: float
    rank: int | None
    """1 + the ranked models of its group whose interval lies wholly above its own; None when not ranked."""
    votes: int
    wins: int
    losses: int
    ties: int
    group: int = 1
    """The group of models it met, directly or through others (1: the group with the most votes)."""
    ranked: bool = True
    """False with fewer votes than the leaderboard's `min_votes`."""
    set_by_prior: str | None = None
    """'won_all' ('lost_all') when it won (lost) every battle against the rest of its group, alone or with the
    models it ever lost to (beat): the gap is then set by the prior, not measured."""
    controlled: Controlled | None = None
    """Its place once the answers' style is controlled for (with `style_control` only)."""

    @property
    def win_rate(self) -> float:
        """Share of votes won, a tie counting half."""
        return (self.wins + 0.5 * self.ties) / self.votes if self.votes else 0.0

    def as_dict(self) -> dict:
        """Plain dict for JSON (`controlled` only when style was controlled for)."""
        out = {**asdict(self), "win_rate": round(self.win_rate, 4)}
        if out["controlled"] is None:
            del out["controlled"]
        return out


@dataclass
class Leaderboard:
    """Ratings with intervals, and the pairwise win-rate matrix."""

    standings: list[Standing]
    matrix: dict[str, dict[str, float | None]] = field(default_factory=dict)
    battles: int = 0
    rounds: int = 0
    groups: list[list[str]] = field(default_factory=list)
    """Models that met, directly or through others; a rating compares only with those of its own group."""
    min_votes: int = 0
    warnings: list[dict] = field(default_factory=list)
    """What the votes cannot tell, each {"kind", "message", "models"}; kinds: too_few_votes (no model is
    ranked), unranked (some are not), groups (also has "groups"), won_all, lost_all."""
    anchor: float = 1000.0
    anchor_model: str | None = None
    prior: float = PRIOR
    style: dict | None = None
    """With `style_control`: {"coefficients": [{"feature", "label", "coef", "lower", "upper", "points"}, ...],
    "covariate", "ridge"}. coef is the change in the log-odds of winning per typical size (root mean square) of
    the feature's normalised difference (None when the feature never differed), lower and upper its 95% bootstrap
    interval, points the same change on the rating scale."""

    @property
    def ranked(self) -> bool:
        """Whether any model has the votes to be ranked."""
        return any(s.ranked for s in self.standings)

    def as_dict(self) -> dict:
        """Plain dict for `--json` (`style_control` only when style was controlled for)."""
        out = {"battles": self.battles, "bootstrap_rounds": self.rounds,
               "standings": [s.as_dict() for s in self.standings], "win_rate_matrix": self.matrix,
               "min_votes": self.min_votes, "groups": self.groups, "warnings": self.warnings,
               "fit": {"model": "Bradley-Terry", "scale": SCALE, "anchor": self.anchor,
                       "anchor_model": self.anchor_model, "prior": self.prior, "ties": "half a win each"}}
        if self.style is not None:
            out["style_control"] = self.style
        return out


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
    style_a = style_b = None
    meta = obj.get("conv_metadata")
    if isinstance(meta, dict) and all(key in meta for key in CONV_METADATA_KEYS):
        counts = [_count(where, key, meta[key]) for key in CONV_METADATA_KEYS]
        style_a, style_b = Style(*counts[:4]), Style(*counts[4:])
    return Battle(obj["model_a"], obj["model_b"], obj["winner"], style_a, style_b)


def _count(where: str, key: str, value: object) -> int:
    """A conv_metadata count: a whole number, or a mapping of them (summed, as LM Arena does)."""
    parts = list(value.values()) if isinstance(value, dict) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in parts):
        raise BattleError(f"{where}: conv_metadata.{key} must be a count or a mapping of counts, not {value!r}")
    return sum(parts)


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
        tail = np.exp(-np.abs(theta))
        spread = tail / (1 + tail) ** 2  # sig·(1 − sig), which that product rounds to 0 once |theta| > 37
        curvature = np.diag(weight.sum(axis=1) + 2 * prior * spread) - weight  # minus the Hessian
        if prior > 0:
            step = np.linalg.solve(curvature, grad)
        else:  # only ratios are identified: the least-norm step keeps the mean where it is
            step = np.linalg.lstsq(curvature, grad, rcond=None)[0]
        step *= min(1.0, MAX_STEP / max(float(np.max(np.abs(step))), 1e-300))
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


def _style_design(models: Sequence[str], battles: Sequence[Battle]) -> tuple[np.ndarray, ...]:
    """Per battle: model indices a and b, A's score y (1, 0, or 0.5 for a tie), and the style covariates.

    The covariates are LM Arena's: for each style feature, the normalised difference between the two answers,
    (a − b) / (a + b + 1), scaled to unit size over the battles. LM Arena standardises (minus the mean, over
    the standard deviation); its sides A and B are assigned at random, so the mean is about zero and the two
    agree. The log lists each vote's winner as A: there the mean is not zero, and subtracting it would turn a
    preference for longer answers into a bonus for side A. So the scale here is the root mean square, which
    keeps the covariate antisymmetric (swapping A and B negates it) and the fit the same whichever side an
    answer is on. A feature that never differs between two answers is left out (`kept` False).
    """
    index = {m: i for i, m in enumerate(models)}
    a = np.fromiter((index[b.model_a] for b in battles), dtype=np.int64, count=len(battles))
    b = np.fromiter((index[x.model_b] for x in battles), dtype=np.int64, count=len(battles))
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
    y = np.fromiter((score[x.winner] for x in battles), dtype=float, count=len(battles))
    sa = np.array([x.style_a for x in battles], dtype=float).reshape(len(battles), len(STYLE_FEATURES))
    sb = np.array([x.style_b for x in battles], dtype=float).reshape(len(battles), len(STYLE_FEATURES))
    diff = (sa - sb) / (sa + sb + 1)
    size = np.sqrt((diff ** 2).mean(axis=0))
    kept = size > 1e-12
    return a, b, y, diff[:, kept] / size[kept], kept


def _fit_style(n: int, a: np.ndarray, b: np.ndarray, y: np.ndarray, z: np.ndarray, weight: np.ndarray,
               prior: float, ridge: float = STYLE_RIDGE, iters: int = 100, tol: float = 1e-10,
               start: np.ndarray | None = None) -> np.ndarray:
    """Bradley–Terry with style covariates: P(A beats B) = σ(θ_A − θ_B + β·z); maximises likelihood × the same
    prior on θ as `_fit` × a ridge on β, by Newton's method. Returns θ in log10 units with mean zero, then β
    (natural-log odds per unit of each covariate, a typical difference)."""
    k = z.shape[1]
    x = np.zeros(n + k) if start is None else start.copy()
    if start is not None:
        x[:n] *= np.log(10)

    def objective(v: np.ndarray) -> float:
        eta = v[a] - v[b] + z @ v[n:]
        ll = -(weight * (np.logaddexp(0.0, eta) - y * eta)).sum()  # Σ w·(y log σ(η) + (1 − y) log σ(−η))
        th = v[:n]
        return float(ll + prior * (th - 2 * np.logaddexp(0.0, th)).sum() - 0.5 * ridge * (v[n:] @ v[n:]))

    value = objective(x)
    for _ in range(iters):
        th, beta = x[:n], x[n:]
        eta = th[a] - th[b] + z @ beta
        mu = 0.5 * (1 + np.tanh(eta / 2))
        tail = np.exp(-np.abs(eta))
        s = weight * tail / (1 + tail) ** 2  # weight · mu · (1 − mu)
        r = weight * (y - mu)
        sig = 0.5 * (1 + np.tanh(th / 2))
        t_tail = np.exp(-np.abs(th))
        grad = np.empty(n + k)
        grad[:n] = np.bincount(a, r, n) - np.bincount(b, r, n) + prior * (1 - 2 * sig)
        grad[n:] = z.T @ r - ridge * beta
        hess = np.zeros((n + k, n + k))  # minus the Hessian
        pair = np.bincount(a * n + b, s, n * n).reshape(n, n)
        hess[:n, :n] = np.diag(np.bincount(a, s, n) + np.bincount(b, s, n) + 2 * prior * t_tail / (1 + t_tail) ** 2)
        hess[:n, :n] -= pair + pair.T
        sz = s[:, None] * z
        for j in range(k):
            hess[:n, n + j] = hess[n + j, :n] = np.bincount(a, sz[:, j], n) - np.bincount(b, sz[:, j], n)
        hess[n:, n:] = z.T @ sz + ridge * np.eye(k)
        if prior > 0:
            step = np.linalg.solve(hess, grad)
        else:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        step *= min(1.0, MAX_STEP / max(float(np.max(np.abs(step))), 1e-300))
        size, slope = 1.0, float(grad @ step)
        while True:
            trial = x + size * step
            trial_value = objective(trial)
            if trial_value >= value + 1e-4 * size * slope or size < 1e-8:
                break
            size /= 2
        x, value = trial, trial_value
        if np.max(np.abs(size * step)) < tol:
            break
    logs = x[:n] / np.log(10)
    return np.concatenate([logs - logs.mean(), x[n:]])


def _pinned(rating: np.ndarray, samples: np.ndarray, rounds: int, models: list[str], anchor: float,
            anchor_model: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratings (mean zero) and their bootstrap samples moved to the anchor, and the 95% percentile bounds."""
    pinned = anchor_model in models
    shift = anchor - (rating[models.index(anchor_model)] if pinned else 0.0)
    rating = rating + shift
    if not rounds:
        return rating, rating, rating
    # Each resample is pinned the same way as the point estimate before taking quantiles.
    pin = samples[:, models.index(anchor_model)][:, None] if pinned else 0.0
    samples = samples - pin + (anchor if pinned else shift)
    return rating, np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)


def _style_control(models: list[str], battles: Sequence[Battle], prior: float, rounds: int, seed: int,
                   anchor: float, anchor_model: str | None) -> tuple[tuple[np.ndarray, ...], dict]:
    """The style-controlled ratings with their bounds, and the coefficients (see `Leaderboard.style`).

    The bootstrap resamples the battles with replacement, as for the plain ratings (a multinomial count per
    battle); the covariates keep the scale of the full set, as LM Arena's keep its standardisation.
    """
    n = len(models)
    a, b, y, z, kept = _style_design(models, battles)
    ones = np.ones(len(battles))
    point = _fit_style(n, a, b, y, z, ones, prior)
    samples = np.empty((rounds, n + z.shape[1]))
    if rounds:
        rng = np.random.default_rng(seed)
        for r in range(rounds):
            weight = rng.multinomial(len(battles), ones / len(battles)).astype(float)
            samples[r] = _fit_style(n, a, b, y, z, weight, prior, tol=1e-6, start=point)  # 1e-6: 0.0002 points
    bounds = _pinned(400 * point[:n], 400 * samples[:, :n], rounds, models, anchor, anchor_model)
    coefficients, j = [], 0
    for feature, used in zip(STYLE_FEATURES, kept):
        row: dict = {"feature": feature, "label": STYLE_LABELS[feature], "coef": None, "lower": None,
                     "upper": None, "points": None}
        if used:
            coef = float(point[n + j])
            lo, hi = (np.percentile(samples[:, n + j], [2.5, 97.5]) if rounds else (coef, coef))
            row.update(coef=round(coef, 4), lower=round(float(lo), 4), upper=round(float(hi), 4),
                       points=round(float(coef * SCALE / np.log(10)), 1))
            j += 1
        coefficients.append(row)
    style = {"coefficients": coefficients, "ridge": STYLE_RIDGE,
             "covariate": "(a - b) / (a + b + 1) between the two answers, over its root mean square in the votes"}
    return bounds, style


def _components(adjacent: np.ndarray) -> list[int]:
    """The strongly connected component of each node of the directed graph `adjacent[i, j]` (Kosaraju's
    two passes, without recursion); for a symmetric graph, its connected components."""
    n = adjacent.shape[0]
    out = [np.flatnonzero(adjacent[i]).tolist() for i in range(n)]
    into = [np.flatnonzero(adjacent[:, i]).tolist() for i in range(n)]
    seen, finished = [False] * n, []
    for start in range(n):
        if seen[start]:
            continue
        seen[start] = True
        stack = [(start, iter(out[start]))]
        while stack:
            node, rest = stack[-1]
            for nxt in rest:
                if not seen[nxt]:
                    seen[nxt] = True
                    stack.append((nxt, iter(out[nxt])))
                    break
            else:
                stack.pop()
                finished.append(node)
    label = [-1] * n
    count = 0
    for start in reversed(finished):
        if label[start] >= 0:
            continue
        label[start], stack = count, [start]
        while stack:
            for prev in into[stack.pop()]:
                if label[prev] < 0:
                    label[prev] = count
                    stack.append(prev)
        count += 1
    return label


def _names(models: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return models[0] if len(models) == 1 else f"{', '.join(models[:-1])} and {models[-1]}"


def _what_is_unknown(models: list[str], wins: np.ndarray, games: np.ndarray, votes: np.ndarray,
                     min_votes: int) -> tuple[list[int], list[str | None], list[dict]]:
    """Per model its group and whether its rating is set by the prior; and the warnings, in reading order.

    Groups are the connected components of "played each other". Within a group, the gaps between the
    strongly connected components of "scored against" (won or tied) are not measured: the top component
    never conceded a point to the rest (the likelihood keeps rising as it moves up), the bottom one never
    scored one, and only the prior holds them.
    """
    n = len(models)
    group_of = _components(games > 0)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group_of):
        members.setdefault(g, []).append(i)
    # Group 1 has the most votes; ties by name, so the numbering does not depend on the input order.
    order = sorted(members.values(), key=lambda ms: (-games[np.ix_(ms, ms)].sum(), models[ms[0]]))
    group = [0] * n
    for number, ms in enumerate(order, 1):
        for i in ms:
            group[i] = number
    ranked = votes >= min_votes
    warnings: list[dict] = []
    if not ranked.any():
        counts = sorted(range(n), key=lambda i: (-votes[i], models[i]))
        shown = ", ".join(f"{models[i]} {votes[i]}" for i in counts[:6]) + (", …" if n > 6 else "")
        total = int(games.sum() // 2)
        warnings.append({"kind": "too_few_votes", "models": [models[i] for i in counts],
                         "message": f"Too few votes to rank: {total} pairwise vote{'s' * (total != 1)} so far, "
                                    f"and a model needs {min_votes} to be ranked ({shown})."})
    elif not ranked.all():
        left = sorted((i for i in range(n) if not ranked[i]), key=lambda i: (-votes[i], models[i]))
        warnings.append({"kind": "unranked", "models": [models[i] for i in left],
                         "message": f"Not ranked yet, with fewer than {min_votes} votes: "
                                    + ", ".join(f"{models[i]} ({votes[i]})" for i in left) + "."})
    if len(order) > 1:
        warnings.append({"kind": "groups", "models": sorted(models),
                         "message": f"The models fall into {len(order)} groups that never met, directly or "
                                    "through others: ratings compare only within a group, and each group is "
                                    "ranked on its own."})
    strong = np.array(_components(wins > 0))
    prior_set: list[str | None] = [None] * n
    for ms in order:
        if len(set(strong[ms])) == 1:
            continue  # every gap in the group is measured
        for part in sorted(set(strong[ms]), key=lambda c: models[int(np.flatnonzero(strong == c)[0])]):
            inside = strong == part
            rest = np.zeros(n, dtype=bool)
            rest[ms] = True
            rest &= ~inside
            for kind, conceded in (("won_all", wins[np.ix_(rest, inside)]), ("lost_all", wins[np.ix_(inside, rest)])):
                if conceded.any():
                    continue
                who = [models[i] for i in np.flatnonzero(inside)]
                for i in np.flatnonzero(inside):
                    prior_set[i] = kind
                if not ranked[inside].any():
                    continue  # shown without a rating anyway
                verb = "won" if kind == "won_all" else "lost"
                if len(who) == 1:
                    message = f"{who[0]} {verb} every battle: its rating is set by the prior, not measured."
                else:
                    message = (f"{_names(who)} {verb} every battle against the other models: how far "
                               f"{'above' if verb == 'won' else 'below'} them they are is set by the prior, "
                               "not measured.")
                warnings.append({"kind": kind, "models": who, "message": message})
    return group, prior_set, warnings


def leaderboard(battles: Sequence[Battle], rounds: int = 100, anchor: float = 1000.0,
                anchor_model: str | None = None, prior: float = PRIOR, seed: int = 0,
                min_votes: int = DEFAULT_MIN_VOTES, style_control: bool = False) -> Leaderboard:
    """Fit ratings and bootstrap intervals; raises ValueError when there are no votes.

    A model with fewer than `min_votes` votes is fitted (its votes inform the others) but not ranked. With
    `style_control`, each standing also gets its style-controlled rating (`Standing.controlled`) and the
    board the style coefficients (`Leaderboard.style`); every battle must then carry both answers' style.
    """
    if not battles:
        raise ValueError("no votes to rank")
    if style_control:
        missing = sum(b.style_a is None or b.style_b is None for b in battles)
        if missing:
            raise ValueError(f"style control needs both answers' length and markdown counts; {missing} of "
                             f"{len(battles)} vote{'s' * (len(battles) != 1)} have none")
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
    rating, lower, upper = _pinned(rating, samples, rounds, models, anchor, anchor_model)
    style = None
    if style_control:
        (c_rating, c_lower, c_upper), style = _style_control(models, battles, prior, rounds, seed, anchor,
                                                             anchor_model)
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
    votes = decisive.sum(axis=1)
    group, prior_set, warnings = _what_is_unknown(models, wins, games, votes, min_votes)
    ranked = votes >= min_votes
    for i, model in enumerate(models):
        rivals = ranked & (np.array(group) == group[i])
        rank = 1 + int(np.sum(lower[rivals] > upper[i])) if ranked[i] else None
        w, l, t = (int(x) for x in decisive[i])
        controlled = None
        if style_control:
            c_rank = 1 + int(np.sum(c_lower[rivals] > c_upper[i])) if ranked[i] else None
            controlled = Controlled(round(float(c_rating[i]), 1), round(float(c_lower[i]), 1),
                                    round(float(c_upper[i]), 1), c_rank)
        standings.append(Standing(model, round(float(rating[i]), 1), round(float(lower[i]), 1),
                                  round(float(upper[i]), 1), rank, w + l + t, w, l, t,
                                  group[i], bool(ranked[i]), prior_set[i], controlled))
    standings.sort(key=lambda s: (s.group, -s.rating, s.model))
    matrix = {
        models[i]: {models[j]: (round(float(wins[i, j] / games[i, j]), 4) if games[i, j] else None)
                    for j in range(n) if j != i}
        for i in range(n)
    }
    groups = [[s.model for s in standings if s.group == g] for g in range(1, max(group) + 1)]
    for note in warnings:
        if note["kind"] == "groups":
            note["groups"] = groups  # in the standings' order
    return Leaderboard(standings, matrix, int(counts.sum()), rounds, groups, min_votes, warnings, anchor,
                       anchor_model, prior, style)


def fresh_battles(battles: Sequence[Battle], cutoffs: dict[str, str | dt.date]) -> tuple[list[Battle], dict]:
    """The battles on prompts created after every rated model's cutoff, and an account of the rest.

    A model with no cutoff in `cutoffs` cannot be judged fresh against: its battles are left out. The rated
    models are the others met in the battles; the line is the last day the latest of their cutoffs covers
    (`workbench.prompts.cutoff_end`), and a battle is kept when its prompt was created after it (`created`
    known). Returns (kept, summary): summary has "after" (ISO date or None), "latest_cutoff" ({model:
    cutoff} for the models that set the line), "kept", "total", "created_by_then", "no_prompt_date" and
    "no_cutoff" ({"votes", "models"}).
    """
    from workbench.prompts import cutoff_end

    known = [b for b in battles if cutoffs.get(b.model_a) and cutoffs.get(b.model_b)]
    rated = sorted({m for b in known for m in (b.model_a, b.model_b)})
    ends = {m: cutoff_end(cutoffs[m]) for m in rated}
    after = max(ends.values()) if ends else None
    kept = [b for b in known if after is not None and b.created is not None and b.created > after]
    missing = sorted({m for b in battles for m in (b.model_a, b.model_b) if not cutoffs.get(m)})
    summary = {"after": after.isoformat() if after else None,
               "latest_cutoff": {m: str(cutoffs[m]) for m in rated if ends[m] == after},
               "kept": len(kept), "total": len(battles),
               "created_by_then": sum(b.created is not None and after is not None and b.created <= after
                                      for b in known),
               "no_prompt_date": sum(b.created is None for b in known),
               "no_cutoff": {"votes": len(battles) - len(known), "models": missing}}
    return kept, summary

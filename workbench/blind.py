"""Blind comparisons: shuffled panes, and pairs drawn from a pool where votes are scarce."""

from __future__ import annotations

import random
from itertools import combinations
from typing import Mapping, Sequence

LABELS = "ABCDEF"


def shuffled_order(n: int, rng: random.Random) -> list[int]:
    """A fresh random assignment of n models to n panes."""
    order = list(range(n))
    rng.shuffle(order)
    return order


def draw_pair(pool: Sequence[str], votes: Mapping[tuple[str, str], int], rng: random.Random) -> list[str]:
    """Two models from the pool, preferring the pairs with the fewest votes so far (ties broken at random)."""
    names = sorted(set(pool))
    if len(names) < 2:
        raise ValueError("a pool needs at least two models")
    pairs = list(combinations(names, 2))
    fewest = min(votes.get(p, 0) for p in pairs)
    pair = list(rng.choice([p for p in pairs if votes.get(p, 0) == fewest]))
    rng.shuffle(pair)
    return pair


def outcome_text(outcome: str | None, winner_label: str | None) -> str:
    """How a vote reads in a notice: 'A wins', 'tie', 'both bad'."""
    if outcome == "winner" and winner_label:
        return f"{winner_label} wins"
    return {"tie": "tie", "both_bad": "both bad"}.get(outcome or "", "no vote")

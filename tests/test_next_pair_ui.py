"""The suggested next pair in the app (`--pool`): drawn from the log's votes and their outcomes, with why on screen."""

from __future__ import annotations

from pilot import send_prompt
from pilot import wait_for as _wait

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.core import Comparison, Request
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.store import Store
from workbench.ui.app import build_app

NAMES = ["alpha-model", "beta-model", "gamma-model"]


def _log_votes(path, results) -> None:
    """Votes in the log: each (first, second, outcome) is one prompt answered by both and voted on."""
    store = Store(path)
    recorder = store.start_session("app")
    for first, second, outcome in results:
        comparison = Comparison([ReplayEngine(first, "x"), ReplayEngine(second, "y")], Request("earlier"),
                                [recorder.on_event])
        recorder.record(comparison)
        comparison.start().wait(5)
        recorder.cast(comparison, outcome, 0 if outcome == "winner" else None).result(5)
    store.close()


def _app(path):
    store = Store(path)
    recorder = store.start_session("app")
    engines = {n: ReplayEngine(n, f"answer from {n}") for n in NAMES}
    specs = [ModelSpec(name=n, engine="replay") for n in NAMES]
    app = build_app(load_settings(), [catalog.Entry(s) for s in specs], list(NAMES),
                    pool_factory=lambda chosen: EnginePool([engines[s.name] for s in chosen]),
                    recorder=recorder, pool=NAMES)
    return app, store


async def test_the_pool_draws_the_pair_whose_outcome_is_open_and_says_why(tmp_path):
    """Every pair has 4 votes in the log, but alpha and gamma each beat beta 4–0 while they split 2–2: a vote on
    beta teaches next to nothing, so the draw is alpha vs gamma whatever the seed (counting votes alone, all three
    pairs tie and the draw is a coin toss). The reason shows in one line that names no model (the round is blind)."""
    log = tmp_path / "log.db"
    _log_votes(log, [("alpha-model", "beta-model", "winner")] * 4 + [("gamma-model", "beta-model", "winner")] * 4
               + [("alpha-model", "gamma-model", "winner")] * 2 + [("gamma-model", "alpha-model", "winner")] * 2)
    for seed in range(6):
        app, store = _app(log)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen
                await _wait(pilot, lambda: len(screen._pair_votes) == 3)
                screen.rng.seed(seed)
                await send_prompt(pilot, "which pair?")
                await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
                assert {a.model for a in screen.comparison.answers} == {"alpha-model", "gamma-model"}, seed
                notes = [str(n.message) for n in app._notifications if str(n.message).startswith("Next pair: ")]
                assert notes == ["Next pair: closest ratings (0 points apart), fewest votes between them (4)"]
                assert not any(name in notes[0] for name in NAMES)
        finally:
            store.close()


async def test_a_vote_in_the_session_counts_towards_the_next_draw(tmp_path):
    """The session's own votes update the outcomes the draw uses (not only the counts), once each: a changed
    vote moves the point, an undone one takes it back."""
    app, store = _app(tmp_path / "log.db")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            await send_prompt(pilot, "first")
            await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
            left, right = (a.model for a in screen.comparison.answers)
            pair = tuple(sorted((left, right)))
            await pilot.press("1")
            await _wait(pilot, lambda: screen._pair_wins.get((left, right)) == 1)
            assert screen._pair_votes[pair] == 1 and not screen._pair_wins.get((right, left))
            await pilot.press("2")  # changed: the point moves, the count stays
            await _wait(pilot, lambda: screen._pair_wins.get((right, left)) == 1)
            assert screen._pair_votes[pair] == 1 and not screen._pair_wins.get((left, right))
            await pilot.press("u")
            await _wait(pilot, lambda: not screen._pair_wins.get((right, left)))
            assert not screen._pair_votes.get(pair)
    finally:
        store.close()

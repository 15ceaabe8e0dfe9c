"""Rating from the keyboard and blind mode, driven through the app with scripted replays."""

from __future__ import annotations

import json
import random

import sqlite_utils
from pilot import send_prompt
from pilot import wait_for as _wait

from workbench import catalog
from workbench.blind import draw_pair, shuffled_order
from workbench.engines.pool import EnginePool
from workbench.config import ModelSpec, load_settings
from workbench.engines.replay import ReplayEngine
from workbench.store import Store
from workbench.ui.app import build_app
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.screens.history import HistoryScreen, RecordScreen
from workbench.ui.widgets.answer_pane import AnswerPane

NAMES = ["alpha-model", "beta-model", "gamma-model"]


def _app(tmp_path, names=NAMES[:2], **kwargs):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    engines = {n: ReplayEngine(n, f"answer from {n}\n```python\nx = 1\n```\n") for n in names}
    specs = [ModelSpec(name=n, engine="replay") for n in names]
    app = build_app(load_settings(), [catalog.Entry(s) for s in specs], list(names),
                    pool_factory=lambda chosen: EnginePool([engines[s.name] for s in chosen]),
                    recorder=recorder, **kwargs)
    return app, store




async def _send(pilot, text):
    await send_prompt(pilot, text)
    screen = pilot.app.screen
    await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
    return screen


def _votes(store):
    store.flush()
    return list(sqlite_utils.Database(store.path).query("SELECT * FROM votes ORDER BY id"))


def _visible_text(screen: CompareScreen) -> str:
    """Everything a pane shows about its model: titles, figures, answer text and notices."""
    parts = []
    for pane in screen.panes:
        parts += [str(pane.border_title), str(pane.border_subtitle), str(pane.query_one(".figures").render())]
    return "\n".join(parts)


async def test_digit_votes_commit_at_once_and_can_be_changed_and_undone(tmp_path):
    app, store = _app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _send(pilot, "which")
            assert app.focused is screen.panes[0].view, "focus left the prompt bar so vote keys work at once"
            await pilot.press("2")
            votes = _votes(store)
            assert len(votes) == 1 and votes[0]["outcome"] == "winner" and votes[0]["retracted_at"] is None
            rows = {r["id"]: r for r in sqlite_utils.Database(store.path)["responses"].rows}
            assert rows[votes[0]["winner_response_id"]]["label"] == "B"
            assert "★ winner" in str(screen.panes[1].border_title)
            await pilot.press("t")  # change the vote: the old one is retracted, not lost
            votes = _votes(store)
            assert [v["outcome"] for v in votes] == ["winner", "tie"]
            assert votes[0]["retracted_at"] is not None and votes[1]["retracted_at"] is None
            assert all("tie" in str(p.border_title) for p in screen.panes)
            await pilot.press("u")
            assert all(v["retracted_at"] is not None for v in _votes(store))
            assert not any("tie" in str(p.border_title) for p in screen.panes)
            await pilot.press("b")
            assert _votes(store)[-1]["outcome"] == "both_bad"
    finally:
        store.close()


async def test_digits_typed_in_the_prompt_bar_stay_text(tmp_path):
    app, store = _app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _send(pilot, "first")
            await pilot.press("slash")
            for key in ("1", "2", "t", "b", "u"):
                await pilot.press(key)
            assert app.screen.query_one("PromptInput").value == "12tbu"
            assert _votes(store) == []
    finally:
        store.close()


async def test_scores_note_and_tags_are_one_key_away(tmp_path):
    app, store = _app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _send(pilot, "score me")
            await pilot.press("1")
            await pilot.press("e")
            await pilot.pause(0.1)
            for key in ("4", "2"):
                await pilot.press(key)
            await pilot.press("enter")
            await pilot.pause(0.1)
            vote = _votes(store)[-1]
            assert sorted(json.loads(vote["scores"]).values()) == [2, 4]
            await pilot.press("number_sign")
            await pilot.pause(0.1)
            for ch in "physics, refactor":
                await pilot.press(ch if ch != " " else "space")
            await pilot.press("enter")
            store.flush()
            tags = next(sqlite_utils.Database(store.path)["prompts"].rows)["tags"]
            assert json.loads(tags) == ["physics", "refactor"]
    finally:
        store.close()


async def test_blind_mode_hides_every_name_until_the_vote(tmp_path):
    app, store = _app(tmp_path, blind=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            before = _visible_text(screen)
            assert not any(n in before for n in NAMES), before
            screen = await _send(pilot, "blind question")
            shown = _visible_text(screen)
            assert not any(n in shown for n in NAMES), shown
            assert "TTFT" not in shown and "tok/s" not in shown, "figures that betray the engine stay hidden"
            # History before the vote does not reveal the models either.
            await pilot.press("h")
            await _wait(pilot, lambda: isinstance(app.screen, HistoryScreen)
                        and app.screen.query_one("DataTable").row_count == 1)
            table = app.screen.query_one("DataTable")
            assert not any(n in str(cell) for n in NAMES for cell in table.get_row_at(0))
            await pilot.press("enter")
            await _wait(pilot, lambda: isinstance(app.screen, RecordScreen))
            assert not any(n in str(p.border_title) for p in app.screen.query(AnswerPane) for n in NAMES)
            await pilot.press("escape")
            await pilot.press("escape")
            await _wait(pilot, lambda: isinstance(app.screen, CompareScreen))
            screen.panes[0].view.focus()
            await pilot.press("1")
            revealed = _visible_text(screen)
            assert all(n in revealed for n in NAMES[:2])
            vote = _votes(store)[-1]
            assert vote["blind"] == 1
            shown_json = json.loads(vote["shown"])
            assert shown_json["blind"] is True and set(shown_json["labels"].values()) == set(NAMES[:2])
            assert shown_json["revealed_before_vote"] is False
    finally:
        store.close()


async def test_blind_panes_are_shuffled_per_prompt(tmp_path):
    app, store = _app(tmp_path, names=NAMES, blind=True)
    try:
        async with app.run_test(size=(150, 40)) as pilot:
            orders = set()
            for i in range(8):
                screen = await _send(pilot, f"prompt {i}")
                orders.add(tuple(a.model for a in screen.comparison.answers))
                await pilot.press("ctrl+n")  # unvoted, the next prompt would follow this one up
            assert len(orders) > 1, "the assignment of models to panes changes between prompts"
    finally:
        store.close()


async def test_a_pool_draws_pairs_that_need_votes(tmp_path):
    app, store = _app(tmp_path, names=NAMES, pool=NAMES)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            pairs = []
            for i in range(3):
                screen = await _send(pilot, f"pool prompt {i}")
                assert len(screen.panes) == 2
                pairs.append(frozenset(a.model for a in screen.comparison.answers))
                await pilot.press("1")
                await pilot.press("slash")
            assert len(set(pairs)) == 3, "each of the three pairs is drawn once before any repeats"
    finally:
        store.close()


async def test_a_pool_says_why_it_drew_the_pair(tmp_path):
    """Each drawn pair comes with a notification of the reason; a blind round's names no model."""
    app, store = _app(tmp_path, names=NAMES, pool=NAMES)
    try:
        async with app.run_test(size=(120, 40)) as pilot:

            def notes() -> list[str]:
                return [str(n.message) for n in app._notifications if str(n.message).startswith("Next pair: ")]

            await _send(pilot, "pool prompt")
            assert notes() == ["Next pair: no votes between them yet"]  # a pool is blind
            await pilot.press("1")
            await pilot.press("slash")
            app.screen.action_toggle_blind()
            app.clear_notifications()
            screen = await _send(pilot, "pool prompt, names shown")
            pair = sorted(a.model for a in screen.comparison.answers)
            # The vote before told one pair's outcome: the reason now weighs ratings too (tests/test_next_pair_ui.py)
            assert notes() == [f"Next pair: {pair[0]} vs {pair[1]}: closest ratings (239 points apart), "
                               "no votes between them yet"]
    finally:
        store.close()


def test_draw_pair_prefers_the_fewest_votes():
    rng = random.Random(0)
    votes = {("a", "b"): 5, ("a", "c"): 5, ("b", "c"): 0}
    assert all(sorted(draw_pair(["a", "b", "c"], votes, rng)) == ["b", "c"] for _ in range(20))
    assert sorted(shuffled_order(4, rng)) == [0, 1, 2, 3]


def test_draw_pair_skips_a_lopsided_pair_for_close_ratings():
    """Every pair has 6 votes, but `top` won all of its 18: a vote on it teaches next to nothing (p(1 − p) is
    small), while the three close models' order is open. Fewest-votes-first would draw at random among all six."""
    rng = random.Random(1)
    names = ["top", "b", "c", "d"]
    votes = {tuple(sorted(p)): 6 for p in [("top", "b"), ("top", "c"), ("top", "d"), ("b", "c"), ("b", "d"),
                                           ("c", "d")]}
    wins = {("top", "b"): 6, ("top", "c"): 6, ("top", "d"): 6, ("b", "c"): 3, ("c", "b"): 3, ("b", "d"): 4,
            ("d", "b"): 2, ("c", "d"): 3, ("d", "c"): 3}
    drawn = [frozenset(draw_pair(names, votes, rng, wins=wins)) for _ in range(30)]
    assert not any("top" in pair for pair in drawn)


def test_draw_pair_says_why_in_one_line():
    rng = random.Random(2)
    votes = {("a", "b"): 10, ("a", "c"): 10, ("b", "c"): 4}
    wins = {("a", "b"): 10, ("a", "c"): 10, ("b", "c"): 2, ("c", "b"): 2}
    pair = draw_pair(["a", "b", "c"], votes, rng, wins=wins)
    assert sorted(pair) == ["b", "c"]
    assert pair.reason == "b vs c: closest ratings (0 points apart), fewest votes between them (4)"
    assert pair.why == "closest ratings (0 points apart), fewest votes between them (4)"
    fresh = draw_pair(["a", "b", "c", "d"], votes, rng, wins=wins)
    assert "d" in fresh and fresh.reason.endswith("no votes between them yet")
    unknown = draw_pair(["a", "b", "c"], {("a", "b"): 3, ("a", "c"): 3, ("b", "c"): 1}, rng)
    assert sorted(unknown) == ["b", "c"] and unknown.why == "fewest votes between them (1)"
    assert "\n" not in pair.reason


def test_draw_pair_is_fast_enough_for_the_ui_thread():
    """It runs on the UI thread at each prompt: under 5 ms for a pool of 10 with a few hundred votes."""
    import time

    rng = random.Random(3)
    names = [f"model-{i}" for i in range(10)]
    votes, wins = {}, {}
    for k in range(400):
        a, b = sorted(rng.sample(names, 2))
        votes[(a, b)] = votes.get((a, b), 0) + 1
        winner, loser = (a, b) if rng.random() < 0.3 + 0.04 * names.index(b) else (b, a)
        wins[(winner, loser)] = wins.get((winner, loser), 0) + 1
    best = min(_timed(lambda: draw_pair(names, votes, rng, wins=wins), time.perf_counter) for _ in range(15))
    assert best < 0.005, f"{best * 1000:.1f} ms"


def _timed(call, clock) -> float:
    start = clock()
    call()
    return clock() - start


async def test_a_pool_counts_the_votes_already_in_the_log(tmp_path):
    """Past votes for two of the three pairs: the first blind draw is the pair nobody has voted on yet."""
    from workbench.core import Comparison, Request

    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    for pair in (("alpha-model", "beta-model"), ("alpha-model", "gamma-model")):
        for _ in range(3):
            comparison = Comparison([ReplayEngine(n, "x") for n in pair], Request("earlier"), [recorder.on_event])
            recorder.record(comparison)
            comparison.start().wait(5)
            recorder.cast(comparison, "winner", 0).result(5)
    store.close()
    for seed in range(3):  # whatever the draw's seed, the pair with no votes comes first
        app, store = _app(tmp_path, names=NAMES, pool=NAMES)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = app.screen
                await _wait(pilot, lambda: len(screen._pair_votes) == 2)
                screen.rng.seed(seed)
                screen = await _send(pilot, "which pair?")
                assert {a.model for a in screen.comparison.answers} == {"beta-model", "gamma-model"}
        finally:
            store.close()

"""Screenshots of the main screens (pytest-textual-snapshot), each at 80x24, 100x30 and 160x48.

Update with `pytest tests/test_snapshots.py --snapshot-update`; the SVGs are in tests/__snapshots__/.
"""

from __future__ import annotations

import threading

import pytest
from pilot import send_prompt, wait_for

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.core import Comparison, Done, Engine, Request, Token
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine, split_tokens
from workbench.store import Store, writer
from workbench.ui.app import build_app
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.screens.history import HistoryScreen
from workbench.ui.screens.leaderboard import LeaderboardScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((100, 30), id="100x30"),
         pytest.param((160, 48), id="160x48")]
NAMES = ["alpha-model", "beta-model"]
CODE = ("Here is a small helper:\n\n```python\ndef mean(xs: list[float]) -> float:\n"
        '    """The average of xs."""\n    return sum(xs) / len(xs)  # never empty\n```\n\n'
        "It divides the sum by the count, so an empty list raises ZeroDivisionError.\n")
PAST = [  # (prompt, the pair shown, outcome, winner's index): an earlier session's votes
    ("Explain Python decorators", ["alpha-model", "beta-model"], "winner", 0),
    ("Write a haiku about tests", ["alpha-model", "gamma-model"], "winner", 0),
    ("Sort a list in place", ["beta-model", "gamma-model"], "tie", None),
    ("What is a monad?", ["gamma-model", "beta-model"], "winner", 0),
]


class Clock:
    """Scripted time: each engine thread reads 1000.00, 1000.01, … (per thread, so the threads' order
    does not matter); the UI thread reads `ui`, which only the test moves."""

    def __init__(self) -> None:
        self.ui = 1000.0
        self._ui_thread = threading.get_ident()
        self._local = threading.local()

    def __call__(self) -> float:
        if threading.get_ident() == self._ui_thread:
            return self.ui
        now = getattr(self._local, "now", 1000.0)
        self._local.now = now + 0.01
        return now


class Held(Engine):
    """Streams the first `upto` pieces of its text, then holds the answer open until it is cancelled."""

    kind = "replay"

    def __init__(self, name: str, text: str, upto: int) -> None:
        super().__init__(name)
        self.pieces = split_tokens(text)[:upto]

    def stream(self, request, cancel):
        yield from (Token(p) for p in self.pieces)
        cancel.wait(60)  # the app cancels every answer when it closes, after the screenshot
        yield Done(finish_reason="cancelled", cancelled=True)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build the app over replays and a log named log.db in the cwd, so no temp path shows on screen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(writer, "now_iso", lambda: "2026-03-14T15:09:26.000+00:00")  # history's "when"
    stores = []

    def make(engines, blind=False, past=False):
        store = Store("log.db")
        stores.append(store)
        if past:
            _fill_log(store)
        by_name = {e.name: e for e in engines}
        entries = [catalog.Entry(ModelSpec(name=n, engine="replay")) for n in by_name]
        return build_app(load_settings(), entries, list(by_name),
                         pool_factory=lambda chosen: EnginePool([by_name[s.name] for s in chosen]),
                         recorder=store.start_session("app"), blind=blind, clock=Clock())

    yield make
    for store in stores:
        store.close()


def _fill_log(store: Store) -> None:
    """An earlier session of the app: each PAST prompt answered by its pair of replays and voted on."""
    recorder = store.start_session("app")
    for prompt, pair, outcome, winner in PAST:
        comparison = Comparison([ReplayEngine(n, f"{n} answers.\n") for n in pair], Request(prompt=prompt),
                                [recorder.on_event], clock=Clock())
        recorder.record(comparison).result(10)
        comparison.start()
        assert comparison.wait(10)
        recorder.cast(comparison, outcome, winner).result(10)
    store.flush()


def _replays() -> list[ReplayEngine]:
    return [ReplayEngine(n, CODE if i == 0 else "A plain answer, without code.\n") for i, n in enumerate(NAMES)]


async def _ask(pilot, text: str, seed: int = 7) -> CompareScreen:
    """Send `text` (the blind shuffle seeded) and wait until every answer has ended and is painted."""
    screen = pilot.app.screen
    screen.rng.seed(seed)
    await send_prompt(pilot, text)
    await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished, 10)
    # Painted to the end, figures included (at 80 columns the compact figures leave out `complete`).
    await wait_for(pilot, lambda: all(screen.round.figures.get(i, ("",))[0] == a.status == "complete"
                                      for i, a in enumerate(screen.comparison.answers)), 10)
    return screen


async def _clear_toasts(pilot) -> None:
    """Notifications time out: clear them so the shot does not depend on when it is taken."""
    pilot.app.clear_notifications()
    await wait_for(pilot, lambda: not pilot.app.screen.query("Toast"), 5)


@pytest.mark.parametrize("size", SIZES)
def test_two_panes_mid_stream(snap_compare, make_app, size):
    """Two panes part-way through their answers, code highlighted, figures from the scripted clock."""
    engines = [Held(NAMES[0], CODE, 30), Held(NAMES[1], CODE, 12)]
    app = make_app(engines)

    async def run_before(pilot):
        screen = pilot.app.screen
        await send_prompt(pilot, "Average a list in Python")
        await wait_for(pilot, lambda: screen.comparison is not None
                       and [a.count for a in screen.comparison.answers] == [len(e.pieces) for e in engines], 10)
        app.clock.ui = 1002.0  # two seconds in: the next frame paints every piece and the figures with it
        await wait_for(pilot, lambda: all(f"{len(e.pieces)} tok · 2.0" in str(p.query_one(".figures").render())
                                          for p, e in zip(screen.panes, engines)), 10)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_blind_before_the_vote(snap_compare, make_app, size):
    """Blind mode after the answers end: labels only, no names or telling figures."""
    app = make_app(_replays(), blind=True)

    async def run_before(pilot):
        screen = await _ask(pilot, "Average a list in Python")
        assert not any(n in str(p.border_title) for p in screen.panes for n in NAMES)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_blind_after_the_vote(snap_compare, make_app, size):
    """Blind mode after `1`: A is the winner and both names are revealed."""
    app = make_app(_replays(), blind=True)

    async def run_before(pilot):
        screen = await _ask(pilot, "Average a list in Python")
        await pilot.press("1")
        await wait_for(pilot, lambda: pilot.app.screen.query("Toast"), 5)  # "Vote saved": the log committed it
        assert all(a.model in str(p.border_title) for p, a in zip(screen.panes, screen.comparison.answers))
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_cheat_sheet(snap_compare, make_app, size):
    """`?` opens the workbench's cheat-sheet over two finished answers."""
    app = make_app(_replays())

    async def run_before(pilot):
        await _ask(pilot, "Average a list in Python")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "CheatSheet", 5)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_follow_up(snap_compare, make_app, size):
    """A follow-up: each pane shows turn 1's prompt and answer, then turn 2's."""
    app = make_app(_replays())

    async def run_before(pilot):
        await _ask(pilot, "Average a list in Python")
        await _ask(pilot, "Now handle the empty list")
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_params_dialog(snap_compare, make_app, size):
    """F3: the system prompt and sampling parameters, with the whole instruction line."""
    app = make_app(_replays())

    async def run_before(pilot):
        await pilot.press("f3")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ParamsDialog", 5)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog(snap_compare, make_app, size):
    """`x`: the export dialog, HTML chosen, a free file name suggested."""
    app = make_app(_replays())

    async def run_before(pilot):
        await _ask(pilot, "Average a list in Python")
        await pilot.press("x")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ExportDialog", 5)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_leaderboard(snap_compare, make_app, size):
    """`l` ranks the earlier session's votes, with intervals and the win-rate matrix."""
    app = make_app(_replays(), past=True)

    async def run_before(pilot):
        await _ask(pilot, "Average a list in Python")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LeaderboardScreen)
                       and pilot.app.screen.board is not None, 10)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, make_app, size):
    """`h` lists every prompt in the log, newest first."""
    app = make_app(_replays(), past=True)

    async def run_before(pilot):
        await _ask(pilot, "Average a list in Python")
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen)
                       and [t.row_count for t in pilot.app.screen.query("DataTable")] == [len(PAST) + 1], 10)
        await _clear_toasts(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)

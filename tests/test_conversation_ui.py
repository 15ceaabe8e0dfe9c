"""Follow-ups, the export from the app, the palette and rebound keys (issue 12)."""

from __future__ import annotations

import json

import pytest
from pilot import send_prompt, type_text, wait_for

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.store import Store, open_for_reading
from workbench.ui.app import KeymapError, build_app

FIRST = "Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
SECOND = "Typed:\n\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n"


class TwoTurns(ReplayEngine):
    """Answers the first turn with FIRST and any later one with SECOND; remembers what it was sent."""

    def __init__(self, name: str) -> None:
        super().__init__(name, FIRST)
        self.sent = []

    def stream(self, request, cancel):
        self.sent.append(request)
        self.pieces = list(ReplayEngine(self.name, FIRST if not request.history else SECOND).pieces)
        yield from super().stream(request, cancel)


def _app(engines, settings=None, **kwargs):
    settings = settings or load_settings()
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    entries = [catalog.Entry(s) for s in specs]
    by_name = {e.name: e for e in engines}
    return build_app(settings, entries, [s.name for s in specs],
                     pool_factory=lambda chosen: EnginePool([by_name[s.name] for s in chosen]), **kwargs)


async def test_a_follow_up_goes_to_every_pane_each_with_its_own_history_and_is_logged_as_turn_2(tmp_path):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    engines = [TwoTurns("a"), TwoTurns("b")]
    app = _app(engines, recorder=recorder)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "add")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await pilot.press("1")  # A wins turn 1
        await send_prompt(pilot, "now typed")
        await wait_for(pilot, lambda: len(screen.comparison.turns) == 2 and screen.comparison.finished)
        for engine in engines:
            assert [m.content for m in engine.sent[1].history][0] == "add"
            assert engine.sent[1].history[1].content == FIRST.rstrip("\n") or FIRST in engine.sent[1].history[1].content
        text = screen.panes[0].view.text
        assert "turn 1: add" in text and "turn 2: now typed" in text
        assert "return a + b" in text and "a: int" in text
        assert screen.round.vote is None, "turn 2 starts unvoted"
        await pilot.press("2")  # B wins turn 2
        await wait_for(pilot, lambda: screen.round.saved_vote is not None)
    recorder.close()
    store.close()
    log = open_for_reading(tmp_path / "log.db")
    rows = list(log.query("SELECT p.turn, v.outcome, r.model_name AS model FROM votes v JOIN prompts p ON p.id = v.prompt_id "
                          "JOIN responses r ON r.id = v.winner_response_id WHERE v.retracted_at IS NULL ORDER BY p.turn"))
    assert [(r["turn"], r["model"]) for r in rows] == [(1, "a"), (2, "b")]


async def test_a_prompt_sent_while_streaming_is_kept_not_lost():
    text = FIRST * 50
    engine = ReplayEngine("a", text, delays=[0.05] * len(ReplayEngine("a", text).pieces))
    app = _app([engine])
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "first")
        await pilot.pause(0.2)
        await send_prompt(pilot, "second")
        assert screen.query_one("PromptInput").value == "second"
        assert len(screen.comparison.turns) == 1
        screen.comparison.cancel()


async def test_ctrl_n_starts_a_new_comparison():
    app = _app([TwoTurns("a")])
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "one")
        await wait_for(pilot, lambda: screen.comparison.finished)
        first = screen.comparison
        await pilot.press("ctrl+n")
        await type_text(pilot, "two")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.comparison is not first and screen.comparison.finished)
        assert len(screen.comparison.turns) == 1


async def test_x_exports_the_session_as_html_and_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    app = _app([TwoTurns("a"), TwoTurns("b")], recorder=recorder)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "add")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await send_prompt(pilot, "now typed")
        await wait_for(pilot, lambda: len(screen.comparison.turns) == 2 and screen.comparison.finished)
        await pilot.press("escape", "x")
        await pilot.pause()
        await pilot.press("enter")
        report = tmp_path / f"workbench-session-{recorder.session_id}.html"
        await wait_for(pilot, report.exists)
        notes = [n.message for n in app._notifications]
        assert any(str(report) in n and "Exported 4 answers" in n for n in notes), notes
        html = report.read_text()
        import shutil; shutil.copy(report, "/tmp/w/report.html")
        assert "now typed" in html and "int" in html
        # Again: a new name, never over the first report.
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, (tmp_path / f"workbench-session-{recorder.session_id}-2.html").exists)
    recorder.close()
    store.close()


async def test_the_palette_holds_the_actions_with_their_keys():
    app = _app([TwoTurns("a"), TwoTurns("b")])
    async with app.run_test(size=(160, 48)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Export the session (HTML report)  (x)", "Diff the code of the focused pane and the next  (d)",
                         "Save a screenshot (SVG)  (f12)", "This sheet  (?)", "History: past comparisons, re-opened to read (votes, test marks)  (h)"):
            assert expected in titles, titles


async def test_keys_rebound_in_the_config_work_and_show_in_the_sheet(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nleaderboard = "ctrl+l"\nexport = "f6"\n')
    settings = load_settings(config)
    app = _app([TwoTurns("a")], settings=settings)
    async with app.run_test(size=(160, 48)) as pilot:
        rows = {action: key for _, key, _, action in app.screen.key_rows()}
        assert rows["leaderboard"] == "^l" or "l" in rows["leaderboard"].lower()
        assert rows["export"] != "x"
        await pilot.press("escape", "f6")  # outside the prompt bar, where keys are commands
        await pilot.pause()
        assert any("Nothing to export" in n.message or "No log" in n.message for n in app._notifications)


def test_an_unknown_key_binding_in_the_config_is_one_line_naming_it(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nleaderbord = "ctrl+l"\n')
    with pytest.raises(KeymapError, match="leaderbord"):
        _app([TwoTurns("a")], settings=load_settings(config))


async def test_f12_saves_a_screenshot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = _app([TwoTurns("a")])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape", "f12")
        await wait_for(pilot, lambda: (tmp_path / "workbench-screenshot.svg").exists())
        assert "<svg" in (tmp_path / "workbench-screenshot.svg").read_text()[:2000]


async def test_history_reopens_a_voted_comparison_with_its_winner_and_test_badges(tmp_path):
    from workbench.ui.screens.history import HistoryScreen, RecordScreen

    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    app = _app([TwoTurns("a"), TwoTurns("b")], recorder=recorder)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "add")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await pilot.press("v")
        await wait_for(pilot, lambda: len(screen.round.verdicts) == 2, timeout=60)
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.round.saved_vote is not None)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RecordScreen))
        await pilot.pause(0.2)
        from workbench.ui.widgets.answer_pane import AnswerPane

        panes = list(app.screen.query(AnswerPane))
        assert [p.vote_mark for p in panes] == ["", "★ winner"]
        assert all(p.badge == "▶ exit 0" for p in panes), [p.badge for p in panes]
    recorder.close()
    store.close()


async def test_f3_ctrl_s_saves_the_parameters_as_defaults_for_the_next_launch(tmp_path, monkeypatch):
    from workbench.config import ConfigError, load_params

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    app = _app([TwoTurns("a")])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.click("#temperature")
        await type_text(pilot, "0.5")
        await pilot.click("#system")
        await type_text(pilot, 'Be "brief"')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: (tmp_path / "params.toml").exists())
        assert app.screen.defaults["temperature"] == 0.5
    assert load_params(tmp_path) == {"system": 'Be "brief"', "max_tokens": 1024, "temperature": 0.5}
    (tmp_path / "params.toml").write_text("temperature = -1\n")
    with pytest.raises(ConfigError, match="temperature"):
        load_params(tmp_path)


async def test_history_reopens_a_follow_up_with_its_whole_conversation(tmp_path):
    from workbench.ui.screens.history import HistoryScreen, RecordScreen
    from workbench.ui.widgets.answer_pane import AnswerPane

    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    app = _app([TwoTurns("a"), TwoTurns("b")], recorder=recorder)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "add")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await send_prompt(pilot, "now typed")
        await wait_for(pilot, lambda: len(screen.comparison.turns) == 2 and screen.comparison.finished)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause(0.5)
        table = app.screen.query_one("DataTable")
        assert "turn 2: now typed" in str(table.get_row_at(0)[-1])
        await pilot.press("enter")  # the newest row: turn 2
        await wait_for(pilot, lambda: isinstance(app.screen, RecordScreen))
        await pilot.pause(0.2)
        text = list(app.screen.query(AnswerPane))[0].view.text
        assert "turn 1: add" in text and "return a + b" in text and "turn 2: now typed" in text and "a: int" in text
    recorder.close()
    store.close()

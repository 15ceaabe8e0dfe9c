"""The app, driven with Textual's Pilot: real demo models and scripted replays."""

from __future__ import annotations

import time

import pytest
from rich.text import Text
from pilot import send_prompt as _send
from pilot import wait_for as _wait

from workbench import catalog
from workbench.engines.pool import EnginePool
from workbench.config import ModelSpec, load_settings
from workbench.engines.replay import ReplayEngine
from workbench.ui.app import build_app
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.themes import ThemeError
from workbench.ui.widgets.answer_pane import AnswerPane

LONG_CODE = "Here is the code:\n\n```python\n" + "".join(
    f"def f{i}(x):\n    return x * {i}  # line {i}\n" for i in range(120)
) + "```\n\nDone.\n"


def _replay_app(*engines, **kwargs):
    settings = load_settings()
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    entries = [catalog.Entry(s) for s in specs]
    by_name = {e.name: e for e in engines}
    return build_app(settings, entries, [s.name for s in specs],
                     pool_factory=lambda chosen: EnginePool([by_name[s.name] for s in chosen]), **kwargs)






def _screen(app) -> CompareScreen:
    assert isinstance(app.screen, CompareScreen)
    return app.screen


async def test_two_demo_models_stream_side_by_side():
    settings = load_settings()
    entries = catalog.discover(settings)
    app = build_app(settings, entries, ["smollm2", "gemma3-270m"], request_defaults={"max_tokens": 48, "temperature": 0})
    async with app.run_test(size=(160, 48)) as pilot:
        await _send(pilot, "Write a Python function is_prime(n).")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
        panes = screen.panes
        assert [p.model for p in panes] == ["smollm2", "gemma3-270m"]
        for pane, answer in zip(panes, screen.comparison.answers):
            assert answer.status == "complete", answer.error
            assert pane.view.text.strip(), f"{pane.model} pane is empty"
            figures = str(pane.query_one(".figures").render())
            # 48 tokens may cut an answer short: then the pane says so (`truncated`, not `complete`).
            shown = "truncated" if answer.finish_reason == "length" else "complete"
            assert shown in figures and "tok/s" in figures and "TTFT" in figures, figures
            assert "CPU" in pane.border_subtitle
        # Focus left the prompt bar for the panes, so keys act on answers at once.
        assert app.focused is panes[0].view


async def test_highlighted_code_and_figures_from_a_replay():
    app = _replay_app(ReplayEngine("a", LONG_CODE), ReplayEngine("b", "Just prose.\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "code please")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        view = screen.panes[0].view
        assert "def f119(x):" in view.text
        code_lines = [ln for ln in view.doc.lines if ln.code and ln.text.plain.startswith("def ")]
        assert len(code_lines) == 120 and all(ln.text.spans for ln in code_lines)
        assert view.virtual_size.height > view.size.height
        assert view.follow and view.scroll_y == view.max_scroll_y, "a streaming pane follows its output"


async def test_a_long_blocks_second_pass_is_done_between_frames():
    """Closing a 2,000-line fence: the pane takes it at once, the whole-block pass runs in slices after."""
    text = "Here:\n\n```python\nx = '''\n" + "".join(
        f"def f{i}(x):\n    return x * {i}  # line {i}\n" for i in range(1000)) + "'''\n```\n\nDone.\n"
    app = _replay_app(ReplayEngine("a", text))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "code please")
        screen = _screen(app)
        view = screen.panes[0].view
        await _wait(pilot, lambda: screen.comparison.finished and "Done." in view.text)
        await _wait(pilot, lambda: not view.doc.pending and view._slicer is None)
        # The block is one string: seen whole, every line inside it has the string's colour.
        inside = [ln.text for ln in view.doc.lines[4:2004]]
        assert len({tuple(str(s.style) for s in t.spans) for t in inside}) == 1
        strips = [view.render_line(y) for y in range(view.size.height)]
        assert any("line 999" in strip.text for strip in strips)


async def test_a_followed_stream_jump_scrolls():
    """Following a stream a line at a time, the view scrolls by several rows at once, not once per line."""
    app = _replay_app(ReplayEngine("a", "Start.\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        view = screen.panes[0].view
        view.clear()
        await pilot.pause()
        height = view.scrollable_content_region.height
        tops = []
        for i in range(3 * height):
            view.append(f"line {i}\n")
            await pilot.pause()
            tops.append(view.scroll_offset.y)
            last = max(y for y in range(height) if view.render_line(y).text.strip())
            assert f"line {i}" in view.render_line(last).text, "the newest line is always on screen"
        scrolls = sum(1 for a, b in zip(tops, tops[1:]) if b != a)
        assert tops[-1] > height and scrolls <= 2 * height // (height // 6), (scrolls, tops)
        view.finish()
        await pilot.pause()
        assert f"line {3 * height - 1}" in view.render_line(height - 1).text, "a finished answer ends at the bottom"
        view.set_notice(Text("stopped: an error after the answer"))  # as an answer that failed mid-stream
        await pilot.pause()
        assert "stopped: an error" in view.render_line(height - 1).text, "no blank rows under the notice"


async def test_new_figures_repaint_their_row_without_a_layout():
    """The figures line changes twice a second while streaming: it must not lay out the whole screen."""
    app = _replay_app(ReplayEngine("a", "Start.\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        await pilot.pause()
        pane = screen.panes[0]
        figures = pane.query_one(".figures")
        updates = figures._layout_updates
        pane.show_figures("streaming", "42 tok/s · 310 tok · 7.4s")
        assert figures._layout_updates == updates, "a layout was asked for"
        await pilot.pause()
        assert "42 tok/s" in str(pane.query_one(".figures").render())


async def test_moving_between_panes_keeps_the_key_bar():
    """The same keys before and after `→`: the bar is not repainted (Textual's Footer remounted every key)."""
    from workbench.ui.widgets.footer import KeyBar

    app = _replay_app(ReplayEngine("a", "One.\n"), ReplayEngine("b", "Two.\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        await pilot.pause(0.3)
        bar = screen.query_one(KeyBar)
        keys = bar._keys
        shown = bar.render_line(0).text
        assert shown.startswith("? Keys p Library") and "^p palette" in shown and "Winner" in shown
        await pilot.press("right")
        await pilot.pause(0.3)
        assert app.focused is screen.panes[1].view
        assert bar._keys is keys, "the bar was rebuilt for the same keys"
        await pilot.press("slash")  # the prompt bar has other keys: then it is repainted
        await pilot.pause(0.3)
        assert bar._keys != keys and "Winner" not in bar.render_line(0).text


async def test_the_key_bar_fits_whole_keys_and_runs_a_clicked_one():
    from workbench.ui.widgets.footer import KeyBar

    app = _replay_app(ReplayEngine("a", "One.\n"), ReplayEngine("b", "Two.\n"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        await pilot.pause(0.3)
        bar = screen.query_one(KeyBar)
        shown = bar.render_line(0).text
        assert len(shown) == 80 and shown.rstrip().endswith("▏^p palette")
        keys = shown.split("▏")[0].split()
        described = {k[1] for k in bar._keys}
        assert all(word in " ".join(described) or any(word == k[0] for k in bar._keys) for word in keys), shown
        x = shown.index("Keys")
        await pilot.click(KeyBar, offset=(x, 0))
        await pilot.pause(0.5)
        assert type(app.screen).__name__ == "CheatSheet"


async def test_scrolling_one_pane_scrolls_the_others_and_the_toggle_stops_it():
    app = _replay_app(ReplayEngine("a", LONG_CODE), ReplayEngine("b", LONG_CODE))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        a, b = (p.view for p in screen.panes)
        a.focus()
        await pilot.press("home")
        await pilot.pause(0.2)
        assert a.scroll_y == 0 and b.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause(0.3)
        assert a.scroll_y > 0 and b.scroll_y == a.scroll_y
        await pilot.press("y")  # sync off
        await pilot.press("pagedown")
        await pilot.pause(0.3)
        assert a.scroll_y > b.scroll_y


async def test_escape_stops_every_pane_and_r_regenerates_one():
    slow = [0.02] * 10_000
    app = _replay_app(ReplayEngine("a", "word " * 5000, delays=slow), ReplayEngine("b", "word " * 5000, delays=slow))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "go")
        screen = _screen(app)
        await _wait(pilot, lambda: all(a.status == "streaming" for a in screen.comparison.answers))
        await pilot.press("escape")
        await _wait(pilot, lambda: screen.comparison.finished, timeout=5)
        assert [a.status for a in screen.comparison.answers] == ["cancelled", "cancelled"]
        assert "cancelled" in str(screen.panes[0].query_one(".figures").render())
        screen.panes[1].view.focus()
        await pilot.press("r")
        await _wait(pilot, lambda: screen.comparison.answers[1].status == "streaming", timeout=5)
        assert screen.comparison.answers[0].status == "cancelled"
        await pilot.press("s")  # stop just this pane
        await _wait(pilot, lambda: screen.comparison.finished, timeout=5)
        assert screen.comparison.answers[1].status == "cancelled"
        assert screen.comparison.answers[1].attempt == 1


async def test_maximise_and_restore_the_focused_pane():
    app = _replay_app(ReplayEngine("a", "one\n"), ReplayEngine("b", "two\n"), ReplayEngine("c", "three\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "x")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison.finished)
        screen.panes[1].view.focus()
        await pilot.press("z")
        await pilot.pause(0.1)
        assert [p.display for p in screen.panes] == [False, True, False]
        assert screen.panes[1].size.width > 100
        await pilot.press("z")
        await pilot.pause(0.1)
        assert all(p.display for p in screen.panes)


async def test_a_failing_model_shows_one_line_in_its_pane_and_the_other_finishes(tmp_path):
    settings = load_settings()
    missing = ModelSpec(name="ghost", engine="llama", path=str(tmp_path / "nope.gguf"))
    entries = [catalog.Entry(missing)] + catalog.discover(settings)
    app = build_app(settings, entries, ["ghost", "smollm2"], request_defaults={"max_tokens": 16})
    async with app.run_test(size=(120, 40)) as pilot:
        await _send(pilot, "Say hi.")
        screen = _screen(app)
        await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
        ghost, smol = screen.comparison.answers
        assert ghost.status == "failed" and "file not found" in ghost.error
        assert smol.status == "complete"
        notice = screen.panes[0].view.text
        assert "file not found" in notice and "Traceback" not in notice and len(notice.splitlines()) == 1


async def test_an_empty_prompt_is_refused_with_a_message():
    app = _replay_app(ReplayEngine("a", "x\n"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.click("PromptInput")
        await pilot.press("space", "enter")
        await pilot.pause(0.1)
        assert _screen(app).comparison is None
        assert any("empty" in str(n.message) for n in app._notifications)


async def test_model_picker_reopens_panes():
    app = _replay_app(ReplayEngine("a", "x\n"), ReplayEngine("b", "y\n"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause(0.1)
        assert app.screen.__class__.__name__ == "ModelPicker"
        await pilot.press("space")  # untick the first model
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert [p.model for p in _screen(app).panes] == ["b"]


def test_themes_load_and_an_unknown_theme_is_named():
    settings = load_settings()
    for name in ("workbench-dark", "workbench-light"):
        app = build_app(settings, [], [], theme=name)
        assert app.theme == name
    with pytest.raises(ThemeError, match="unknown theme 'nope'"):
        build_app(settings, [], [], theme="nope")


async def test_paint_rate_is_bounded_while_a_fast_model_streams():
    """Panes take text in batches: far fewer appends than tokens (about 30 a second)."""
    text = "tok " * 20_000
    app = _replay_app(ReplayEngine("a", text, delays=[0.0001] * 20_000))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = _screen(app)
        view = screen.panes[0].view
        calls = {"n": 0}
        original = view.append

        def counting(chunk):
            calls["n"] += 1
            original(chunk)

        view.append = counting
        await _send(pilot, "go")
        started = time.monotonic()
        await _wait(pilot, lambda: screen.comparison.finished, timeout=60)
        elapsed = time.monotonic() - started
        assert view.text.count("tok") == 20_000
        assert calls["n"] <= elapsed * 30 * 1.5 + 5


async def test_answers_are_logged_and_history_reopens_them(tmp_path):
    from workbench.store import Store
    from workbench.ui.screens.history import HistoryScreen, RecordScreen

    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    settings = load_settings()
    engines = [ReplayEngine("a", "```python\nprint('a')\n```\n"), ReplayEngine("b", "plain b\n")]
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    app = build_app(settings, [catalog.Entry(s) for s in specs], ["a", "b"],
                    pool_factory=lambda _s: EnginePool(engines), recorder=recorder)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _send(pilot, "first prompt")
            screen = _screen(app)
            await _wait(pilot, lambda: screen.comparison.finished)
            store.flush()
            rows = list(store_rows(tmp_path / "log.db"))
            assert [(r["model_name"], r["status"]) for r in rows] == [("a", "complete"), ("b", "complete")]
            assert rows[0]["text"] == "```python\nprint('a')\n```\n"
            await pilot.press("h")
            await _wait(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.query("DataTable")
                        and app.screen.query_one("DataTable").row_count == 1)
            await pilot.press("enter")
            await _wait(pilot, lambda: isinstance(app.screen, RecordScreen))
            await pilot.pause(0.2)
            panes = list(app.screen.query(AnswerPane))
            assert [p.model for p in panes] == ["a", "b"]
            assert "print('a')" in panes[0].view.text and "plain b" in panes[1].view.text
            assert "complete" in str(panes[0].query_one(".figures").render())
    finally:
        store.close()


def store_rows(path):
    import sqlite_utils

    return sqlite_utils.Database(path).query("SELECT * FROM responses ORDER BY position")

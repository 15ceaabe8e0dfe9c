"""Bugs a new user hit in the compare screen (issue 12): each test failed before its fix."""

from __future__ import annotations

import pytest
from pilot import send_prompt, wait_for

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.ui.app import build_app
from workbench.ui.widgets.answer_view import AnswerView

CODE = "Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n" + "More words follow here. " * 400


def _app(*engines, **kwargs):
    settings = load_settings()
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    entries = [catalog.Entry(s) for s in specs]
    by_name = {e.name: e for e in engines}
    return build_app(settings, entries, [s.name for s in specs],
                     pool_factory=lambda chosen: EnginePool([by_name[s.name] for s in chosen]), **kwargs)


def _slow(name: str, text: str, delay: float = 0.01) -> ReplayEngine:
    pieces = len(ReplayEngine(name, text).pieces)
    return ReplayEngine(name, text, delays=[delay] * pieces)


async def test_question_mark_and_escape_close_the_cheat_sheet_and_escape_does_not_stop_answers():
    app = _app(_slow("a", CODE, 0.02), _slow("b", CODE, 0.02))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.answers[0].count > 3)
        await pilot.press("question_mark")
        await pilot.pause()
        sheet = app.screen
        assert sheet is not screen
        text = sheet.cheat_sheet_text()
        assert "Scroll Left" not in text and "Scroll Right" not in text
        assert "← →" in text and "Move to the pane on the left / right" in text
        assert "1-6" in text and "Vote for pane" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert not screen.comparison.finished, "Escape closed the cheat-sheet and stopped the answers"
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is not screen
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is screen
        screen.comparison.cancel()


async def test_escape_in_the_prompt_bar_leaves_it_and_the_next_keys_reach_the_panes():
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await _burst(pilot, "slash", "a", "slash", "b")  # in the bar, / is a character
        assert screen.query_one("PromptInput").value == "a/b"
        await _burst(pilot, "escape", "z")
        assert screen._maximized is not None, "z after Escape did not reach the pane"


async def test_left_right_move_between_panes_not_scroll():
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.finished)
        screen.panes[0].view.focus()
        await pilot.pause()
        await pilot.press("right")
        await pilot.pause()
        assert screen._focused_index() == 1


async def test_keys_typed_right_after_slash_reach_the_prompt_bar():
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.finished)
        screen.panes[0].view.focus()
        await pilot.pause()
        await pilot.press("slash", "z", "z", "q")  # one burst, no pause between
        await pilot.pause()
        assert screen._maximized is None, "z reached the pane"
        assert screen.query_one("PromptInput").value == "zzq"


async def test_page_up_while_streaming_fast_stops_following():
    app = _app(_slow("a", CODE * 3, 0.0005))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        view = screen.panes[0].view
        await wait_for(pilot, lambda: view.max_scroll_y > 60)
        await pilot.press("pageup")
        await pilot.pause(0.3)
        assert not view.follow
        y = view.scroll_y
        assert y < view.max_scroll_y - 5
        await pilot.pause(0.3)
        assert view.scroll_y == y, "the pane kept following the stream after PageUp"
        await pilot.press("end")
        await pilot.pause(0.2)
        assert view.follow
        screen.comparison.cancel()


async def test_v_right_after_a_stop_runs_the_answer_once_it_has_stopped():
    text = "Here:\n\n```python\nprint(1 + 1)\n```\n\nAnd now a long explanation follows"
    pieces = len(ReplayEngine("a", text).pieces)
    # The stop lands between tokens: after the code block the model takes 1.5 s per token.
    app = _app(ReplayEngine("a", text, delays=[0.001] * 8 + [1.5] * (pieces - 8)))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        answer = screen.comparison.answers[0]
        await wait_for(pilot, lambda: answer.text.count("```") == 2)
        await pilot.press("s", "v")  # stop, and at once run it (the stop is still in flight)
        await wait_for(pilot, lambda: 0 in screen.round.verdicts, timeout=60)
        assert answer.status == "cancelled"
        assert screen.round.verdicts[0].outcome == "no-tests" and screen.round.verdicts[0].exit_status == 0
        assert screen.panes[0].badge == "▶ exit 0"


async def test_v_on_a_stopped_answer_runs_its_whole_code_block():
    app = _app(_slow("a", CODE, 0.02))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        answer = screen.comparison.answers[0]
        await wait_for(pilot, lambda: "```\n" in answer.text.split("```python", 1)[-1])
        await pilot.press("escape")  # leave the prompt bar / the pane has focus already
        screen.action_stop_all()
        await wait_for(pilot, lambda: screen.comparison.finished)
        await pilot.press("v")
        await wait_for(pilot, lambda: 0 in screen.round.verdicts, timeout=60)
        assert screen.round.verdicts[0].outcome not in ("no-code",)
        assert screen.panes[0].badge


async def _burst(pilot, *keys: str) -> None:
    """Keys as a terminal delivers a fast burst: all queued before the app handles the first."""
    from textual import events

    chars = {"slash": "/", "space": " "}
    for key in keys:
        pilot.app.post_message(events.Key(key, chars.get(key, key if len(key) == 1 else None)))
    await pilot.pause()
    await pilot.pause()


async def test_a_burst_after_slash_lands_in_the_prompt_bar():
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.finished)
        screen.panes[0].view.focus()
        await pilot.pause()
        await _burst(pilot, "slash", "z", "z", "q")
        assert screen._maximized is None, "z reached the pane"
        assert screen.query_one("PromptInput").value == "zzq"


async def test_a_burst_of_page_up_while_streaming_at_full_speed_stops_following():
    app = _app(ReplayEngine("a", CODE * 40))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        view = screen.panes[0].view
        await wait_for(pilot, lambda: view.max_scroll_y > 60, timeout=30)
        await _burst(pilot, "pageup")
        assert not view.follow
        y = view.scroll_y
        await pilot.pause(0.3)
        assert view.scroll_y == y, "the pane kept following the stream after PageUp"
        screen.comparison.cancel()


def _luminance(c) -> float:
    def channel(v: int) -> float:
        v = v / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


@pytest.mark.parametrize("theme", ["workbench-dark", "workbench-light"])
async def test_pane_borders_are_visible_in_every_theme(theme):
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE), theme=theme)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.screen.panes[1]  # not focused: the plain border
        background = app.screen.styles.background
        border = background + pane.styles.border_top[1]  # what the terminal draws: the border over the screen
        light, dark = sorted([_luminance(border), _luminance(background)], reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 2.0, (theme, border, background)


def _shown(widget) -> str:
    """The text a widget has on screen, row by row."""
    from textual.geometry import Region

    size = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height)))


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)])
async def test_the_f3_dialog_instruction_is_whole_at_every_size(size):
    app = _app(ReplayEngine("a", CODE), ReplayEngine("b", CODE))
    async with app.run_test(size=size) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        label = app.screen.query_one(".instructions")
        shown = " ".join(_shown(label).split())
        assert "Enter saves · Ctrl+S saves as your defaults for every launch · Escape cancels" in shown, shown


class Base(ReplayEngine):
    """A replay that says it runs in completion mode, as a base model does."""

    mode = "completion"


async def test_a_base_model_says_so_in_its_border_and_a_repeating_stop_is_named():
    looping = "Start:\n" + "print('hello world')\n" * 40
    app = _app(Base("base-model", looping), ReplayEngine("chat-model", CODE))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: "base · completion" in str(screen.panes[0].border_subtitle))
        assert "base" not in str(screen.panes[1].border_subtitle)
        await send_prompt(pilot, "go")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await pilot.pause(0.3)
        answer = screen.comparison.answers[0]
        assert answer.finish_reason == "repeating"
        assert "stopped: repeating" in str(screen.panes[0].query_one(".figures").render())


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_pane_figures_keep_their_units_and_token_count_at_narrow_widths(size):
    app = _app(ReplayEngine("alpha-model", CODE), ReplayEngine("beta-model", CODE))
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        await send_prompt(pilot, "hi")
        await wait_for(pilot, lambda: screen.comparison.finished)
        await pilot.pause(0.3)
        for pane in screen.panes:
            shown = _shown(pane.query_one(".figures"))
            assert " tok" in shown and ("t/s" in shown or "tok/s" in shown), shown
            assert "…" not in shown, shown

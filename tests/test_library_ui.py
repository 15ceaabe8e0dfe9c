"""The prompt library in the app: picker, editor, parameters; and ignored-parameter notes."""

from __future__ import annotations

from pilot import type_text as _type
from pilot import wait_for as _wait

from workbench import catalog
from workbench.core import Answer
from workbench.engines.pool import EnginePool
from workbench.config import ModelSpec, load_settings
from workbench.core import Request
from workbench.engines.remote import import_litellm, unsupported
from workbench.engines.replay import ReplayEngine
from workbench.figures import summary
from workbench.ui.app import build_app
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.screens.editor import ParamsDialog, PromptEditor
from workbench.ui.screens.prompt_picker import PromptPicker


class Recording(ReplayEngine):
    """A replay that keeps the requests it was sent."""

    def __init__(self, name):
        super().__init__(name, "ok\n")
        self.requests: list[Request] = []

    def stream(self, request, cancel):
        self.requests.append(request)
        yield from super().stream(request, cancel)


def _app():
    engine = Recording("a")
    spec = ModelSpec(name="a", engine="replay")
    app = build_app(load_settings(), [catalog.Entry(spec)], ["a"], pool_factory=lambda _s: EnginePool([engine]))
    return app, engine






async def test_picker_finds_a_prompt_by_tag_and_sends_it_with_its_settings():
    app, engine = _app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        screen.panes[0].view.focus()
        await pilot.press("p")
        await _wait(pilot, lambda: isinstance(app.screen, PromptPicker))
        await _type(pilot, "lru")
        await pilot.pause(0.1)
        picker = app.screen
        assert picker.shown and picker.shown[0].name == "lru-cache"
        assert "LRUCache" in str(picker.query_one("#preview").render())
        assert "{{" not in str(picker.query_one("#preview").render()), "the preview shows placeholders filled"
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, PromptEditor))
        await pilot.press("ctrl+s")
        await _wait(pilot, lambda: isinstance(app.screen, CompareScreen) and screen.comparison is not None
                    and screen.comparison.finished)
        sent = engine.requests[-1]
        assert "class `LRUCache`" in sent.prompt and "## Tests" not in sent.prompt
        assert screen.round.tags and "python" in screen.round.tags


async def test_the_editor_sends_a_multi_line_prompt():
    app, engine = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await _wait(pilot, lambda: isinstance(app.screen, PromptEditor))
        await _type(pilot, "line one")
        await pilot.press("enter")
        await _type(pilot, "line two")
        await pilot.press("ctrl+s")
        await _wait(pilot, lambda: engine.requests)
        assert engine.requests[-1].prompt == "line one\nline two"


async def test_parameters_and_system_prompt_go_to_every_model():
    app, engine = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await _wait(pilot, lambda: isinstance(app.screen, ParamsDialog))
        await _type(pilot, "Be terse.")
        for field, value in (("#max_tokens", "64"), ("#temperature", "0"), ("#seed", "7")):
            dialog = app.screen
            dialog.query_one(field).value = value
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, CompareScreen))
        params = str(app.screen.query_one(".params").render())
        assert "max 64 tok" in params and "seed 7" in params and "system" in params
        await pilot.click("PromptInput")
        await _type(pilot, "hi")
        await pilot.press("enter")
        await _wait(pilot, lambda: engine.requests)
        sent = engine.requests[-1]
        assert (sent.system, sent.max_tokens, sent.temperature, sent.seed) == ("Be terse.", 64, 0.0, 7)


def test_a_hosted_model_without_seed_is_named_in_the_header():
    litellm = import_litellm()
    claude = ModelSpec(name="c", engine="litellm", model="anthropic/claude-3-5-sonnet")
    gpt = ModelSpec(name="g", engine="litellm", model="openai/gpt-4o-mini")
    request = Request("q", seed=1, temperature=0)
    assert unsupported(litellm, claude, request) == ("seed",)
    assert unsupported(litellm, gpt, request) == ()
    answer = Answer(0, "c", "anthropic", ignored=("seed",))
    assert "ignored seed" in summary(answer)

"""The compare screen: a prompt bar over one pane per model, all streaming at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from string import ascii_uppercase

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from workbench.compare import Comparison, EnginePool
from workbench.engines.base import Request
from workbench.figures import summary
from workbench.ui.render import CodeStyle
from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.answer_view import AnswerView
from workbench.ui.widgets.prompt_bar import PromptBar

FRAME_S = 1 / 30  # paint at most ~30 times a second


class CompareScreen(Screen):
    """Sends each prompt to every open model and streams the answers side by side."""

    BINDINGS = [
        Binding("escape", "stop_all", "Stop all"),
        Binding("s", "stop_one", "Stop pane"),
        Binding("r", "regenerate", "Regenerate"),
        Binding("z", "maximize", "Maximise"),
        Binding("y", "toggle_sync", "Sync scroll"),
        Binding("slash", "focus_prompt", "Prompt"),
        Binding("ctrl+o", "pick_models", "Models"),
        Binding("h", "history", "History"),
        Binding("left", "focus_pane(-1)", "Pane left", show=False),
        Binding("right", "focus_pane(1)", "Pane right", show=False),
    ]

    def __init__(self, specs: list, request_defaults: dict, code_style: CodeStyle, accent: str,
                 pool_factory: Callable[[list], EnginePool] = EnginePool.for_specs, recorder=None) -> None:
        super().__init__()
        self.recorder = recorder
        self.pool_factory = pool_factory
        self.specs = list(specs)
        self.defaults = request_defaults
        self.code_style = code_style
        self.accent = accent
        self.pool = self.pool_factory(self.specs)
        self.comparison: Comparison | None = None
        self.sync_scroll = True
        self._consumed: list[int] = []
        self._shown: list[object] = []
        self._maximized: AnswerPane | None = None
        self._timer = None

    # -- building -------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield from self._make_panes()
        yield PromptBar(self._params_text())
        yield Footer()

    def _make_panes(self) -> list[AnswerPane]:
        return [
            AnswerPane(f"{ascii_uppercase[i]}", engine.name, engine.where(), self.code_style, self.accent)
            for i, engine in enumerate(self.pool.engines)
        ]

    def _params_text(self) -> str:
        d = self.defaults
        parts = [f"max {d['max_tokens']} tok"]
        if d.get("temperature") is not None:
            parts.append(f"T {d['temperature']:g}")
        if d.get("seed") is not None:
            parts.append(f"seed {d['seed']}")
        return " · ".join(parts)

    @property
    def panes(self) -> list[AnswerPane]:
        """The panes, left to right."""
        return list(self.query(AnswerPane))

    def on_mount(self) -> None:
        self._timer = self.set_interval(FRAME_S, self._paint, pause=True)
        self.query_one(PromptBar).input.focus()
        self._greet()
        self.call_after_refresh(self._warm_up)

    def _greet(self) -> None:
        for pane in self.panes:
            pane.show_figures("idle", "ready")

    def _warm_up(self) -> None:
        self._preload()
        if any(getattr(s, "engine", None) == "litellm" for s in self.specs):
            self._import_litellm()

    @work(thread=True, exclusive=True, group="preload")
    def _preload(self) -> None:
        """Load local models before the first prompt; failures show in their panes at once."""
        pool = self.pool
        self.app.call_from_thread(self._show_loading)
        errors = pool.preload()
        self.app.call_from_thread(self._after_preload, pool, errors)

    def _show_loading(self) -> None:
        for pane, spec in zip(self.panes, self.specs):
            if getattr(spec, "is_local", False):
                pane.show_figures("loading", "loading model…")

    def _after_preload(self, pool: EnginePool, errors: dict[str, str]) -> None:
        if pool is not self.pool:
            return  # the models were changed while these loaded
        for pane, engine in zip(self.panes, self.pool.engines):
            pane.set_where(engine.where())
            if self.comparison is not None:
                continue
            if engine.name in errors:
                pane.show_figures("failed", "failed to load")
                pane.view.set_notice(Text(f"✗ {errors[engine.name]}", style="bold red"))
            else:
                pane.show_figures("idle", "ready")

    @work(thread=True, group="warm")
    def _import_litellm(self) -> None:
        """Import litellm off the UI thread, after the first paint."""
        from workbench.engines.remote import import_litellm

        try:
            import_litellm()
        except Exception:  # noqa: BLE001 - the remote pane reports it when it is used
            pass

    # -- prompting ------------------------------------------------------
    @on(PromptBar.Submitted)
    def start_comparison(self, event: PromptBar.Submitted) -> None:
        """Send the prompt to every model at once."""
        if not event.text.strip():
            self.notify("The prompt is empty: type something to ask the models.", severity="error")
            return
        if self.comparison is not None:
            self.comparison.cancel()
        request = Request(prompt=event.text, **self.defaults)
        subscribers = [self.recorder.on_event] if self.recorder else []
        self.comparison = Comparison(self.pool.engines, request, subscribers)
        if self.recorder:
            self.recorder.record(self.comparison)  # enqueued: the writer thread does the I/O
        self._consumed = [0] * len(self.pool.engines)
        self._shown = [None] * len(self.pool.engines)
        for pane in self.panes:
            pane.view.clear()
        self.comparison.start()
        self._timer.resume()
        self._paint()
        if self.panes:
            (self._maximized or self.panes[0]).view.focus()

    def _paint(self) -> None:
        """Move new text from the answers into their panes: one batch per pane per frame."""
        comparison = self.comparison
        if comparison is None:
            return
        now = time.monotonic()
        all_done = True
        for i, (pane, answer) in enumerate(zip(self.panes, comparison.answers)):
            if self._shown[i] is not answer:  # a regenerated answer replaces the old one
                self._shown[i] = answer
                self._consumed[i] = 0
                pane.view.clear()
            # Read `finished` before the pieces: the engine thread appends its last piece
            # before it marks the answer finished, so nothing can slip between the two reads.
            finished = answer.finished
            all_done = all_done and finished
            pieces = answer.pieces
            count = len(pieces)
            if count > self._consumed[i]:
                pane.view.append("".join(pieces[self._consumed[i]:count]))
                self._consumed[i] = count
            if finished and pane.view.doc.partial:
                pane.view.finish()
            if finished and answer.error and not pane.view.has_notice:
                pane.view.set_notice(Text(f"✗ {answer.error}", style="bold red"))
            pane.set_where(answer.where)
            pane.show_figures(answer.status, summary(answer, now))
        if all_done:
            self._timer.pause()

    # -- actions --------------------------------------------------------
    def _focused_index(self) -> int | None:
        focused = self.focused
        for i, pane in enumerate(self.panes):
            if focused is not None and (focused is pane or pane in focused.ancestors):
                return i
        return None

    def action_stop_all(self) -> None:
        """Stop every answer still streaming."""
        if self.comparison is not None and not self.comparison.finished:
            self.comparison.cancel()
            self.notify("Stopped all answers.", timeout=2)

    def action_stop_one(self) -> None:
        """Stop the focused pane's answer; the others carry on."""
        index = self._focused_index()
        if self.comparison is not None and index is not None:
            self.comparison.cancel(index)

    def action_regenerate(self) -> None:
        """Ask the focused pane's model again."""
        index = self._focused_index()
        if self.comparison is None or index is None:
            self.notify("Focus a pane with an answer to regenerate it.", severity="warning", timeout=3)
            return
        self.comparison.regenerate(index)
        self._timer.resume()

    def action_maximize(self) -> None:
        """Give the focused pane the whole width, or restore the side-by-side view."""
        if self._maximized is not None:
            for pane in self.panes:
                pane.display = True
            self._maximized = None
            return
        index = self._focused_index()
        if index is None:
            return
        self._maximized = self.panes[index]
        for pane in self.panes:
            pane.display = pane is self._maximized

    def action_toggle_sync(self) -> None:
        """Scroll the panes together, or each on its own."""
        self.sync_scroll = not self.sync_scroll
        self.notify(f"Scroll sync {'on' if self.sync_scroll else 'off'}.", timeout=2)

    def action_focus_prompt(self) -> None:
        """Back to the prompt bar."""
        self.query_one(PromptBar).input.focus()

    def action_focus_pane(self, step: int) -> None:
        """Move focus to the pane on the left or right."""
        panes = [p for p in self.panes if p.display]
        if not panes:
            return
        index = self._focused_index()
        current = self.panes[index] if index is not None else None
        pos = panes.index(current) if current in panes else -step
        panes[(pos + step) % len(panes)].view.focus()

    @on(AnswerView.Scrolled)
    def mirror_scroll(self, event: AnswerView.Scrolled) -> None:
        """Scrolling one pane scrolls the others to the same line."""
        if not self.sync_scroll:
            return
        for pane in self.panes:
            if pane.view is not event.view:
                pane.view.sync_to(event.y)

    def action_history(self) -> None:
        """Browse past prompts in the log."""
        if self.recorder is None:
            self.notify("No log is open.", severity="warning", timeout=3)
            return
        from workbench.ui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.recorder.store.path, self.code_style, self.accent))

    def action_pick_models(self) -> None:
        """Choose which models get a pane."""
        from workbench.ui.screens.model_picker import ModelPicker

        self.app.push_screen(ModelPicker(self.app.entries, [s.name for s in self.specs]), self._set_models)

    async def _set_models(self, names: list[str] | None) -> None:
        if not names or names == [s.name for s in self.specs]:
            return
        if self.comparison is not None:
            self.comparison.cancel()
        by_name = {e.spec.name: e.spec for e in self.app.entries}
        old = self.pool
        self.specs = [by_name[n] for n in names]
        self.pool = self.pool_factory(self.specs)
        self.comparison = None
        self._maximized = None
        self._close_pool(old)
        container = self.query_one("#panes")
        await container.remove_children()
        await container.mount_all(self._make_panes())
        self.call_after_refresh(self._greet)
        self.call_after_refresh(self._warm_up)

    @work(thread=True, group="close", exit_on_error=False)
    def _close_pool(self, pool: EnginePool) -> None:
        pool.close()

    def on_unmount(self) -> None:
        if self.comparison is not None:
            self.comparison.cancel()
        self.pool.close()

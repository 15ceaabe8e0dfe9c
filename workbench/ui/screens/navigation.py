"""Moving around the compare screen: maximise, scroll sync, focus, other screens, choosing models."""

from __future__ import annotations

from textual import work

from workbench.engines.pool import EnginePool
from workbench.ui.widgets.prompt_bar import PromptBar


class NavigationMixin:
    """Layout and navigation actions for `CompareScreen`; the screen owns the state they change."""

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

    def action_history(self) -> None:
        """Browse past prompts in the log."""
        if self.recorder is None:
            self.notify("No log is open.", severity="warning", timeout=3)
            return
        from workbench.ui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.recorder.store.path, self.code_style, self.accent))

    def action_leaderboard(self) -> None:
        """Ratings from the votes in the log."""
        if self.recorder is None:
            self.notify("No log is open.", severity="warning", timeout=3)
            return
        self._open_leaderboard()

    @work(thread=True, exclusive=True, group="leaderboard")
    def _open_leaderboard(self) -> None:
        """Wait for the writer to commit the latest vote (off the UI thread), then show the ratings."""
        from workbench.ui.screens.leaderboard import LeaderboardScreen

        store = self.recorder.store
        store.flush()
        self.app.call_from_thread(self.app.push_screen, LeaderboardScreen(store.path))

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
        self.draw_from = []
        self.round = None
        self._maximized = None
        self._close_pool(old)
        container = self.query_one("#panes")
        await container.remove_children()
        await container.mount_all(self._make_panes(self.pool.engines))
        self.refresh_bindings()
        self.call_after_refresh(self._greet)
        self.call_after_refresh(self._warm_up)

    @work(thread=True, group="close", exit_on_error=False)
    def _close_pool(self, pool: EnginePool) -> None:
        pool.close()

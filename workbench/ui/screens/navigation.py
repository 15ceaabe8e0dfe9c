"""Moving around the compare screen: maximise, scroll sync, focus, other screens, choosing models."""

from __future__ import annotations

from textual import work
from textual.actions import SkipAction
from textual.binding import Binding

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
        """Back to the prompt bar, at once: keys typed in the same burst as `/` must land in it.

        The binding is a priority one, so it runs as the app takes the key, before it routes the
        next keys of the burst to the focused widget (an ordinary binding runs when the key has
        bubbled up from the old focus, after the next keys were sent there); `set_focus`, not
        `focus()`, which moves focus only on a later turn of the loop. In the bar `/` is a character.
        """
        bar = self.query_one(PromptBar).input
        if self.focused is bar:
            raise SkipAction()
        self.set_focus(bar)

    def action_leave_prompt(self) -> None:
        """Escape in the prompt bar: to the panes (the maximised one, or the first), at once."""
        panes = [p for p in self.panes if p.display]
        if panes:
            self.set_focus((self._maximized or panes[0]).view)

    def key_rows(self) -> list[tuple[str, str, str, str]]:
        """(group, key as the user sees it, what it does, action) for every action, as bound now.

        Keys rebound in `config.toml` show as rebound: the sheet and the palette read the keymap.
        """
        from workbench.ui.screens.cheat_sheet import ACTIONS

        keymap = getattr(self.app, "keymap", {}) or {}
        rows, seen = [], set()
        for binding in self.BINDINGS:
            name = binding.action.split("(")[0]
            if name in seen or name not in ACTIONS:
                continue
            seen.add(name)
            group, what = ACTIONS[name]
            key = keymap.get(binding.id or "")
            if key is None and binding.key_display:
                shown = binding.key_display
            else:
                shown = ", ".join(self.app.get_key_display(Binding(k.strip(), "")) for k in (key or binding.key).split(","))
            if name == "focus_pane" and key is None:
                shown = "← →"
            rows.append((group, shown, what, binding.action))
        return rows

    def action_show_keys(self) -> None:
        """The cheat-sheet: every key, grouped; `?` again closes it."""
        from workbench.ui.screens.cheat_sheet import CheatSheet

        self.app.push_screen(CheatSheet([(g, k, w) for g, k, w, _ in self.key_rows()]))

    def action_focus_pane(self, step: int) -> None:
        """Move focus to the pane on the left or right."""
        panes = [p for p in self.panes if p.display]
        if not panes:
            return
        index = self._focused_index()
        current = self.panes[index] if index is not None else None
        pos = panes.index(current) if current in panes else -step
        self.set_focus(panes[(pos + step) % len(panes)].view)  # at once, as in action_focus_prompt

    def action_parity(self) -> None:
        """What each pane's model received: its prompt text, parameters as applied, context, stops (`i`).

        Read from the answers under their locks (no engine, no log); names stay hidden in a blind round.
        """
        round_ = self.round
        if round_ is None:
            self.notify("Send a prompt first: this shows what each model received.", severity="warning", timeout=3)
            return
        from workbench.ui.screens.parity import ParityScreen

        hidden = round_.hidden
        panes = [(pane.label, None if hidden else answer.model, answer.snapshot().received)
                 for pane, answer in zip(self.panes, round_.comparison.answers)]
        self.app.push_screen(ParityScreen(panes, hidden=hidden))

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
        self.app.call_from_thread(self.app.push_screen, LeaderboardScreen(store.path, min_votes=self.app.min_votes))

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

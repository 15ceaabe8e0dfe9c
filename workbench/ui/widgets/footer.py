"""The key bar: one line of the keys that work now, repainted only when they change."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

PALETTE = "▏"  # between the keys and the palette key, as Textual's compact footer draws it


class KeyBar(Widget):
    """The keys of the focused widget and its screen, as Textual's compact Footer lists them, in one widget.

    Textual's Footer rebuilds itself on every focus move (its `bindings_updated` signal fires whenever
    the focus chain changes): it mounts a widget per key, restyles and lays out the screen — about
    100 ms of CPU on this 2-core machine each time focus moves between the prompt bar and the panes,
    which is when a new prompt starts its models. This bar works out the list, compares it with what
    it shows, and repaints one line when it differs. Clicking a key runs it, as in Textual's footer.
    Keys that do not fit are left out whole, never cut mid-word; the palette key stays at the right.
    """

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    """

    ALLOW_SELECT = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: tuple = ()  # (key shown, description, enabled, namespace, action) as shown now
        self._palette: tuple | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        keys, palette = self._now(screen)
        if (keys, palette) != (self._keys, self._palette):
            self._keys, self._palette = keys, palette
            self.refresh()

    def _now(self, screen: Screen) -> tuple[tuple, tuple | None]:
        app = self.app
        keys, actions = [], set()
        active = screen.active_bindings
        for node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in actions:
                continue  # one entry per action (its first key), as the footer shows them
            actions.add(binding.action)
            keys.append((app.get_key_display(binding), binding.description, enabled, node, binding.action))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and (found := active.get(app.COMMAND_PALETTE_BINDING)):
            node, binding, enabled, _ = found
            palette = (app.get_key_display(binding), binding.description, enabled, node, binding.action)
        return tuple(keys), palette

    def _item(self, key: tuple) -> Content:
        shown, description, enabled, _node, _action = key
        item = Content.assemble((shown, "bold $footer-key-foreground"), " ",
                                (description, "$footer-description-foreground"))
        return item if enabled else item.stylize("dim")

    def render(self) -> Content:
        width = self.size.width
        palette = self._item(self._palette) if self._palette else None
        room = width - (palette.cell_length + 1 if palette else 0)
        parts, used = [], 0
        for key in self._keys:
            item = self._item(key)
            if used + item.cell_length > room:
                break
            parts.append(item)
            used += item.cell_length + 1
        line = Content(" ").join(parts)
        if palette is not None:
            line = Content.assemble(line, " " * max(0, room - line.cell_length),
                                    (PALETTE, "$foreground 20%"), palette)
        return line

    def _key_at(self, x: int) -> tuple | None:
        """The key drawn at column `x` (laid out as `render` lays them out)."""
        width = self.size.width
        palette = self._item(self._palette) if self._palette else None
        room = width - (palette.cell_length + 1 if palette else 0)
        if palette is not None and x >= room:
            return self._palette
        used = 0
        for key in self._keys:
            length = self._item(key).cell_length
            if used + length > room:
                return None
            if used <= x < used + length:
                return key
            used += length + 1
        return None

    async def _on_click(self, event: events.Click) -> None:
        key = self._key_at(event.x)
        if key is not None and key[2]:
            event.stop()
            await self.app.run_action(key[4], key[3])

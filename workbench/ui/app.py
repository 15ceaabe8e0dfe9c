"""The Textual app and the one factory that the CLI and the tests use to build it."""

from __future__ import annotations

from pathlib import Path

from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding

from workbench.engines.pool import EnginePool
from workbench.ui.render import CodeStyle
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.themes import ThemeError, ThemeFile, load_themes


class KeymapError(Exception):
    """A `[keys]` entry naming no binding of the app, in one line."""


def check_keymap(keys: dict[str, str], where: str = "config") -> None:
    """Every rebound id must be one of the compare screen's bindings (a typo must not pass silently)."""
    known = {b.id for b in CompareScreen.BINDINGS if b.id}
    for binding in keys:
        if binding not in known:
            raise KeymapError(f"{where}: [keys] has no binding called {binding!r} (ids: {', '.join(sorted(known))})")


class WorkbenchApp(App):
    """Compare models side by side; everything it shows comes from the core."""

    TITLE = "workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, entries: list, names: list[str], theme: ThemeFile, themes: dict[str, ThemeFile],
                 request_defaults: dict | None = None, pool_factory=None, recorder=None,
                 blind: bool = False, pool: list[str] | None = None, clock=None,
                 keys: dict[str, str] | None = None, min_votes: int | None = None) -> None:
        super().__init__()
        self.min_votes = min_votes
        """Votes a model needs to be ranked on the leaderboard (None: the leaderboard's default)."""
        self.keymap = dict(keys or {})
        """Rebound keys from `config.toml`'s `[keys]` (binding id → key)."""
        if self.keymap:
            self.set_keymap(self.keymap)
        self.clock = clock
        self.blind = blind
        self.draw_from = pool
        self.recorder = recorder
        self.pool_factory = pool_factory
        self.entries = entries
        self.names = names
        self.theme_file = theme
        self.theme_files = themes
        self.request_defaults = {"max_tokens": 1024, "temperature": None, "seed": None, "top_p": None}
        self.request_defaults.update(request_defaults or {})
        for tf in themes.values():
            self.register_theme(tf.theme)
        self.theme = theme.theme.name

    def get_system_commands(self, screen):
        """The command palette (Ctrl+P): every action of the compare screen, with its key beside it."""
        if isinstance(screen, CompareScreen):
            for group, key, what, action in screen.key_rows():
                yield SystemCommand(f"{what}  ({key})", f"{group} · key: {key}", partial(screen.run_action, action))
        yield SystemCommand("Theme", "Change the theme", self.action_change_theme)
        yield SystemCommand("Quit  (ctrl+q)", "Quit the workbench", self.action_quit)

    def on_mount(self) -> None:
        by_name = {e.spec.name: e.spec for e in self.entries}
        specs = [by_name[n] for n in self.names]
        code_style = CodeStyle(self.theme_file.code_style)
        accent = self.theme_file.accent
        kwargs = {"pool_factory": self.pool_factory} if self.pool_factory else {}
        kwargs["recorder"] = self.recorder
        kwargs["blind"] = self.blind
        if self.clock is not None:
            kwargs["clock"] = self.clock
        if self.draw_from:
            kwargs["pool"] = self.draw_from
            if not self.pool_factory:
                kwargs["pool_factory"] = lambda specs: EnginePool.for_specs(specs, at_once=2)
        self.push_screen(CompareScreen(specs, self.request_defaults, code_style, accent, **kwargs))


def build_app(settings, entries: list, names: list[str], theme: str = "workbench-dark",
              themes_folder: Path | None = None, request_defaults: dict | None = None,
              pool_factory=None, recorder=None, blind: bool = False,
              pool: list[str] | None = None, clock=None) -> WorkbenchApp:
    """Build the app for the given models; raises ThemeError for an unknown theme, KeymapError for a bad `[keys]`."""
    themes = load_themes(themes_folder)
    if theme not in themes:
        raise ThemeError(f"unknown theme '{theme}' (available: {', '.join(sorted(themes)) or 'none'})")
    keys = dict(getattr(settings, "keys", {}) or {})
    check_keymap(keys, str(getattr(settings, "config_path", "config")))
    return WorkbenchApp(entries, names, themes[theme], themes, request_defaults, pool_factory, recorder,
                        blind, pool, clock, keys, getattr(settings, "leaderboard_min_votes", None))

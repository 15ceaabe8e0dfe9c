"""Finishing in the app: export the session (HTML by default) and save a screenshot, from a key or the palette."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RadioButton, RadioSet

from workbench.export import ANSWER_FORMATS


def free_name(folder: Path, stem: str, suffix: str) -> Path:
    """`stem.suffix` in `folder`, or `stem-2.suffix`, … : a name nothing has yet (never overwrite silently)."""
    path = folder / f"{stem}{suffix}"
    n = 2
    while os.path.lexists(path):
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


class ExportDialog(ModalScreen[tuple[str, str] | None]):
    """Which format, and which file; Enter exports, Escape cancels. Returns (format, path)."""

    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 72; max-width: 100%; height: auto; border: round $primary;
                              background: $panel; padding: 0 1; }
    ExportDialog .hint { width: 1fr; color: $text-muted; }
    ExportDialog RadioSet { layout: horizontal; width: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: int, folder: Path) -> None:
        super().__init__()
        self.session = session
        self.folder = folder
        self.format = "html"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export session {self.session} · Enter writes the file · Escape cancels", classes="hint")
            with RadioSet():
                for fmt in ANSWER_FORMATS:
                    yield RadioButton(fmt, value=fmt == "html", name=fmt)
            yield Input(str(self._suggest("html")), id="path")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def _suggest(self, fmt: str) -> Path:
        return free_name(self.folder, f"workbench-session-{self.session}", ANSWER_FORMATS[fmt])

    @on(RadioSet.Changed)
    def _format_changed(self, event: RadioSet.Changed) -> None:
        self.format = event.pressed.name or "html"
        self.query_one("#path", Input).value = str(self._suggest(self.format))

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if path:
            self.dismiss((self.format, path))

    def action_cancel(self) -> None:
        """Export nothing."""
        self.dismiss(None)


class ExportingMixin:
    """`x` exports the session on screen; F12 saves a screenshot. The writing runs in thread workers."""

    def action_export(self) -> None:
        """Choose a format and a file, then export the session (every turn, votes and runs)."""
        recorder = self.recorder
        if recorder is None:
            self.notify("No log is open, so there is nothing to export.", severity="warning", timeout=4)
            return
        if recorder.session_id is None:
            self.notify("Nothing to export yet: send a prompt first.", severity="warning", timeout=4)
            return

        def chosen(result: tuple[str, str] | None) -> None:
            if result is not None:
                self._export(recorder.store, recorder.session_id, *result)

        self.app.push_screen(ExportDialog(recorder.session_id, Path()), chosen)  # names relative to the cwd

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, store, session: int, fmt: str, path: str) -> None:
        """Wait for the log to hold every write so far, then write the export beside its target and rename."""
        from workbench import export
        from workbench.store import StoreError, open_for_reading

        target = Path(path).expanduser()
        if os.path.lexists(target):
            self.app.call_from_thread(self.notify, f"{target}: already exists; choose another name",
                                      title="Not exported", severity="error", timeout=8)
            return
        try:
            store.flush()
            log = open_for_reading(store.path)
            try:
                count = export.write_file(fmt, log, target, session)
            finally:
                log.conn.close()
        except (export.ExportError, StoreError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not exported", severity="error", timeout=10)
            return
        self.app.call_from_thread(self.notify, f"Exported {count} answer{'s' * (count != 1)} to "
                                  f"{target.resolve()}", title="Exported", timeout=10)

    def action_screenshot(self) -> None:
        """Save what the screen shows as an SVG in the current folder."""
        svg = self.app.export_screenshot()  # reads the screen: on the UI thread, then written off it
        self._write_screenshot(svg, free_name(Path.cwd(), "workbench-screenshot", ".svg"))

    @work(thread=True, group="screenshot", exit_on_error=False)
    def _write_screenshot(self, svg: str, path: Path) -> None:
        try:
            with open(path, "x", encoding="utf-8") as out:  # "x": never over a file that appeared meanwhile
                out.write(svg)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"{path}: the screenshot was not saved: {exc.strerror or exc}",
                                      title="Not saved", severity="error", timeout=10)
            return
        self.app.call_from_thread(self.notify, f"Screenshot saved: {path.resolve()}", timeout=6)

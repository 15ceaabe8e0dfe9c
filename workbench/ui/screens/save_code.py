"""A small dialog asking for the file name to write a code block to."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class SaveCode(ModalScreen[tuple[str, bool] | None]):
    """Asks for a file name; returns (name, overwrite) or None (Escape).

    `exists` is the full path of a file that the last try found already there: submitting the same
    name again overwrites it (the dialog says so); any other name is written only if it is new.
    """

    DEFAULT_CSS = """
    SaveCode { align: center middle; }
    SaveCode > Vertical { width: 80; max-width: 95%; height: auto; border: round $primary;
                          background: $panel; padding: 0 1; }
    SaveCode Input { margin: 1 0 0 0; }
    SaveCode .hint { color: $text-muted; }
    SaveCode .warning { color: $warning; text-style: bold; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, name: str, folder: str, exists: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.suggested = name
        self.folder = folder
        self.exists = exists

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Write {self.what} to:", markup=False)
            yield Input(self.suggested, id="file-name")
            if self.exists:
                yield Label(f"{self.exists} exists: Enter again overwrites it, or change the name.",
                            classes="warning", id="exists", markup=False)
            yield Label(f"A relative name is in {self.folder} · Enter writes · Escape cancels", classes="hint",
                        markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self.notify("Type a file name (or Escape to cancel).", severity="warning", timeout=3)
            return
        self.dismiss((name, bool(self.exists) and name == self.suggested))

    def action_cancel(self) -> None:
        self.dismiss(None)

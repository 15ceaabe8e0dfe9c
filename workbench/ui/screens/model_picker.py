"""A modal list of every known model; pick 1 to 6 to open as panes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection


class ModelPicker(ModalScreen[list[str] | None]):
    """Space toggles a model, Enter opens the chosen ones, Escape cancels."""

    DEFAULT_CSS = """
    ModelPicker { align: center middle; }
    ModelPicker > Vertical { width: 90; height: auto; max-height: 80%; border: round $primary; background: $panel; padding: 0 1; }
    ModelPicker SelectionList { height: auto; max-height: 20; }
    ModelPicker .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "apply", "Open", priority=True),
    ]

    def __init__(self, entries: list, chosen: list[str]) -> None:
        super().__init__()
        self.entries = entries
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        selections = []
        for entry in self.entries:
            name = entry.spec.name
            label = f"{name:<20} {entry.spec.engine:<8}"
            label += "" if entry.available else f" unavailable: {entry.reason}"
            selections.append(Selection(Content(label), name, name in self.chosen, disabled=not entry.available))
        with Vertical():
            yield Label("Models — Space toggles, Enter opens (1 to 6), Escape cancels", classes="hint")
            yield SelectionList[str](*selections)

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        """Open the chosen models, in catalog order."""
        order = [e.spec.name for e in self.entries]
        picked = sorted(self.query_one(SelectionList).selected, key=order.index)
        if not 1 <= len(picked) <= 6:
            self.notify("Choose between 1 and 6 models.", severity="error")
            return
        self.dismiss(picked)

    def action_cancel(self) -> None:
        """Keep the current panes."""
        self.dismiss(None)

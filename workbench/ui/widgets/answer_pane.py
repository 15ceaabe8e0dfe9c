"""One model's pane: a header of live figures over the streaming answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from workbench.ui.render import CodeStyle
from workbench.ui.widgets.answer_view import AnswerView

STATUS_STYLE = {
    "waiting": "dim",
    "loading": "dim italic",
    "streaming": "bold $primary",
    "complete": "bold $success",
    "cancelled": "bold $warning",
    "failed": "bold $error",
    "interrupted": "bold $warning",
    "idle": "dim",
}


class AnswerPane(Vertical):
    """A model's name and where it runs (border), its figures (header), its answer (body)."""

    DEFAULT_CSS = """
    AnswerPane {
        width: 1fr;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
    }
    AnswerPane:focus-within { border: round $primary; }
    AnswerPane > .figures { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, label: str, model: str, where: str, code_style: CodeStyle, accent: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.model = model
        self._code_style = code_style
        self._accent = accent
        self._figures = ""
        self.set_where(where)

    def compose(self) -> ComposeResult:
        yield Static("", classes="figures")
        yield AnswerView(self._code_style, accent=self._accent)

    @property
    def view(self) -> AnswerView:
        """The answer body."""
        return self.query_one(AnswerView)

    def set_where(self, where: str) -> None:
        """Show the model and where it runs."""
        self.border_title = Content(f"{self.label} {self.model}")
        self.border_subtitle = Content(where)

    def show_figures(self, status: str, line: str) -> None:
        """Update the figures line (only when it changed)."""
        if line == self._figures:
            return
        self._figures = line
        style = STATUS_STYLE.get(status, "dim")
        self.query_one(".figures", Static).update(Content.from_markup(f"[{style}]●[/] $line", line=line))

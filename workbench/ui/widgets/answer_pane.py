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
    "truncated": "bold $warning",
    "cancelled": "bold $warning",
    "failed": "bold $error",
    "interrupted": "bold $warning",
    "stopped: repeating": "bold $warning",
    "idle": "dim",
}


STALE = "prompt predates cutoff"
"""The border's flag on an answer whose model could have trained on the prompt (`workbench.prompts.stale`)."""


class AnswerPane(Vertical):
    """A model's name and where it runs (border), its figures (header), its answer (body)."""

    DEFAULT_CSS = """
    AnswerPane {
        width: 1fr;
        height: 1fr;
        border: round $foreground 35%;  /* a blend, so it shows on light and dark themes alike */
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
    }
    AnswerPane:focus-within { border: round $primary; }
    AnswerPane > .figures { height: 1; width: 1fr; padding: 0 1; background: $panel; }
    """

    def __init__(self, label: str, model: str, where: str, code_style: CodeStyle, accent: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.model = model
        self._code_style = code_style
        self._accent = accent
        self._figures = ""
        self._where = where
        self.hidden_identity = False
        """Blind: show only the label until the vote reveals the model."""
        self.vote_mark = ""
        self.badge = ""
        """The verification mark ('✓ 5/5'), shown in the border beside where the model runs."""
        self.mode = "chat"
        """`completion` for a base model: the border says `base · completion`, so its style is no surprise."""
        self.stale = False
        """The prompt was created by the model's cutoff (it could have trained on it): the border says so, once the
        name is shown (a flag that depends on the model's date would tell blind panes apart)."""
        self._refresh_titles()

    def compose(self) -> ComposeResult:
        yield Static("", classes="figures")
        yield AnswerView(self._code_style, accent=self._accent)

    @property
    def view(self) -> AnswerView:
        """The answer body."""
        return self.query_one(AnswerView)

    @property
    def figures_width(self) -> int:
        """Columns the figures line has after the status dot: its compact form is chosen to fit them."""
        return max(0, self.size.width - 6)  # the border, the padding and "● "

    @property
    def where(self) -> str:
        """Where the model runs, as the border shows it."""
        return self._where

    def set_where(self, where: str) -> None:
        """Show where the model runs."""
        if where != self._where:
            self._where = where
            self._refresh_titles()

    def set_identity(self, label: str, model: str, where: str, hidden: bool) -> None:
        """Which model this pane shows now (per prompt: blind panes are shuffled)."""
        self.label, self.model, self._where, self.hidden_identity = label, model, where, hidden
        self.vote_mark = ""
        self.badge = ""
        self.stale = False
        self._refresh_titles()

    def set_stale(self, stale: bool) -> None:
        """Flag (or not) an answer to a prompt created on or before the model's cutoff."""
        if stale != self.stale:
            self.stale = stale
            self._refresh_titles()

    def set_mode(self, mode: str) -> None:
        """Chat or completion (a base model, labelled so in the border)."""
        if mode != self.mode:
            self.mode = mode
            self._refresh_titles()

    def set_vote_mark(self, mark: str) -> None:
        """Show this pane's part in the vote ('★ winner', 'tie', …) in its border."""
        self.vote_mark = mark
        self._refresh_titles()

    def set_badge(self, badge: str) -> None:
        """Show the verification result in the border."""
        self.badge = badge
        self._refresh_titles()

    def _refresh_titles(self) -> None:
        mark = f" {self.vote_mark}" if self.vote_mark else ""
        badge = f"{self.badge} · " if self.badge else ""
        if self.hidden_identity:
            self.border_title = Content(f"{self.label}{mark}")
            self.border_subtitle = Content(f"{badge}blind")
        else:
            self.border_title = Content(f"{self.label} {self.model}{mark}")
            base = "base · completion · " if self.mode == "completion" else ""
            stale = f"{STALE} · " if self.stale else ""
            self.border_subtitle = Content(f"{badge}{stale}{base}{self._where}")

    def show_figures(self, status: str, line: str) -> None:
        """Update the figures line (only when it changed)."""
        if line == self._figures:
            return
        self._figures = line
        style = STATUS_STYLE.get(status, "dim")
        # One row whatever it says (height 1, width 1fr): repaint it, without the whole-screen layout
        # `update` asks for by default (twice a second while streaming, it was most of a frame's work).
        self.query_one(".figures", Static).update(Content.from_markup(f"[{style}]●[/] $line", line=line),
                                                  layout=False)

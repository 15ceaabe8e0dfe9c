"""Small modal dialogs for rating: per-answer scores with a note, and prompt tags."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ScoreDialog(ModalScreen[tuple[dict[int, int], str] | None]):
    """Scores 1–5 per pane (type digits in pane order, e.g. `45`) and a free-text note."""

    DEFAULT_CSS = """
    ScoreDialog { align: center middle; }
    ScoreDialog > Vertical { width: 70; height: auto; border: round $primary; background: $panel; padding: 0 1; }
    ScoreDialog .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, labels: list[str], scores: dict[int, int], note: str) -> None:
        super().__init__()
        self.labels = labels
        self.scores = scores
        self.note = note

    def compose(self) -> ComposeResult:
        current = "".join(str(self.scores.get(i, "")) or "-" for i in range(len(self.labels)))
        with Vertical():
            yield Label(f"Scores 1–5 for {', '.join(self.labels)}, in that order (e.g. 45; - skips one)")
            yield Input(value=current if self.scores else "", placeholder="".join("3" for _ in self.labels),
                        id="scores", restrict=r"[1-5\-]*", max_length=len(self.labels))
            yield Label("Note (optional)")
            yield Input(value=self.note, placeholder="what stood out", id="note")
            yield Label("Enter saves · Escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in either field saves both."""
        text = self.query_one("#scores", Input).value
        scores = {i: int(ch) for i, ch in enumerate(text) if ch.isdigit()}
        self.dismiss((scores, self.query_one("#note", Input).value.strip()))

    def action_cancel(self) -> None:
        """Keep what was there."""
        self.dismiss(None)


class TagDialog(ModalScreen[list[str] | None]):
    """Tags for the prompt, comma-separated (`physics, refactor`)."""

    DEFAULT_CSS = """
    TagDialog { align: center middle; }
    TagDialog > Vertical { width: 60; height: auto; border: round $primary; background: $panel; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, tags: list[str]) -> None:
        super().__init__()
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Tags for this prompt, comma-separated")
            yield Input(value=", ".join(self.tags), placeholder="physics, refactor")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Save the tags."""
        tags = [t.strip().lower() for t in event.value.split(",") if t.strip()]
        self.dismiss(list(dict.fromkeys(tags)))

    def action_cancel(self) -> None:
        """Keep the tags as they were."""
        self.dismiss(None)

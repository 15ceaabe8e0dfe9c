"""The prompt input: Enter submits, Up/Down walk the history."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static


class PromptInput(Input):
    """The text field, with a history of earlier prompts on Up/Down."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier prompt", show=False),
        Binding("down", "history(1)", "Later prompt", show=False),
        # Priority, so it runs as the key arrives: the keys typed right after it go to the pane.
        Binding("escape", "screen.leave_prompt", "Leave prompt", priority=True),
    ]

    NEW = "Ask every model…  (Enter sends · Escape leaves the bar)"

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder=self.NEW, **kwargs)
        self.history: list[str] = []
        self._cursor = 0

    def remember(self, text: str) -> None:
        """Add a sent prompt to the history."""
        if text.strip() and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._cursor = len(self.history)

    def action_history(self, step: int) -> None:
        """Recall an earlier (or later) prompt."""
        if not self.history:
            return
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        self.value = self.history[self._cursor] if self._cursor < len(self.history) else ""
        self.cursor_position = len(self.value)


class PromptBar(Horizontal):
    """The prompt and the parameters it will be sent with; posts `PromptBar.Submitted`."""

    DEFAULT_CSS = """
    PromptBar { dock: bottom; height: 3; margin-bottom: 1; }
    PromptBar > PromptInput { width: 1fr; border: tall $primary; }
    PromptBar > .params { width: auto; padding: 1 1; color: $text-muted; }
    """

    @dataclass
    class Submitted(Message):
        """The user asked for a comparison with this prompt."""

        text: str

    def __init__(self, params: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._params = params

    def compose(self) -> ComposeResult:
        yield PromptInput()
        yield Static(self._params, classes="params")

    def set_mode(self, follow_up: bool, turn: int = 2) -> None:
        """Say what Enter will do: follow up the conversation on screen, or start a new comparison."""
        self.input.placeholder = (
            f"Follow up (turn {turn}): each model continues its own conversation · Ctrl+N new comparison"
            if follow_up else PromptInput.NEW)

    @property
    def input(self) -> PromptInput:
        """The text field."""
        return self.query_one(PromptInput)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Pass the prompt up and clear the field."""
        event.stop()
        self.input.remember(event.value)
        self.post_message(self.Submitted(event.value))
        if event.value.strip():
            self.input.value = ""

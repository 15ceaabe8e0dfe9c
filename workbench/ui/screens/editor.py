"""A multi-line editor for long prompts, and the parameters sent with every prompt."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea


class PromptEditor(ModalScreen[str | None]):
    """Edit a long prompt; Ctrl+S sends it, Escape keeps it in the bar unsent."""

    DEFAULT_CSS = """
    PromptEditor { align: center middle; }
    PromptEditor > Vertical { width: 90%; height: 80%; border: round $primary; background: $panel; }
    PromptEditor TextArea { height: 1fr; }
    PromptEditor .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.sent = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Prompt — Ctrl+S sends to every model · Escape returns (the text is kept)", classes="hint")
            yield TextArea(self.text, soft_wrap=True, show_line_numbers=False)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_send(self) -> None:
        """Send the prompt."""
        self.sent = True
        self.dismiss(self.query_one(TextArea).text)

    def action_close(self) -> None:
        """Back to the prompt bar, keeping the text for later."""
        self.text = self.query_one(TextArea).text
        self.dismiss(None)


class ParamsDialog(ModalScreen[dict | None]):
    """System prompt and sampling parameters, the same for every model."""

    DEFAULT_CSS = """
    ParamsDialog { align: center middle; }
    ParamsDialog > Vertical { width: 80; max-width: 100%; height: auto; max-height: 100%;
                              border: round $primary; background: $panel; padding: 0 1; }
    ParamsDialog .instructions { width: 1fr; }
    ParamsDialog Horizontal { height: auto; }
    ParamsDialog Horizontal > Vertical { width: 1fr; height: auto; }
    ParamsDialog .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "save_defaults", "Save as defaults", priority=True)]

    FIELDS = (("max_tokens", "max tokens", r"[0-9]*"), ("temperature", "temperature", r"[0-9.]*"),
              ("seed", "seed", r"-?[0-9]*"), ("top_p", "top p", r"[0-9.]*"))

    def __init__(self, params: dict) -> None:
        super().__init__()
        self.params = params

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Sent to every model with each prompt (empty: the model's default) · "
                        "Enter saves · Ctrl+S saves as your defaults for every launch · Escape cancels",
                        classes="instructions")
            yield Label("System prompt")
            yield Input(self.params.get("system") or "", id="system", placeholder="none")
            with Horizontal():
                for key, label, restrict in self.FIELDS:
                    with Vertical():
                        yield Label(label)
                        value = self.params.get(key)
                        yield Input("" if value is None else str(value), id=key, restrict=restrict)
            yield Label("", id="problem", classes="hint")

    def on_input_submitted(self) -> None:
        """Validate and apply."""
        out = self._read()
        if out is not None:
            self.dismiss(out)

    def action_save_defaults(self) -> None:
        """Validate, apply, and keep them as the defaults of the next launches."""
        out = self._read()
        if out is not None:
            self.dismiss({**out, "save_as_defaults": True})

    def _read(self) -> dict | None:
        """The fields as parameters, or None (the problem shown) when one is wrong."""
        out: dict = {"system": self.query_one("#system", Input).value.strip() or None}
        for key, label, _ in self.FIELDS:
            raw = self.query_one(f"#{key}", Input).value.strip()
            if not raw:
                out[key] = None if key != "max_tokens" else self.params.get("max_tokens", 1024)
                continue
            try:
                value = int(raw) if key in ("max_tokens", "seed") else float(raw)
            except ValueError:
                self.query_one("#problem", Label).update(f"{label}: not a number")
                return None
            if (key == "max_tokens" and value < 1) or (key == "top_p" and not 0 <= value <= 1) or (
                    key == "temperature" and value < 0):
                self.query_one("#problem", Label).update(f"{label}: out of range")
                return None
            out[key] = value
        return out

    def action_cancel(self) -> None:
        """Keep the parameters as they were."""
        self.dismiss(None)

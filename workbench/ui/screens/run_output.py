"""What happened when a pane's code was run: outcome, exit status, time, stdout and stderr."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class RunOutput(ModalScreen):
    """A read-only view of one verification; Escape closes."""

    DEFAULT_CSS = """
    RunOutput { align: center middle; }
    RunOutput > Vertical { width: 90%; height: 80%; border: round $primary; background: $panel; }
    RunOutput VerticalScroll { height: 1fr; padding: 0 1; background: $surface; }
    RunOutput .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,o", "dismiss", "Close")]

    def __init__(self, label: str, verdict) -> None:
        super().__init__()
        self.label = label
        self.verdict = verdict

    def compose(self) -> ComposeResult:
        v = self.verdict
        head = Text()
        head.append(f"{self.label}: ", style="bold")
        head.append(v.summary(), style="bold green" if v.outcome == "pass" else "bold red"
                    if v.outcome in ("fail", "error", "timeout") else "bold")
        if v.outcome in ("no-code", "no-runner", "refused"):
            facts = ["nothing was run", v.language or "unknown language"]
        else:
            facts = [f"exit status {v.exit_status}" if v.exit_status is not None else "no exit status",
                     f"{v.duration_ms / 1000:.2f} s", v.language or "unknown language",
                     "no network" if v.isolated_network else "network NOT isolated"]
        body = Text()
        body.append("stdout\n", style="bold underline")
        body.append((v.stdout or "(empty)") + "\n\n")
        body.append("stderr\n", style="bold underline")
        body.append(v.stderr or "(empty)")
        with Vertical():
            yield Static(head)
            yield Label(" · ".join(facts), classes="hint")
            with VerticalScroll():
                yield Static(body)
            yield Label("Escape closes", classes="hint")

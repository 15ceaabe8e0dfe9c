"""Parameter parity (`i`): what each pane's model received, side by side, with the differences marked.

The compare screen hands over each pane's label, its model's name (None while a blind round's names
are hidden) and its answer's `received` record, read under the answer's lock: this screen calls no
engine and reads no log.

Blind rounds: a chat template's markers, a provider's context size or the engine's defaults can tell
the model family, so while the names are hidden each row says only whether the panes received the
same or something different (the user's own system prompt and prompt are shown); the values and the
prompt text appear once the vote is cast and the names are out.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from workbench.parity import Row, rows, shown_text
from workbench.redact import terminal_safe

SHOWN_BLIND = ("system prompt", "prompt", "earlier messages")
"""Rows whose values are the user's own input: shown in a blind round too."""
AFTER_VOTE = "after your vote"


class ParityScreen(ModalScreen[None]):
    """A row per parameter, a column per pane, `≠` on the rows that differ; then what each model was given.

    `panes` is (label, model name or None when hidden, record or None) per pane, left to right.
    """

    DEFAULT_CSS = """
    ParityScreen { align: center middle; }
    ParityScreen > Vertical { width: 95%; height: 90%; border: round $primary; background: $panel; }
    ParityScreen VerticalScroll { height: 1fr; padding: 0 1; background: $surface; }
    ParityScreen .hint { color: $text-muted; padding: 0 1; width: 100%; }
    ParityScreen #parity-summary { padding: 0 1; text-style: bold; width: 100%; }
    """
    BINDINGS = [Binding("escape,i,q", "dismiss", "Close")]

    def __init__(self, panes: list[tuple[str, str | None, dict | None]], hidden: bool = False) -> None:
        super().__init__()
        self.panes = panes
        self.hidden = hidden
        self.records = [record for _label, _model, record in panes]
        self.rows: list[Row] = rows(self.records)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._summary(), id="parity-summary")
            with VerticalScroll():
                yield Static(self._table(), id="parity-table")
                yield Static(self._texts(), id="parity-texts")
            hint = "Escape closes · ≠ marks what the panes received differently"
            if self.hidden:
                hint += " · blind: the values show after your vote"
            yield Label(hint, classes="hint")

    def _summary(self) -> str:
        differ = [row.name for row in self.rows if row.differs]
        missing = [label for label, _m, record in self.panes if record is None]
        words = (f"Not like-for-like: {len(differ)} difference{'s' * (len(differ) != 1)} ({', '.join(differ)})"
                 if differ else "Like-for-like: every pane received the same")
        if missing:
            words += f" · not reported yet by {', '.join(missing)}"
        return words

    def _head(self, label: str, model: str | None) -> str:
        return label if self.hidden or not model else f"{label} · {terminal_safe(model)}"

    def _table(self) -> Table:
        table = Table(expand=True, show_lines=False, header_style="bold")
        table.add_column("", width=1, no_wrap=True)
        table.add_column("Parameter", no_wrap=True)
        for label, model, _record in self.panes:
            table.add_column(Text(self._head(label, model)), overflow="fold")  # a name is text, never markup
        for row in self.rows:
            mark = Text("≠", style="bold red") if row.differs else Text("")
            style = "bold yellow" if row.differs else ""
            if self.hidden and row.name not in SHOWN_BLIND:
                values = [Text("differs" if row.differs else "same", style="italic") for _ in row.values]
            else:
                values = [Text(terminal_safe(v), style=style) for v in row.values]
            table.add_row(mark, Text(row.name, style=style), *values)
        return table

    def _texts(self) -> Text:
        out = Text()
        if self.hidden:
            out.append("\nWhat each model was given (its rendered chat template, completion text or messages) "
                       f"shows {AFTER_VOTE}: a template's markers can tell the model family.\n", style="italic")
            return out
        for label, model, record in self.panes:
            out.append(f"\n{self._head(label, model)} received", style="bold underline")
            if record is None:
                out.append("\n(not reported: the model has not started, or its engine does not say)\n")
                continue
            out.append(f" — {terminal_safe(record.get('prompt_source') or 'as reported')}", style="italic")
            if record.get("truncated"):
                out.append(f" (cut to fit the log: {', '.join(map(str, record['truncated']))})", style="italic")
            out.append("\n")
            out.append(terminal_safe(shown_text(record)) or "(empty)")
            out.append("\n")
        return out

    def parity_text(self) -> str:
        """The table and texts as plain text (for tests and screen readers)."""
        lines = [self._summary()]
        for row in self.rows:
            if self.hidden and row.name not in SHOWN_BLIND:
                values = ["differs" if row.differs else "same"] * len(row.values)
            else:
                values = [terminal_safe(v) for v in row.values]
            lines.append(f"{'≠' if row.differs else ' '} {row.name}: " + " | ".join(values))
        return "\n".join(lines) + "\n" + self._texts().plain

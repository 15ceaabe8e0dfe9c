"""The workbench's cheat-sheet: every key of the compare screen, grouped, as bound right now."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

GROUPS = ("Ask", "Judge", "Answers", "Code", "View", "Screens")

ACTIONS = {
    # action → (group, what it does, in the words of the sheet and the command palette)
    "focus_prompt": ("Ask", "Type a prompt (a follow-up once answers are in)"),
    "new_comparison": ("Ask", "New comparison: the next prompt starts a fresh conversation"),
    "prompts": ("Ask", "Pick a prompt from the library (with its tests)"),
    "editor": ("Ask", "Write a long prompt in the editor"),
    "params": ("Ask", "System prompt and sampling parameters"),
    "vote": ("Judge", "Vote for pane A–F (blind names are revealed after it)"),
    "tie": ("Judge", "Vote a tie"),
    "both_bad": ("Judge", "Vote both bad"),
    "undo": ("Judge", "Withdraw the vote"),
    "score": ("Judge", "Score each answer 1–5 and add a note"),
    "tags": ("Judge", "Tag the prompt"),
    "toggle_blind": ("Judge", "Blind mode on or off from the next prompt"),
    "stop_all": ("Answers", "Stop every answer still streaming"),
    "stop_one": ("Answers", "Stop the focused pane's answer"),
    "regenerate": ("Answers", "Ask the focused pane's model again"),
    "verify": ("Answers", "Run each answer's code against the prompt's tests (sandboxed)"),
    "show_run": ("Answers", "Show the focused pane's run: output, exit status, time"),
    "animations": ("Answers", "Play the graphics programs' animations side by side (after v)"),
    "parity": ("Answers", "What each model received: prompt text, parameters, stops"),
    "copy_code": ("Code", "Copy the focused pane's code block (again: the next block)"),
    "copy_answer": ("Code", "Copy the focused pane's whole answer"),
    "save_code": ("Code", "Write the focused pane's code block to a file"),
    "diff": ("Code", "Diff the code of the focused pane and the next"),
    "focus_pane": ("View", "Move to the pane on the left / right"),
    "maximize": ("View", "Maximise the focused pane, or restore"),
    "toggle_sync": ("View", "Scroll the panes together, or each alone"),
    "show_keys": ("Screens", "This sheet"),
    "history": ("Screens", "History: past comparisons, re-opened to read (votes, test marks)"),
    "leaderboard": ("Screens", "Leaderboard from your votes"),
    "pick_models": ("Screens", "Choose the models"),
    "export": ("Screens", "Export the session (HTML report)"),
    "screenshot": ("Screens", "Save a screenshot (SVG)"),
}

SCROLL_ROWS = [
    ("Ask", "esc / tab", "Leave the prompt bar (the keys of this sheet work outside it)"),
    ("View", "↑ ↓ PgUp PgDn", "Scroll the focused pane (up: it stops following the stream)"),
    ("View", "Home / End", "To the top / to the end (the end follows the stream again)"),
    ("Screens", "Ctrl+P", "Command palette: every action, searchable"),
    ("Screens", "Ctrl+Q", "Quit (prints the session number and how to export it)"),
]


class CheatSheet(ModalScreen[None]):
    """`?` opens it; `?`, Escape or `q` close it. Rows are (group, key, what it does)."""

    DEFAULT_CSS = """
    CheatSheet { align: center middle; }
    CheatSheet > Vertical { width: 96; max-width: 100%; height: auto; max-height: 100%;
                            border: round $primary; background: $panel; }
    CheatSheet VerticalScroll { height: auto; max-height: 1fr; padding: 0 1; }
    CheatSheet .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = [*rows, *SCROLL_ROWS]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Keys — ? or Escape closes · Ctrl+P searches every action", classes="hint")
            with VerticalScroll():
                yield Static(self._table())

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for group in GROUPS:
            first = True
            for g, keys, what in self.rows:
                if g != group:
                    continue
                table.add_row(Text(group if first else ""), Text(keys), Text(what))
                first = False
        return table

    def cheat_sheet_text(self) -> str:
        """The sheet as plain text (for tests and screen readers)."""
        return "\n".join(f"{g}  {k}  {w}" for g, k, w in self.rows)

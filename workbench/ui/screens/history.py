"""Past prompts from the log, and one of them re-opened with its answers side by side."""

from __future__ import annotations

from pathlib import Path
from string import ascii_uppercase

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from workbench.figures import ms
from workbench.ui.render import CodeStyle
from workbench.ui.widgets.answer_pane import AnswerPane


def _read(db_path: Path, fn):
    """Run a read query on a connection of this (worker) thread."""
    from workbench.store import open_db

    db = open_db(db_path, migrate=False)
    try:
        return fn(db)
    finally:
        db.conn.close()


class HistoryScreen(Screen):
    """Every prompt in the log, newest first; Enter re-opens one."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    HistoryScreen DataTable { height: 1fr; }
    HistoryScreen .title { padding: 0 1; background: $panel; }
    """

    def __init__(self, db_path: Path, code_style: CodeStyle, accent: str) -> None:
        super().__init__()
        self.db_path = db_path
        self.code_style = code_style
        self.accent = accent

    def compose(self) -> ComposeResult:
        yield Static(f"History — {self.db_path}", classes="title")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when", "session", "models", "prompt")
        table.loading = True
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        from workbench.store import StoreError
        from workbench.store.queries import prompts

        try:
            rows = _read(self.db_path, prompts)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            rows = []
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        for row in rows:
            first = (row["text"] or "").strip().splitlines()[0][:100] if row["text"] else ""
            models = row["models"] or ""
            if row["blind"] and not row["voted"]:
                models = f"blind, not voted ({row['answers']} answers)"  # names stay hidden until a vote
            table.add_row(row["created_at"][:19].replace("T", " "), f"#{row['session_id']}",
                          Text(models, overflow="ellipsis"), Text(first), key=str(row["id"]))
        if not rows:
            self.notify("No prompts in the log yet.", timeout=3)
        table.focus()

    @on(DataTable.RowSelected)
    def reopen(self, event: DataTable.RowSelected) -> None:
        """Open the chosen prompt with its answers in panes."""
        self._open(int(event.row_key.value))

    @work(thread=True, exclusive=True, group="open")
    def _open(self, prompt_id: int) -> None:
        from workbench.store.queries import prompt_answers

        def fetch(db):
            prompt, blind = db.execute("SELECT text, coalesce(blind, 0) FROM prompts WHERE id = ?",
                                       [prompt_id]).fetchone()
            voted = db.execute("SELECT 1 FROM votes WHERE prompt_id = ? AND retracted_at IS NULL "
                               "AND outcome IS NOT NULL", [prompt_id]).fetchone()
            return prompt, prompt_answers(db, prompt_id), bool(blind and not voted)

        prompt, answers, hidden = _read(self.db_path, fetch)
        self.app.call_from_thread(
            self.app.push_screen, RecordScreen(prompt, answers, self.code_style, self.accent, hidden))


class RecordScreen(Screen):
    """A stored prompt and its answers, read-only, in the same panes as a live comparison."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    RecordScreen .prompt { padding: 0 1; background: $panel; max-height: 6; }
    RecordScreen #record-panes { height: 1fr; }
    """

    def __init__(self, prompt: str, answers: list[dict], code_style: CodeStyle, accent: str,
                 hidden: bool = False) -> None:
        super().__init__()
        self.hidden = hidden
        """A blind prompt not voted on: labels only, no names or telling figures."""
        self.prompt = prompt
        self.answers = answers
        self.code_style = code_style
        self.accent = accent

    def compose(self) -> ComposeResult:
        yield Static(Text(self.prompt), classes="prompt")
        with Horizontal(id="record-panes"):
            for i, row in enumerate(self.answers):
                model, where = ("?", "") if self.hidden else (row["model_name"], row["where_run"] or "")
                yield AnswerPane(row["label"] or ascii_uppercase[i], model, where, self.code_style, self.accent)
        yield Footer()

    def on_mount(self) -> None:
        for pane, row in zip(self.query(AnswerPane), self.answers):
            if self.hidden:
                pane.set_identity(row["label"], "?", "", hidden=True)
            pane.view.append(row["text"] or "")
            pane.view.finish()
            if row["error"]:
                message = row["error"] if not self.hidden else "this answer failed"
                pane.view.set_notice(Text(f"✗ {message}", style="bold red"))
            if self.hidden:
                pane.show_figures(row["status"], f"{row['status']} · {row['completion_tokens'] or 0} tok")
                continue
            rate = f"{row['tokens_per_s']:.1f} tok/s" if row["tokens_per_s"] else "– tok/s"
            pane.show_figures(row["status"], " · ".join([
                row["status"], f"TTFT {ms(row['ttft_ms'])}", rate,
                f"{row['completion_tokens'] or 0} tok", ms(row["duration_ms"]),
            ]))

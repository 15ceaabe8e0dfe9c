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
from workbench.ui.widgets.answer_view import prompt_rule


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
            if row.get("turn", 1) > 1:
                first = f"↳ turn {row['turn']}: {first}"  # a follow-up; Enter shows the whole conversation
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
            vote = db.execute("SELECT outcome, winner_response_id FROM votes WHERE prompt_id = ? AND "
                              "retracted_at IS NULL AND outcome IS NOT NULL ORDER BY id DESC LIMIT 1",
                              [prompt_id]).fetchone()
            answers = prompt_answers(db, prompt_id)
            # The conversation this turn belongs to: each earlier turn's prompt and answers, by pane.
            conversation, turn = db.execute("SELECT conversation, coalesce(turn, 1) FROM prompts WHERE id = ?",
                                            [prompt_id]).fetchone()
            earlier = []
            if conversation and turn > 1:
                for pid, text, number in db.execute(
                        "SELECT id, text, turn FROM prompts WHERE conversation = ? AND turn < ? ORDER BY turn",
                        [conversation, turn]).fetchall():
                    earlier.append((number, text, {a["position"]: a["text"] or "" for a in prompt_answers(db, pid)}))
            runs = {}
            for answer in answers:  # each answer's latest run of its tests
                run = db.execute("SELECT outcome, passed, total, exit_status FROM verifications "
                                 "WHERE response_id = ? ORDER BY id DESC LIMIT 1", [answer["id"]]).fetchone()
                if run is not None:
                    runs[answer["id"]] = dict(zip(("outcome", "passed", "total", "exit_status"), run))
            return prompt, answers, bool(blind and not vote), vote, runs, (turn, earlier)

        prompt, answers, hidden, vote, runs, conversation = _read(self.db_path, fetch)
        self.app.call_from_thread(
            self.app.push_screen, RecordScreen(prompt, answers, self.code_style, self.accent, hidden, vote, runs,
                                               conversation))


class RecordScreen(Screen):
    """A stored prompt and its answers, read-only, in the same panes as a live comparison."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    DEFAULT_CSS = """
    RecordScreen .prompt { padding: 0 1; background: $panel; max-height: 6; }
    RecordScreen #record-panes { height: 1fr; }
    """

    def __init__(self, prompt: str, answers: list[dict], code_style: CodeStyle, accent: str,
                 hidden: bool = False, vote: tuple | None = None, runs: dict | None = None,
                 conversation: tuple[int, list] = (1, [])) -> None:
        super().__init__()
        self.turn, self.earlier = conversation
        """The turn shown, and each earlier turn of its conversation as (turn, prompt, pane position → answer)."""
        self.vote = vote
        """(outcome, winning response id) of the vote the log holds, or None."""
        self.runs = runs or {}
        """Response id → its latest verification (outcome, passed, total, exit_status)."""
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
        from types import SimpleNamespace

        from workbench.ui.screens.verifying import badge
        from workbench.ui.screens.voting import vote_mark

        outcome, winner_id = self.vote or (None, None)
        for i, (pane, row) in enumerate(zip(self.query(AnswerPane), self.answers)):
            pane.set_vote_mark(vote_mark(outcome, i if row["id"] == winner_id else None, i))
            if row["id"] in self.runs:
                pane.set_badge(badge(SimpleNamespace(**self.runs[row["id"]])))
            if self.hidden:
                pane.set_identity(row["label"], "?", "", hidden=True)
            if self.earlier:  # a follow-up: the conversation so far, then this turn
                for number, text, by_pane in self.earlier:
                    pane.view.add_rule(prompt_rule(number, text or ""))
                    pane.view.append(by_pane.get(row["position"], ""))
                    pane.view.finish()
                pane.view.add_rule(prompt_rule(self.turn, self.prompt or ""))
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

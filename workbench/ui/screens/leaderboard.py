"""The leaderboard in the app: the log's votes ranked, drawn as interval bars, with the win-rate matrix."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from workbench.ui.widgets.rating_bars import RatingBars

ROUNDS = 100


def fit_log(db_path: Path, tag: str | None = None, rounds: int = ROUNDS):
    """The log's leaderboard (None when it has no votes), read on a connection of the calling thread."""
    from workbench.arena import leaderboard
    from workbench.store import open_db
    from workbench.store.queries import battles

    if not Path(db_path).exists():
        return None
    db = open_db(db_path, migrate=False)
    try:
        votes = battles(db, tag=tag)
    finally:
        db.conn.close()
    return leaderboard(votes, rounds=rounds) if votes else None


class LeaderboardScreen(Screen):
    """Ratings with 95% intervals from every vote in the log (or those on prompts with one tag)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]
    DEFAULT_CSS = """
    LeaderboardScreen .title { padding: 0 1; background: $panel; }
    LeaderboardScreen #leaderboard-body { height: 1fr; }
    LeaderboardScreen .section { padding: 1 1 0 1; color: $text-muted; }
    LeaderboardScreen #leaderboard-message { padding: 1 2; }
    LeaderboardScreen RatingBars { margin: 1 0 0 0; }
    LeaderboardScreen #win-rates { height: auto; margin: 0 1; }
    """

    def __init__(self, db_path: Path, tag: str | None = None) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.tag = tag
        self.board = None
        """The leaderboard shown, once loaded (None: loading, or no votes)."""

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="title", id="leaderboard-title")
        with VerticalScroll(id="leaderboard-body"):
            yield Static("Ranking the votes…", id="leaderboard-message")
            yield RatingBars()
            yield Static("Pairwise win rate, row against column (ties count half; · none between them)",
                         classes="section", id="win-rates-title")
            yield DataTable(id="win-rates", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def _title(self) -> str:
        where = f" · tag {self.tag}" if self.tag else ""
        if self.board is None:
            return f"Leaderboard{where} — {self.db_path}"
        return (f"Leaderboard{where} — {self.board.battles} pairwise votes · 95% intervals from "
                f"{self.board.rounds} bootstrap rounds · rank = 1 + models whose interval is wholly above")

    def on_mount(self) -> None:
        self._show(None, "Ranking the votes…")
        self._load()

    def action_reload(self) -> None:
        """Read the log again (votes cast since the screen opened)."""
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        import sqlite3

        from workbench.store import StoreError

        try:
            board = fit_log(self.db_path, self.tag)
        except (StoreError, sqlite3.Error) as exc:
            self.app.call_from_thread(self._show, None, f"Cannot read the log: {exc}")
            return
        tagged = f" on prompts tagged {self.tag}" if self.tag else ""
        empty = (f"No votes yet{tagged}. Vote on answers (1–6 picks a winner, t a tie, b both bad) "
                 "and they are ranked here.")
        self.app.call_from_thread(self._show, board, empty)

    def _show(self, board, message: str) -> None:
        if not self.is_attached:  # closed while the worker ran
            return
        self.board = board
        self.query_one("#leaderboard-title", Static).update(self._title())
        note = self.query_one("#leaderboard-message", Static)
        note.update(message)
        note.display = board is None
        bars = self.query_one(RatingBars)
        bars.leaderboard = board
        bars.display = board is not None
        self.query_one("#win-rates-title").display = board is not None
        table = self.query_one("#win-rates", DataTable)
        table.display = board is not None
        table.clear(columns=True)
        if board is None:
            return
        order = [s.model for s in board.standings]
        table.add_column("model", key="model")
        for i, _ in enumerate(order, 1):
            table.add_column(str(i), key=f"col-{i}")
        digits = len(str(len(order)))
        for i, row in enumerate(order, 1):
            cells = [Text(f"{i:>{digits}} {row}")]
            for col in order:
                rate = board.matrix[row].get(col) if col != row else None
                cells.append(Text("–" if col == row else "·" if rate is None else f"{rate:.0%}", justify="right"))
            table.add_row(*cells, key=row)

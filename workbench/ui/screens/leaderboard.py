"""The leaderboard in the app: the log's votes ranked, drawn as interval bars over a table of the figures (tests
passed too), each group of models that met on its own; what the votes cannot tell; the win-rate matrix."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from workbench.ui.widgets.rating_bars import RatingBars

ROUNDS = 100


def fit_log(db_path: Path, tag: str | None = None, rounds: int = ROUNDS, min_votes: int | None = None):
    """The log's leaderboard (None when it has no votes) and per-model tests passed, read on a connection of
    the calling thread; `min_votes` None is the arena's default."""
    from workbench.arena import DEFAULT_MIN_VOTES, leaderboard
    from workbench.store import open_db
    from workbench.store.queries import battles, pass_rates

    if not Path(db_path).exists():
        return None, {}
    db = open_db(db_path, migrate=False)
    try:
        votes = battles(db, tag=tag)
        tests = pass_rates(db, tag=tag)
    finally:
        db.conn.close()
    if not votes:
        return None, tests
    return leaderboard(votes, rounds=rounds, min_votes=DEFAULT_MIN_VOTES if min_votes is None else min_votes), tests


class GroupStandings(Vertical):
    """One group of models that met: its ranked models as interval bars on their own scale, then a table of
    their figures (* marks a rating set by the prior, not measured)."""

    DEFAULT_CSS = """
    GroupStandings { height: auto; }
    GroupStandings .standings { height: auto; margin: 1 1 0 1; }
    """

    def __init__(self, board, heading: str | None, tests: dict) -> None:
        super().__init__()
        self.board = board
        self.heading = heading
        self.tests = tests

    def compose(self) -> ComposeResult:
        if self.heading:
            yield Static(self.heading, classes="section")
        yield RatingBars()
        yield DataTable(cursor_type="none", zebra_stripes=True, classes="standings")

    def on_mount(self) -> None:
        self.query_one(RatingBars).leaderboard = self.board
        table = self.query_one(DataTable)
        for label, key in (("rank", "rank"), ("model", "model"), ("rating", "rating"),
                           ("95% interval", "interval"), ("votes", "votes"), ("win rate", "win-rate")):
            table.add_column(label, key=key)
        if self.tests:
            table.add_column("tests passed", key="tests")
        for s in self.board.standings:
            cells = [Text(str(s.rank), justify="right"), Text(s.model),
                     Text(f"{s.rating:.1f}{'*' if s.set_by_prior else ' '}", justify="right"),
                     Text(f"{s.lower:.1f} – {s.upper:.1f}", justify="right"), Text(str(s.votes), justify="right"),
                     Text(f"{s.win_rate:.1%}", justify="right")]
            if self.tests:
                t = self.tests.get(s.model)
                cells.append(Text(f"{t['passed']}/{t['run']}" if t else "–", justify="right"))
            table.add_row(*cells, key=s.model)


class LeaderboardScreen(Screen):
    """Ratings with 95% intervals from every vote in the log (or those on prompts with one tag)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]
    DEFAULT_CSS = """
    LeaderboardScreen .title { padding: 0 1; background: $panel; }
    LeaderboardScreen #leaderboard-body { height: 1fr; }
    LeaderboardScreen .section { padding: 1 1 0 1; color: $text-muted; }
    LeaderboardScreen #leaderboard-message { padding: 1 2; }
    LeaderboardScreen #leaderboard-groups { height: auto; }
    LeaderboardScreen #leaderboard-notes { padding: 1 2 0 2; }
    LeaderboardScreen RatingBars { margin: 1 0 0 0; }
    LeaderboardScreen #win-rates { height: auto; margin: 0 1; }
    """

    def __init__(self, db_path: Path, tag: str | None = None, min_votes: int | None = None) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.tag = tag
        self.min_votes = min_votes
        """Votes a model needs to be ranked (None: the arena's default)."""
        self.board = None
        """The leaderboard shown, once loaded (None: loading, or no votes); set once it is drawn."""

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="title", id="leaderboard-title")
        with VerticalScroll(id="leaderboard-body"):
            yield Static("Ranking the votes…", id="leaderboard-message")
            yield Vertical(id="leaderboard-groups")
            yield Static("", id="leaderboard-notes")
            yield Static("Pairwise win rate, row against column (ties count half; · none between them)",
                         classes="section", id="win-rates-title")
            yield DataTable(id="win-rates", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def _title(self) -> str:
        where = f" · tag {self.tag}" if self.tag else ""
        if self.board is None:
            return f"Leaderboard{where} — {self.db_path}"
        if not self.board.ranked:
            return (f"Leaderboard{where} — {self.board.battles} pairwise vote{'s' * (self.board.battles != 1)} · "
                    f"a model is ranked from {self.board.min_votes} votes")
        return (f"Leaderboard{where} — {self.board.battles} pairwise votes · 95% intervals from "
                f"{self.board.rounds} bootstrap rounds · rank = 1 + models whose interval is wholly above · "
                f"ranked from {self.board.min_votes} votes")

    async def on_mount(self) -> None:
        await self._show(None, "Ranking the votes…")
        self._load()

    def action_reload(self) -> None:
        """Read the log again (votes cast since the screen opened)."""
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        import sqlite3

        from workbench.store import StoreError

        try:
            board, tests = fit_log(self.db_path, self.tag, min_votes=self.min_votes)
        except (StoreError, sqlite3.Error) as exc:
            self.app.call_from_thread(self._show, None, f"Cannot read the log: {exc}")
            return
        tagged = f" on prompts tagged {self.tag}" if self.tag else ""
        empty = (f"No votes yet{tagged}. Vote on answers (1–6 picks a winner, t a tie, b both bad) "
                 "and they are ranked here.")
        self.app.call_from_thread(self._show, board, empty, tests)

    async def _show(self, board, message: str, tests: dict | None = None) -> None:
        """Draw `board` (None: show `message` alone): with too few votes, the line saying so and the matrix;
        else each group's bars and table, what the votes cannot tell, and the matrix."""
        from workbench.arena import Leaderboard

        if not self.is_attached:  # closed while the worker ran
            return
        ranked = board is not None and board.ranked
        note = self.query_one("#leaderboard-message", Static)
        # Too few votes: the one line saying so. Groups that never met: said above their rankings.
        above = [w["message"] for w in board.warnings if w["kind"] in ("too_few_votes", "groups")] if board else []
        note.update(Text(message if board is None else "\n".join(above)))  # Text: names are not markup
        note.display = board is None or bool(above)
        groups = self.query_one("#leaderboard-groups", Vertical)
        await groups.remove_children()
        if ranked:
            blocks = []
            for number, members in enumerate(board.groups, 1):
                rows = [s for s in board.standings if s.group == number and s.ranked]
                heading = None
                if len(board.groups) > 1:
                    votes = sum(s.votes for s in board.standings if s.group == number) // 2
                    heading = (f"Group {number} of {len(board.groups)} ({len(members)} models, {votes} "
                               f"vote{'s' * (votes != 1)}){'' if rows else ': none ranked yet'}")
                if rows:
                    blocks.append(GroupStandings(Leaderboard(rows, board.matrix, board.battles, board.rounds,
                                                             min_votes=board.min_votes), heading, tests or {}))
                elif heading:
                    blocks.append(Static(heading, classes="section"))
            await groups.mount_all(blocks)
        notes = self.query_one("#leaderboard-notes", Static)
        below = sorted((w for w in board.warnings if w["kind"] not in ("too_few_votes", "groups")),
                       key=lambda w: w["kind"] not in ("won_all", "lost_all")) if ranked else []
        notes.update(Text("\n".join(("* " if w["kind"] in ("won_all", "lost_all") else "") + w["message"]
                                    for w in below)))
        notes.display = bool(below)
        self.board = board
        self.query_one("#leaderboard-title", Static).update(self._title())
        self.query_one("#win-rates-title").display = board is not None
        table = self.query_one("#win-rates", DataTable)
        table.display = board is not None
        table.clear(columns=True)
        if board is None:
            return
        order = [s.model for s in board.standings if s.ranked] + [s.model for s in board.standings if not s.ranked]
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

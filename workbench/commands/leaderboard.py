"""`workbench leaderboard`: ratings with intervals from the log's votes and arena files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench.redact import terminal_safe

from workbench.commands.common import Problem, db_option, load_settings_or_fail, reading_log

MAX_ROUNDS = 10_000
"""Intervals settle well before 1000 rounds; 10000 takes seconds, while 10^8 once ran for days."""


def _vote_time(value: str | None, option: str, end: bool = False) -> str | None:
    """A --since/--until value as the log's UTC ISO time; a bare date means its whole day."""
    from datetime import date, datetime, timedelta, timezone

    if value is None:
        return None
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1 if end else 0)
        else:
            when = datetime.fromisoformat(value.strip())
            when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    except ValueError:
        raise Problem(f"{option}: not a date: {value!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)") from None
    return when.isoformat(timespec="milliseconds")


def _log_battles(db_path: Path, **filters) -> tuple[list, dict]:
    """The log's votes as battles, and per-model test pass counts; a log that does not exist yet has none."""
    from workbench.store.queries import battles, pass_rates

    session_id = filters.get("session_id")
    if not Path(db_path).exists():
        if session_id is not None:
            raise Problem(f"no session {session_id} in {db_path} (`workbench sessions` lists them)")
        return [], {}
    with reading_log(db_path, session_id) as log:
        return battles(log, **filters), pass_rates(log, session_id, filters.get("tag"))


def _board_lines(board, tests: dict | None = None) -> list[str]:
    """The leaderboard as a text table (with tests passed, when answers were verified), then the matrix."""
    rows = board.standings
    # Model names may come from someone else's battle file: made safe before the columns are measured.
    name = {s.model: terminal_safe(s.model) for s in rows}
    width = max(5, *(len(n) for n in name.values()))
    tests = tests or {}
    head = f"{'rank':>4}  {'model':<{width}}  {'rating':>7}  {'95% interval':^17}  {'votes':>6}  {'win rate':>8}"
    lines = [head + (f"  {'tests passed':>14}" if tests else "")]
    for s in rows:
        line = (f"{s.rank:>4}  {name[s.model]:<{width}}  {s.rating:>7.1f}  {s.lower:>7.1f} – {s.upper:>7.1f}  "
                f"{s.votes:>6}  {s.win_rate:>8.1%}")
        if tests:
            t = tests.get(s.model)
            cell = f"{t['passed']}/{t['run']}" if t else "–"
            line += f"  {cell:>14}"
        lines.append(line)
    lines += ["", "Pairwise win rate, row against column (ties count half; · no votes between them):"]
    lines.append(f"{'':>3} {'':<{width}}" + "".join(f"{i:>7}" for i in range(1, len(rows) + 1)))
    for i, s in enumerate(rows, 1):
        cells = []
        for other in rows:
            rate = board.matrix[s.model].get(other.model) if other.model != s.model else None
            cells.append(f"{'–' if other.model == s.model else '·' if rate is None else f'{rate:.0%}':>7}")
        lines.append(f"{i:>3} {name[s.model]:<{width}}" + "".join(cells))
    return lines


@click.command("leaderboard")
@click.option("--tag", metavar="TAG", help="Only votes on prompts with this tag.")
@click.option("--session", "session_id", type=int, metavar="ID", help="Only votes from this session.")
@click.option("--since", metavar="DATE", help="Only votes cast from DATE on (YYYY-MM-DD or an ISO time, UTC).")
@click.option("--until", metavar="DATE", help="Only votes cast up to DATE (a date counts whole; a time is exclusive).")
@click.option("--blind-only", is_flag=True, help="Only votes cast in blind mode.")
@click.option("--battles", "battle_files", multiple=True, metavar="FILE",
              help="Arena-format votes (JSON or JSONL: model_a, model_b, winner) to rank too (repeatable).")
@click.option("--no-log", is_flag=True, help="Rank only the --battles files, not the log.")
@click.option("--rounds", type=int, default=100, show_default=True, metavar="N",
              help=f"Bootstrap rounds for the intervals (0 to {MAX_ROUNDS}).")
@click.option("--anchor", type=float, default=1000.0, show_default=True, metavar="RATING",
              help="Mean rating (or --anchor-model's rating).")
@click.option("--anchor-model", metavar="NAME", help="Pin this model at --anchor instead of the mean.")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard as JSON.")
@db_option
@click.pass_obj
def leaderboard_cmd(obj: dict, tag: str | None, session_id: int | None, since: str | None, until: str | None,
                    blind_only: bool, battle_files: tuple[str, ...], no_log: bool, rounds: int, anchor: float,
                    anchor_model: str | None, as_json: bool, db: str | None) -> None:
    """Rank the models by your votes: Bradley–Terry ratings with 95% bootstrap intervals.

    A model's rank is 1 + the number of models whose interval lies wholly above its own.
    Exit status: 0 with a leaderboard, 1 when there are no votes to rank, 2 on an error.
    """
    import os

    # The fit solves small linear systems; OpenBLAS threads only add hand-off latency to those, up to
    # 100 times the work on a busy machine. Effective when numpy is not loaded yet, as here.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from workbench.arena import BattleError, leaderboard, read_battles

    if not 0 <= rounds <= MAX_ROUNDS:  # checked before any reading, so the mistake costs nothing
        raise Problem(f"--rounds must be between 0 and {MAX_ROUNDS}, not {rounds}")
    filters = {"tag": tag, "session_id": session_id, "since": _vote_time(since, "--since"),
               "until": _vote_time(until, "--until", end=True), "blind_only": blind_only}
    if no_log and not battle_files:
        raise Problem("--no-log needs at least one --battles FILE")
    if no_log and any(v not in (None, False) for v in filters.values()):
        raise Problem("--tag, --session, --since, --until and --blind-only filter the log; drop --no-log to use them")
    votes, sources, tests = [], [], {}
    if not no_log:
        db_path = load_settings_or_fail(obj["config"], db or obj["db"]).db_path
        votes, tests = _log_battles(db_path, **filters)
        sources.append(f"the log {db_path} ({len(votes)})")
    for name in battle_files:
        try:
            found = read_battles(name)
        except BattleError as exc:
            raise Problem(str(exc)) from None
        votes += found
        sources.append(f"{name} ({len(found)})")
    if not votes:
        click.echo(f"no votes to rank in {' or '.join(s.rsplit(' (', 1)[0] for s in sources)}"
                   f"{' matching the filters' if any(filters.values()) and not no_log else ''}", err=True)
        sys.exit(1)
    try:
        board = leaderboard(votes, rounds=rounds, anchor=anchor, anchor_model=anchor_model)
    except ValueError as exc:
        raise Problem(f"--anchor-model: {exc}" if anchor_model else str(exc)) from None
    if as_json:
        click.echo(json.dumps({**board.as_dict(), "tests": tests}, indent=2, ensure_ascii=False))
        return
    pinned = f"{anchor_model} pinned at {anchor:g}" if anchor_model else f"mean rating {anchor:g}"
    click.echo(f"{board.battles} pairwise votes from {', '.join(sources)}; {rounds} bootstrap rounds; {pinned}")
    click.echo()
    for line in _board_lines(board, tests):
        click.echo(line)

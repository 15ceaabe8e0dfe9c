"""`workbench leaderboard`: ratings with intervals from the log's votes and arena files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench.redact import terminal_safe

from workbench.commands.common import Problem, db_option, load_settings_or_fail, reading_log
from workbench.demo_models import DEMO_CUTOFFS  # the demo models' cutoffs, with where each comes from

DEFAULT_MIN_VOTES = 10
"""As `workbench.arena.DEFAULT_MIN_VOTES` (why 10 is said there); repeated so `--help` needs no numpy."""

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


def _log_battles(db_path: Path, style: bool = False, dated: dict | None = None, **filters) -> tuple[list, dict]:
    """The log's votes as battles (with the answers' style, and the prompts' dates from `dated`, when asked), and
    per-model test pass counts; a log that does not exist yet has none."""
    from workbench.store.queries import battles, pass_rates

    session_id = filters.get("session_id")
    if not Path(db_path).exists():
        if session_id is not None:
            raise Problem(f"no session {session_id} in {db_path} (`workbench sessions` lists them)")
        return [], {}
    with reading_log(db_path, session_id) as log:
        return battles(log, style=style, dated=dated, **filters), pass_rates(log, session_id, filters.get("tag"))


def _cutoffs(settings) -> dict[str, str]:
    """Each model's cutoff: the config's, else a demo model's (DEMO_CUTOFFS) unless the config declares that name."""
    declared = {m.name: m.cutoff for m in settings.models}
    return {name: cutoff for name, cutoff in {**DEMO_CUTOFFS, **declared}.items() if cutoff}


def _fresh_line(summary: dict) -> str:
    """What --fresh kept and what it left out, in one line."""
    kept, total = summary["kept"], summary["total"]
    missing = summary["no_cutoff"]
    advice = f"{', '.join(missing['models'])}: set cutoff = \"YYYY-MM\" on its [[models]] entry"
    if summary["after"] is None:
        return f"--fresh: 0 of {total} votes kept: no model has a cutoff ({advice})"
    latest = ", ".join(f"{m} {c}" for m, c in summary["latest_cutoff"].items())
    out = [f"{n} {what}" for n, what in ((summary["created_by_then"], "on prompts created by then"),
                                         (summary["no_prompt_date"], "on prompts with no created date"),
                                         (missing["votes"], f"with models that have no cutoff ({advice})")) if n]
    return (f"--fresh: {kept} of {total} vote{'s' * (total != 1)} {'is' if kept == 1 else 'are'} on prompts "
            f"created after {summary['after']}, the latest cutoff of the rated models ({latest})"
            + (f"; left out: {', '.join(out)}" if out else ""))


def _style_lines(style: dict) -> list[str]:
    """The style coefficients, one line each, under a line saying what they measure."""
    lines = ["Style coefficients: change in the log-odds of winning per typical (root mean square) normalised "
             "difference (a − b) / (a + b + 1) between the two answers (95% interval; in rating points):"]
    for c in style["coefficients"]:
        if c["coef"] is None:
            lines.append(f"  {c['label']:<16}  never differed between two answers: left out")
        else:
            lines.append(f"  {c['label']:<16}  {c['coef']:+.3f}  ({c['lower']:+.3f} to {c['upper']:+.3f})  "
                         f"{c['points']:+.1f} points")
    return lines


def _board_lines(board, tests: dict | None = None) -> list[str]:
    """The leaderboard as a text table per group of models that met (with tests passed, when answers were
    verified; * marks a rating set by the prior), what the votes cannot tell, then the matrix."""
    rows = board.standings
    # Model names may come from someone else's battle file: made safe before the columns are measured.
    name = {s.model: terminal_safe(s.model) for s in rows}
    width = max(5, *(len(n) for n in name.values()))
    tests = tests or {}
    notes = [w for w in board.warnings if w["kind"] not in ("too_few_votes", "groups")]
    notes.sort(key=lambda w: w["kind"] not in ("won_all", "lost_all"))  # the * footnotes first, under the table
    styled = board.style is not None  # style-controlled ratings first, the plain rank and rating beside them
    head = (f"{'rank':>4}  " + (f"{'plain':>5}  " if styled else "") + f"{'model':<{width}}  {'rating':>7}  "
            f"{'95% interval':^17}  " + (f"{'plain rating':>12}  " if styled else "") + f"{'votes':>6}  {'win rate':>8}")
    head += f"  {'tests passed':>14}" if tests else ""
    blocks = [[terminal_safe(w["message"])] for w in board.warnings if w["kind"] == "groups"]
    for number, members in enumerate(board.groups, 1):
        ranked = [s for s in rows if s.group == number and s.ranked]
        block = []
        if len(board.groups) > 1:
            votes = sum(s.votes for s in rows if s.group == number) // 2
            block.append(f"Group {number} of {len(board.groups)} ({len(members)} models, {votes} "
                         f"vote{'s' * (votes != 1)}){'' if ranked else ': none ranked yet'}")
        block += [head] if ranked else []
        if styled:
            ranked.sort(key=lambda s: (-s.controlled.rating, s.model))
        for s in ranked:
            shown = s.controlled if styled else s
            line = (f"{shown.rank:>4}  " + (f"{s.rank:>5}  " if styled else "")
                    + f"{name[s.model]:<{width}}  {shown.rating:>7.1f}{'*' if s.set_by_prior else ' '} "
                    f"{shown.lower:>7.1f} – {shown.upper:>7.1f}  " + (f"{s.rating:>12.1f}  " if styled else "")
                    + f"{s.votes:>6}  {s.win_rate:>8.1%}")
            if tests:
                t = tests.get(s.model)
                cell = f"{t['passed']}/{t['run']}" if t else "–"
                line += f"  {cell:>14}"
            block.append(line)
        blocks.append(block)
    if notes:
        blocks.append([terminal_safe(("* " if w["kind"] in ("won_all", "lost_all") else "") + w["message"])
                       for w in notes])
    if styled:
        blocks.append(_style_lines(board.style))
    matrix = ["Pairwise win rate, row against column (ties count half; · no votes between them):"]
    rows = [s for s in rows if s.ranked] + [s for s in rows if not s.ranked]  # as the tables, then the rest
    matrix.append(f"{'':>3} {'':<{width}}" + "".join(f"{i:>7}" for i in range(1, len(rows) + 1)))
    for i, s in enumerate(rows, 1):
        cells = []
        for other in rows:
            rate = board.matrix[s.model].get(other.model) if other.model != s.model else None
            cells.append(f"{'–' if other.model == s.model else '·' if rate is None else f'{rate:.0%}':>7}")
        matrix.append(f"{i:>3} {name[s.model]:<{width}}" + "".join(cells))
    lines: list[str] = []
    for block in [*blocks, matrix]:
        lines += ([""] if lines else []) + block
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
@click.option("--bundle", "bundle_files", multiple=True, metavar="FILE",
              help="Rank the votes in a `workbench bundle` file instead of the log's (repeatable; filters apply).")
@click.option("--rounds", type=int, default=100, show_default=True, metavar="N",
              help=f"Bootstrap rounds for the intervals (0 to {MAX_ROUNDS}).")
@click.option("--anchor", type=float, default=1000.0, show_default=True, metavar="RATING",
              help="Mean rating (or --anchor-model's rating).")
@click.option("--anchor-model", metavar="NAME", help="Pin this model at --anchor instead of the mean.")
@click.option("--min-votes", type=int, metavar="N",
              help=f"Votes a model needs to be ranked (default {DEFAULT_MIN_VOTES}; 1 ranks every model).")
@click.option("--style-control", is_flag=True,
              help="Also rate with answer length and markdown (headers, lists, bold) held equal, as LM Arena.")
@click.option("--fresh", is_flag=True,
              help="Only votes on prompts created after every rated model's cutoff (config: cutoff = \"2024-06\").")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard as JSON.")
@db_option
@click.pass_obj
def leaderboard_cmd(obj: dict, tag: str | None, session_id: int | None, since: str | None, until: str | None,
                    blind_only: bool, battle_files: tuple[str, ...], no_log: bool, bundle_files: tuple[str, ...],
                    rounds: int, anchor: float,
                    anchor_model: str | None, min_votes: int | None, style_control: bool, fresh: bool,
                    as_json: bool, db: str | None) -> None:
    """Rank the models by your votes: Bradley–Terry ratings with 95% bootstrap intervals.

    The fit is LM Arena's: ratings on the 400 × log10-odds scale (400 points apart means 10:1 odds of
    winning), ties and "both bad" as half a win each, the mean rating pinned at --anchor (or --anchor-model
    pinned there), intervals from --rounds resamples of the votes. Unlike LM Arena's, the fit has a weak
    prior: each model is credited with 0.1 of a game won and 0.1 lost against a player of about average
    rating, which moves ratings by a few points at 20 votes a model and by under one from about 100.

    What the votes cannot tell is said, not ranked. A model with fewer than --min-votes votes is not ranked.
    Models that never met, directly or through others, form groups, each ranked on its own: ratings do not
    compare across groups. A rating marked * belongs to a model that won (or lost) every battle: it is set
    by the prior, not measured. A model's rank is 1 + the number of ranked models of its group whose
    interval lies wholly above its own. --json gives each model's group, ranked and set_by_prior
    (won_all, lost_all or null; rank is null when not ranked) and a warnings list.

    --style-control fits LM Arena's style control beside the plain ratings: the answers' length (tokens) and
    markdown (headers, list items, bold) enter the fit as covariates, each the normalised difference
    (a − b) / (a + b + 1) between the two answers scaled by its root mean square over the votes, so a model is
    not rated up for writing more or formatting more. The table is ordered by the style-controlled rating and
    shows the plain rank and rating beside it; the coefficients follow (log-odds per typical difference, with
    intervals). The
    log's answers are measured from their texts; an arena file needs conv_metadata (sum_assistant_a_tokens,
    header_count_a, list_count_a, bold_count_a and the same for b), as LM Arena's dumps have.

    --fresh keeps only votes on prompts created after the latest cutoff among the rated models (a model's
    `cutoff` in the config; the demo models' from their model cards), so no model could have trained on them;
    a prompt file's date is its `created` field, a prompt typed in the app dates from when it was sent, and
    votes with a model of no known cutoff or a prompt of no known date are left out. It says how many are left.

    Exit status: 0 with a leaderboard, 1 when there are no votes to rank or no model has --min-votes
    votes (--json still prints what there is), 2 on an error.
    """
    import os

    # The fit solves small linear systems; OpenBLAS threads only add hand-off latency to those, up to
    # 100 times the work on a busy machine. Effective when numpy is not loaded yet, as here.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from workbench.arena import BattleError, leaderboard, read_battles

    if not 0 <= rounds <= MAX_ROUNDS:  # checked before any reading, so the mistake costs nothing
        raise Problem(f"--rounds must be between 0 and {MAX_ROUNDS}, not {rounds}")
    if min_votes is not None and min_votes < 1:
        raise Problem(f"--min-votes must be 1 or more, not {min_votes}")
    filters = {"tag": tag, "session_id": session_id, "since": _vote_time(since, "--since"),
               "until": _vote_time(until, "--until", end=True), "blind_only": blind_only}
    if no_log and not battle_files and not bundle_files:
        raise Problem("--no-log needs at least one --battles FILE")
    if no_log and any(v not in (None, False) for v in filters.values()):
        raise Problem("--tag, --session, --since, --until and --blind-only filter the log; drop --no-log to use them")
    votes, sources, tests = [], [], {}
    if not no_log or min_votes is None or fresh:
        settings = load_settings_or_fail(obj["config"], db or obj["db"])
        if min_votes is None:  # config.toml's [leaderboard] min_votes, once Settings carries it
            configured = getattr(settings, "leaderboard_min_votes", None)
            min_votes = DEFAULT_MIN_VOTES if configured is None else configured
    if bundle_files and style_control:
        raise Problem("--bundle ranks a bundle's votes as they are; --style-control reads the log")
    recorded: dict[str, str] = {}  # the cutoffs a bundle's answers recorded (--fresh; the config's win)
    for name in bundle_files:  # a bundle's votes stand in for the log's, filtered the same way
        from workbench.bundle import BundleError
        from workbench.bundle.votes import bundle_battles

        try:
            found, passed, dated = bundle_battles(name, **filters)
            recorded.update({m: c for m, c in dated.items() if m not in recorded})  # the first bundle's, as in one
        except BundleError as exc:
            raise Problem(str(exc)) from None
        votes += found
        for model, row in passed.items():
            mine = tests.setdefault(model, {"run": 0, "passed": 0})
            mine["run"] += row["run"]
            mine["passed"] += row["passed"]
            mine["pass_rate"] = round(mine["passed"] / mine["run"], 4)
        sources.append(f"{name} ({len(found)})")
    if not no_log and not bundle_files:
        db_path = settings.db_path
        dated = None
        if fresh:  # the library's prompts' `created` dates, by the name the log keeps
            from workbench.prompts import library_dirs, load_library

            dated = {name: p.created for name, p in load_library(library_dirs(settings.home))[0].items()}
        votes, tests = _log_battles(db_path, style=style_control, dated=dated, **filters)
        sources.append(f"the log {db_path} ({len(votes)})")
    for name in battle_files:
        try:
            found = read_battles(name)
        except BattleError as exc:
            raise Problem(str(exc)) from None
        bare = sum(b.style_a is None for b in found)
        if style_control and bare:
            raise Problem(f"{name}: {bare} of {len(found)} battles have no conv_metadata with the answers' "
                          f"tokens and markdown counts (sum_assistant_a_tokens, header_count_a, list_count_a, "
                          f"bold_count_a, and the same for b): style control needs the answers' lengths and "
                          f"markdown counts, which the log has (from the answers' texts)")
        votes += found
        sources.append(f"{name} ({len(found)})")
    kept = None
    if fresh and votes:
        from workbench.arena import fresh_battles

        votes, kept = fresh_battles(votes, {**recorded, **_cutoffs(settings)})
        if not as_json or not votes:
            click.echo(terminal_safe(_fresh_line(kept)), err=not votes)
    if not votes:
        click.echo(f"no votes to rank in {' or '.join(s.rsplit(' (', 1)[0] for s in sources)}"
                   f"{' matching the filters' if any(filters.values()) and not no_log else ''}"
                   f"{' with --fresh' if kept else ''}", err=True)
        sys.exit(1)
    try:
        board = leaderboard(votes, rounds=rounds, anchor=anchor, anchor_model=anchor_model, min_votes=min_votes,
                            style_control=style_control)
    except ValueError as exc:
        raise Problem(f"--anchor-model: {exc}" if anchor_model else str(exc)) from None
    if as_json:
        click.echo(json.dumps({**board.as_dict(), "tests": tests, **({"fresh": kept} if kept else {})},
                              indent=2, ensure_ascii=False))
        sys.exit(0 if board.ranked else 1)
    if not board.ranked:  # one line saying so, instead of a ranking the votes cannot support
        click.echo(terminal_safe(board.warnings[0]["message"]) + " --min-votes N ranks with fewer.", err=True)
        sys.exit(1)
    pinned = f"{anchor_model} pinned at {anchor:g}" if anchor_model else f"mean rating {anchor:g}"
    of = f" (of {kept['total']}, --fresh)" if kept else ""
    click.echo(f"{board.battles} pairwise vote{'s' * (board.battles != 1)}{of} from {', '.join(sources)}; "
               f"{rounds} bootstrap rounds; {pinned}; models ranked from {min_votes} vote{'s' * (min_votes != 1)}"
               + ("; style control: answer length and markdown (headers, lists, bold) held equal"
                  if style_control else ""))
    click.echo()
    for line in _board_lines(board, tests):
        click.echo(line)

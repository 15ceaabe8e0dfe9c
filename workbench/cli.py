"""The `workbench` command: the TUI by default, and headless subcommands."""

from __future__ import annotations

import click

from workbench import __version__
from workbench.commands.bundle import bundle_cmd
from workbench.commands.check import check_cmd
from workbench.commands.common import Problem, discover_entries, load_settings_or_fail, open_store, pick_models
from workbench.commands.export import export_cmd
from workbench.commands.leaderboard import leaderboard_cmd
from workbench.commands.models import models_cmd
from workbench.commands.replay import replay_cmd
from workbench.commands.run import run_cmd
from workbench.commands.sessions import sessions_cmd


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
    settings = load_settings_or_fail(config, db)
    entries = discover_entries(settings)
    draw_from = [n.strip() for n in pool.split(",") if n.strip()] if pool else []
    if pool is not None and len(set(draw_from)) < 2:
        raise Problem("--pool needs at least two different models, e.g. --pool smollm2,gemma3-270m")
    names = tuple(dict.fromkeys(draw_from)) or models or settings.default_models or tuple(
        e.spec.name for e in entries if e.available)[:2]
    if not names:
        raise Problem("no models available; `workbench models` says why")
    if len(names) > 6 and not draw_from:
        raise Problem(f"at most 6 panes ({len(names)} models given)")
    chosen = pick_models(entries, tuple(names))
    from workbench.ui.app import build_app
    from workbench.config import ConfigError, load_params
    from workbench.ui.app import KeymapError
    from workbench.ui.themes import ThemeError

    store = open_store(settings)
    try:
        recorder = store.start_session("app")
        app = build_app(settings, entries, [e.spec.name for e in chosen], theme or settings.theme,
                        recorder=recorder, blind=blind, pool=draw_from or None,
                        request_defaults=load_params(settings.home))
    except (ThemeError, KeymapError, ConfigError) as exc:
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
        recorder.close()  # answers stopped by the quit are logged as cancelled, not left `streaming`
        store.close()  # commits what is queued, with a last checkpoint
    if recorder.session_id is not None:
        session = recorder.session_id
        db_arg = f" --db {settings.db_path}" if db else ""
        click.echo(f"Session {session} is in {settings.db_path}. Report: "
                   f"workbench export --session {session}{db_arg} -o session-{session}.html", err=True)
    if recorder.errors:
        raise Problem(f"{len(recorder.errors)} write{'s' * (len(recorder.errors) != 1)} to the log failed: "
                      f"{recorder.errors[-1]}")


# Each subcommand is a plain click command in workbench/commands/, so none of them imports this module.
for _command in (bundle_cmd, check_cmd, export_cmd, leaderboard_cmd, models_cmd, replay_cmd, run_cmd,
                 sessions_cmd):
    main.add_command(_command)

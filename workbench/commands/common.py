"""What the subcommands share: the one-line error, settings, models, the log, and the --db option.

It imports nothing of workbench at module level, so `workbench --help` stays as light as click itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click


class Problem(click.ClickException):
    """A user-facing failure: printed as one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - one line, no usage dump
        from workbench.redact import terminal_safe

        click.echo(f"workbench: error: {terminal_safe(self.message)}", err=True)


def load_settings_or_fail(config: str | None, db: str | None):
    """The settings from the config file and --db, or a Problem saying what is wrong with them."""
    from workbench.config import ConfigError, load_settings

    try:
        return load_settings(config, db)
    except ConfigError as exc:
        raise Problem(str(exc)) from None


def discover_entries(settings):
    """Every model the catalog knows of, available or not."""
    from workbench import catalog

    return catalog.discover(settings)


def pick_models(entries, names: tuple[str, ...]):
    """The entries for these model names, or a Problem naming the unknown one."""
    from workbench.catalog import UnknownModel, resolve

    try:
        return resolve(entries, list(names))
    except UnknownModel as exc:
        raise Problem(str(exc)) from None


def open_store(settings):
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


def db_option(fn):
    """`--db FILE` on a subcommand too (`workbench run ... --db FILE`), overriding the group's."""
    return click.option("--db", "db", metavar="FILE", help="SQLite log (default: $WORKBENCH_HOME/workbench.db).")(fn)

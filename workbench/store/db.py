"""Opening the log file: WAL, migrations, and one-line errors that name the file."""

from __future__ import annotations

import os
import socket
import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from sqlite_utils import Database

from workbench.store.schema import KNOWN, migrations

BUSY_TIMEOUT_MS = 3000


class StoreError(Exception):
    """The log cannot be used; the message is one line naming the file. The file is left as it was."""


def _explain(path: Path, exc: Exception) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return f"{path}: the log is locked by another program; close it and try again"
    if "readonly" in text or "read-only" in text or "attempt to write" in text:
        return f"{path}: the log is read-only; choose another with --db"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{path}: not a workbench log (corrupt, or another kind of file); it was left untouched"
    if "disk is full" in text or "no space" in text:
        return f"{path}: the disk is full; free some space (nothing was lost before this write)"
    if "unable to open" in text:
        return f"{path}: cannot open the log (does its folder exist and is it writable?)"
    return f"{path}: {exc}"


def open_db(path: Path | str, *, migrate: bool = True) -> Database:
    """Open (creating if needed) and migrate the log; raises StoreError, never overwrites a bad file.

    With `migrate` (the default) the file must also be writable now: a read-only or locked log
    fails here, within the busy timeout, rather than at the first answer.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a log file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create its folder: {exc.strerror}") from None
    conn = None
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=True)
        db = Database(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        # Reading the schema first makes a corrupt or foreign file fail here, before any write.
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = {m.name for m in migrations.applied(db)}
        unknown = applied - KNOWN
        if unknown:
            raise StoreError(
                f"{path}: made by a newer workbench (schema step {sorted(unknown)[-1]}); upgrade to open it"
            )
        if not applied and tables - {"_sqlite_migrations"} - {t for t in tables if t.startswith("sqlite_")}:
            # Another program's database: adding our tables (or WAL) to it would be overwriting it.
            raise StoreError(f"{path}: a SQLite file, but not a workbench log; it was left untouched")
        if migrate:
            # Write a page and roll it back first: a read-only or locked file fails here, before
            # anything changes (taking the lock alone does not tell a read-only WAL file).
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                conn.execute("ROLLBACK")
            if db.journal_mode != "wal":
                db.enable_wal()
            if migrations.pending(db):
                migrations.apply(db)
            _mark_interrupted(db)
        return db
    except StoreError:
        _close(conn)
        raise
    except sqlite3.Error as exc:
        _close(conn)
        raise StoreError(_explain(path, exc)) from None


def open_for_reading(path: Path | str) -> Database:
    """The log for a command that only reads (sessions, export, leaderboard).

    Opened and migrated like any other when it is writable; a read-only (or write-locked) log of
    the current schema is read as it is, so a log someone shared read-only can still be exported
    and ranked. Answers a killed process left `streaming` are not re-marked in that case.
    """
    try:
        return open_db(path)
    except StoreError as first:
        path = Path(path)
        if not path.is_file():
            raise
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            conn = None
            try:
                conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{flags}", uri=True,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
                db = Database(conn)
                applied = {m.name for m in migrations.applied(db)}
                if applied - KNOWN:
                    _close(conn)
                    raise StoreError(f"{path}: made by a newer workbench; upgrade to open it") from None
                if KNOWN - applied:
                    _close(conn)
                    raise StoreError(f"{first}; it is from an older workbench and must be upgraded by a "
                                     "writable open first") from None
                return db
            except sqlite3.Error:
                _close(conn)
                continue
        raise


def _close(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _alive(pid: int | None, host: str | None, started_at: str | None) -> bool:
    """Whether process `pid` still runs and was already running at `started_at` (another machine's: assume so)."""
    if host != socket.gethostname():
        return True
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # The pid exists; on Linux make sure it is still *that* process: not a zombie nobody reaped
    # yet, and not a newer process that reused the pid (after a reboot, say).
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as fh:
            boot = next(float(ln.split()[1]) for ln in fh if ln.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return True
    if fields[0] in ("Z", "X"):
        return False
    if started_at:
        try:
            began = datetime.fromisoformat(started_at).timestamp()
        except ValueError:
            return True
        process_start = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        if process_start > began + 2:  # clock ticks and btime are coarse: allow a little
            return False
    return True


def _mark_interrupted(db: Database) -> None:
    """Answers left `streaming` by a process that is gone become `interrupted` (text kept as checkpointed)."""
    # Judged per answer: the session's pid is whoever writes it now (a resumed batch takes it over),
    # and an answer begun before that process started was left behind by an earlier one.
    rows = db.execute(
        "SELECT r.id, s.pid, s.host, r.started_at FROM responses r JOIN prompts p ON p.id = r.prompt_id "
        "JOIN sessions s ON s.id = p.session_id WHERE r.status = 'streaming'"
    ).fetchall()
    dead = [rid for rid, pid, host, started in rows if not _alive(pid, host, started)]
    if dead:
        marks = ",".join("?" * len(dead))
        with db.conn:
            db.execute(f"UPDATE responses SET status = 'interrupted' WHERE status = 'streaming' AND id IN ({marks})",
                       dead)

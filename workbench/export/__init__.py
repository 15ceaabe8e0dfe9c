"""Exports of the log: JSON Lines, CSV, Markdown and a self-contained HTML report (one module each).

Each format module has `write(db, out, session_id=None) -> int`, which streams the answers (in
prompt and pane order) to the text stream `out` and returns how many it wrote. Modules are
imported only when their format is asked for, so the CLI starts without Pygments or markdown-it.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from sqlite_utils import Database

ANSWER_FORMATS = {"jsonl": ".jsonl", "csv": ".csv", "markdown": ".md", "html": ".html"}
"""The formats of answers: each format's name (as `--format` takes it) and its usual file suffix."""
FORMATS = {**ANSWER_FORMATS, "battles": ".jsonl"}
"""Every format: the answers' ones, and `battles` (the votes as arena-format pairs, one a line)."""


def write(format: str, db: "Database", out: TextIO, session_id: int | None = None) -> int:  # noqa: A002
    """Write every answer (or one session's) to `out` in `format`; returns how many answers.

    `out` should be opened with `newline=""` (CSV writes its own CRLF line ends) and UTF-8.
    The whole export reads one snapshot of the log, even while the app is writing to it.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r} (expected one of: {', '.join(FORMATS)})")
    module = import_module(f"workbench.export.{format}")
    conn = db.conn
    snapshot = not conn.in_transaction
    if snapshot:
        conn.execute("BEGIN")  # a read transaction: every query below sees the same log (WAL)
    try:
        return module.write(db, out, session_id)
    finally:
        if snapshot:
            conn.rollback()  # nothing was written; this only ends the snapshot


class ExportError(Exception):
    """An export that could not be written, in one line naming the file."""


def _target(path: Path) -> Path:
    """The file -o really names: a symlink's regular-file target; anything but a regular file is refused.

    The export is renamed over its target, which would replace a symlink, a FIFO or a device node
    with a plain file: a link is followed (its file is replaced, the link kept), the rest refused.
    """
    import os
    import stat

    from workbench.inputs import kind

    real = Path(os.path.realpath(path))  # a dangling link names the file it will create, as `>` would
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise ExportError(f"{path}: cannot write there: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ExportError(f"{path}: is a folder; name a file with -o (or a file name)")
    if not stat.S_ISREG(mode):
        raise ExportError(f"{path}: not a regular file ({kind(mode)}); the export would replace it")
    return real


def write_file(format: str, db: "Database", path: Path, session_id: int | None = None) -> int:  # noqa: A002
    """Write beside the target and rename over it, so a failed export never leaves a half file."""
    import os
    import tempfile

    target = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = write(format, db, out, session_id)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; an export gets the usual permissions
        os.replace(tmp, target)
        return count
    except OSError as exc:  # a full disk, an immutable target: one line, the old file left as it was
        _remove(tmp)
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: str) -> None:
    """Remove the half-written temporary file, if it is still there."""
    import os

    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass

"""Exports of the log: JSON Lines, CSV, Markdown and a self-contained HTML report (one module each).

Each format module has `write(db, out, session_id=None) -> int`, which streams the answers (in
prompt and pane order) to the text stream `out` and returns how many it wrote. Modules are
imported only when their format is asked for, so the CLI starts without Pygments or markdown-it.
"""

from __future__ import annotations

from importlib import import_module
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

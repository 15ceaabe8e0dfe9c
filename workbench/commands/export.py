"""`workbench export`: the log as JSONL, CSV, Markdown, HTML or arena battles."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench.commands.common import Problem, db_option, load_settings_or_fail, reading_log
from workbench.export import FORMATS as EXPORT_FORMATS


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)),
              help="Default: from the -o file's suffix (.jsonl .csv .md .html), else html. jsonl (one object per answer), csv, markdown, html (one self-contained report), or battles "
                   "(the votes as pairwise battles in the public arena format, for `leaderboard --battles`).")
@click.option("--session", "session_id", type=int, metavar="ID", help="Only this session (default: every session).")
@click.option("-o", "--output", "output", metavar="FILE", help="Write to FILE (default: standard output).")
@db_option
@click.pass_obj
def export_cmd(obj: dict, fmt: str, session_id: int | None, output: str | None, db: str | None) -> None:
    """Export the log's answers, with prompts, fingerprints, figures and votes."""
    from workbench import export

    if fmt is None:
        suffix = Path(output).suffix.lower() if output else ""
        fmt = {v: k for k, v in reversed(EXPORT_FORMATS.items())}.get(suffix, "html")
    settings = load_settings_or_fail(obj["config"], db or obj["db"])
    if not settings.db_path.exists():  # never create an empty log just to export it (a mistyped --db)
        raise Problem(f"{settings.db_path}: no log there yet (`workbench run` or the app makes one)")
    with reading_log(settings.db_path, session_id) as log:
        if output is None:
            _export_stdout(export, fmt, log, session_id)
        else:
            count = _export_file(export, fmt, log, session_id, Path(output))
            noun = "battle" if fmt == "battles" else "answer"
            click.echo(f"Wrote {count} {noun}{'s' * (count != 1)} to {output}.", err=True)


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
    """Write to `path` all at once (a failed export never leaves a half file); problems as one line."""
    try:
        return export.write_file(fmt, db, path, session_id)
    except export.ExportError as exc:
        raise Problem(str(exc)) from None

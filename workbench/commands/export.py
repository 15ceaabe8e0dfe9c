"""`workbench export`: the log as JSONL, CSV, Markdown, HTML or arena battles."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench.commands.common import Problem, db_option, load_settings_or_fail, reading_log
from workbench.export import FORMATS as EXPORT_FORMATS


@click.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(list(EXPORT_FORMATS)),
              help="jsonl (one object per answer), csv, markdown, html (one self-contained report), or battles "
                   "(the votes as pairwise battles in the public arena format, for `leaderboard --battles`).")
@click.option("--session", "session_id", type=int, metavar="ID", help="Only this session (default: every session).")
@click.option("-o", "--output", "output", metavar="FILE", help="Write to FILE (default: standard output).")
@db_option
@click.pass_obj
def export_cmd(obj: dict, fmt: str, session_id: int | None, output: str | None, db: str | None) -> None:
    """Export the log's answers, with prompts, fingerprints, figures and votes."""
    from workbench import export

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
        raise Problem(f"{path}: cannot write there: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise Problem(f"{path}: is a folder; name a file with -o")
    if not stat.S_ISREG(mode):
        raise Problem(f"{path}: not a regular file ({kind(mode)}); the export would replace it")
    return real


def _export_file(export, fmt: str, db, session_id: int | None, path: Path) -> int:
    """Write beside the target and rename over it, so a failed export never leaves a half file."""
    import os
    import tempfile

    target = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise Problem(f"{path}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            count = export.write(fmt, db, out, session_id)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; an export gets the usual permissions
        os.replace(tmp, target)
        return count
    except OSError as exc:  # a full disk, an immutable target: one line, the old file left as it was
        _remove(tmp)
        raise Problem(f"{path}: cannot write: {exc.strerror or exc}") from None
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

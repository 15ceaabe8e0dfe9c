"""`workbench bundle`: a session's evidence in one file that anyone can re-run with `workbench replay`."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.commands.common import Problem, db_option, load_settings_or_fail, reading_log


class NotDone(Problem):
    """A failure that left the work undone (a bundle not written or not readable): one line, exit status 1."""

    exit_code = 1


def _default_name(session_id: int | None, tag: str | None) -> str:
    import re

    parts = ([f"session-{session_id}"] if session_id is not None else []) + \
            ([f"tag-{re.sub(r'[^A-Za-z0-9._-]', '_', tag)[:40]}"] if tag else [])
    return f"bundle-{'-'.join(parts)}.zip"


@click.command("bundle")
@click.option("--session", "session_id", type=int, metavar="ID", help="Bundle this session (`workbench sessions`).")
@click.option("--tag", metavar="TAG", help="Bundle the prompts with this tag (with --session: of that session).")
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE  [default: bundle-session-ID.zip, bundle-tag-TAG.zip]")
@db_option
@click.pass_obj
def bundle_cmd(obj: dict, session_id: int | None, tag: str | None, output: str | None, db: str | None) -> None:
    """Write a session's evidence into one zip that `workbench replay` re-runs.

    It holds the prompts and their tests, every answer's request as sent (system prompt,
    parameters, conversation history), local models' run settings and effective chat templates,
    the models' fingerprints (a GGUF's SHA-256…), the answers with their figures, the votes with
    what was shown, the test verdicts, and the software, OS and CPU flags. API keys, private
    hosts and any value of the environment are cut out; the log's host name is never in it.
    """
    from workbench.bundle.build import build
    from workbench.bundle.format import BundleError, write_bundle
    from workbench.redact import terminal_safe

    if session_id is None and not tag:
        raise Problem("choose what to bundle: --session ID or --tag TAG (`workbench sessions` lists the sessions)")
    settings = load_settings_or_fail(obj["config"], db or obj["db"])
    if not settings.db_path.exists():  # never create an empty log just to read it (a mistyped --db)
        raise Problem(f"{settings.db_path}: no log there yet (`workbench run` or the app makes one)")
    with reading_log(settings.db_path, session_id) as log:
        try:
            manifest, answers = build(log, settings, session_id, tag)
        except BundleError as exc:
            raise NotDone(str(exc)) from None
    path = Path(output or _default_name(session_id, tag))
    try:
        size = write_bundle(path, manifest, answers)
    except BundleError as exc:
        raise NotDone(str(exc)) from None
    n, p = len(answers), len(manifest["prompts"])
    votes = sum(1 for v in manifest["votes"] if not v.get("retracted_at") and v.get("outcome"))
    click.echo(terminal_safe(
        f"Wrote {n} answer{'s' * (n != 1)} of {p} prompt{'s' * (p != 1)}, "
        f"{len(manifest['models'])} model{'s' * (len(manifest['models']) != 1)} and {votes} vote{'s' * (votes != 1)} "
        f"to {path} ({max(1, size // 1024)} KiB)."), err=True)
    expected = sum(1 for a in answers if (a.get("reproducible") or {}).get("expected"))
    click.echo(f"{expected} of {n} answers should come back identical on re-running (`workbench replay {path}`).",
               err=True)
    cut = manifest.get("redactions") or {}
    if any(cut.values()):
        words = [f"{cut[k]} {w}" for k, w in (("keys", "key"), ("environment", "environment value"),
                                              ("hosts", "private host name")) if cut.get(k)]
        click.echo(f"Cut out: {', '.join(words)} (each occurrence).", err=True)
    for model in manifest["models"].values():
        template = model.get("chat_template") or {}
        if model.get("engine") == "llama" and model.get("chat_template_sha256") and not template.get("text") \
                and not template.get("chat_format"):
            click.echo(terminal_safe(f"note: {model['name']}'s chat template: {template.get('note')}"), err=True)
    for note in sorted({p["tests_note"] for p in manifest["prompts"] if p.get("tests_note")}):
        click.echo(terminal_safe(f"note: {note}"), err=True)

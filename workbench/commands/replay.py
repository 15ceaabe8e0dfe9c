"""`workbench replay BUNDLE`: re-run a bundle's answers and say which came back byte for byte."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench.commands.bundle import NotDone
from workbench.commands.common import Problem, db_option, load_settings_or_fail, open_store


def _params(request: dict) -> str:
    words = [f"{k} {request[k]:g}" if isinstance(request.get(k), float) else f"{k} {request[k]}"
             for k in ("temperature", "seed", "top_p", "max_tokens") if request.get(k) is not None]
    return " · ".join(words)


def _where(settings: dict | None) -> str:
    if not settings:
        return ""
    if settings.get("engine") != "llama":
        return f"  [{settings.get('where') or settings.get('engine')}]"
    threads = settings.get("n_threads")
    bits = [settings.get("where") or f"CPU · {threads} threads", f"n_ctx {settings.get('n_ctx')}",
            f"n_batch {settings.get('n_batch')}"]
    if settings.get("n_threads_bundle") and settings.get("n_threads_bundle") != threads:
        bits.append(f"{settings['n_threads_bundle']} threads in the bundle")
    if settings.get("chat_format"):
        bits.append(f"chat_format {settings['chat_format']}")
    return f"  [{' · '.join(bits)}]"


def _verdict_words(v: dict | None) -> str:
    if not v:
        return "not run"
    return f"{v.get('outcome')} {v.get('passed')}/{v.get('total')}" if v.get("total") else str(v.get("outcome"))


def _print(outcome, prompts: dict) -> None:
    from workbench.redact import terminal_safe

    a = outcome.answer
    prompt = prompts.get(a["prompt_id"]) or {}
    head = (f"answer {a['id']} · {a['model_name']} · prompt {a['prompt_id']} turn {prompt.get('turn') or 1} · "
            f"{_params(a['request'])}: {outcome.status}")
    if outcome.why:
        head += f" ({outcome.why})"
    click.echo(terminal_safe(head + _where(outcome.settings)))
    if outcome.diff:
        for line in outcome.diff.splitlines():
            click.echo("    " + terminal_safe(line))
    if outcome.tests:
        t = outcome.tests
        same = "as in the bundle" if t["same"] else f"the bundle's: {_verdict_words(t['bundle'])}"
        click.echo(terminal_safe(f"    tests: {_verdict_words(t['replay'])} ({same})"))


@click.command("replay")
@click.argument("bundle_file", metavar="BUNDLE")
@click.option("--models", "model_dirs", multiple=True, metavar="DIR",
              help="Also look for the GGUFs (by SHA-256) in DIR (repeatable).")
@click.option("--hosted", is_flag=True, help="Re-run hosted models' answers too (those with a fixed seed).")
@click.option("--import", "do_import", is_flag=True, help="Save the re-run answers in the log as a new session.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
@click.pass_obj
def replay_cmd(obj: dict, bundle_file: str, model_dirs: tuple[str, ...], hosted: bool, do_import: bool,
               as_json: bool, db: str | None) -> None:
    """Re-run every answer of a bundle that can be re-run, and compare it with the bundle's.

    A local model is found by its GGUF's SHA-256 (the config's models, the demo models,
    $WORKBENCH_HOME/models/ and --models folders) and run with the bundle's parameters, history
    and settings. Per answer: identical, differs (with a unified diff), model missing, not
    reproducible (sampled with no seed, hosted with no seed, stopped part-way, failed), or
    skipped (hosted, without --hosted). The prompts' tests are re-run and their verdicts compared.

    Exit status: 0 when every answer re-run came back identical with the same verdicts, 1 when
    one differs, a model is missing, the bundle cannot be read or the import failed, 2 on bad input.
    """
    from workbench.bundle import BundleError, read_bundle
    from workbench.bundle.replay import machine_notes, replay
    from workbench.bundle.rules import WORKER
    from workbench.redact import terminal_safe

    settings = load_settings_or_fail(obj["config"], db or obj["db"])
    folders = []
    for folder in model_dirs:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise Problem(f"{folder}: --models needs a folder of GGUF files")
        folders.append(path)
    try:
        bundle = read_bundle(bundle_file)
    except BundleError as exc:
        raise NotDone(str(exc)) from None
    prompts = bundle.prompts
    notes = machine_notes(bundle)
    if not as_json:
        n = len(bundle.answers)
        click.echo(terminal_safe(f"Replaying {bundle_file}: {n} answer{'s' * (n != 1)} of {len(prompts)} "
                                 f"prompt{'s' * (len(prompts) != 1)}. Local models run as recorded: the bundle's "
                                 f"threads and n_ctx, n_batch {WORKER['n_batch']}, the context emptied before "
                                 "every answer."))
        for note in notes:
            click.echo(terminal_safe(f"note: this machine differs: {note}"))
    store = open_store(settings) if do_import else None
    try:
        report = replay(bundle, settings, folders, hosted=hosted, store=store, notes=notes,
                        on_outcome=None if as_json else (lambda o: _print(o, prompts)))
    except KeyboardInterrupt:
        click.echo("Stopped; nothing more was re-run.", err=True)
        sys.exit(130)
    finally:
        if store is not None:
            store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        counts = report.counts()
        words = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k in ("identical", "differs"))
        tests = f"; tests differ for {report.tests_differ}" if report.tests_differ else ""
        click.echo(f"{len(report.outcomes)} answers: {words}{tests}.")
    if do_import:
        if report.errors:
            click.echo(f"workbench: error: the log could not be written: {terminal_safe(report.errors[0])}", err=True)
        elif report.session_id is not None:
            click.echo(f"Imported the re-run answers as session {report.session_id} in {settings.db_path}.",
                       err=True)
        else:
            click.echo("Nothing was re-run, so nothing was imported.", err=True)
    sys.exit(0 if report.ok else 1)

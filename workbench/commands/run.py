"""`workbench run`: prompts to models without the TUI, one comparison or a batch."""

from __future__ import annotations

import json
import sys

import click

from workbench.commands.common import (
    Problem,
    db_option,
    discover_entries,
    load_settings_or_fail,
    open_store,
    pick_models,
)


@click.command("run")
@click.argument("prompts", nargs=-1)
@click.option("-m", "--model", "models", multiple=True, metavar="NAME", help="Model to ask (repeatable).")
@click.option("--repeat", type=click.IntRange(1), default=None, help="Ask each prompt this many times.  [default: 1]")
@click.option("--parallel", type=click.IntRange(1), default=None,
              help="Prompts in flight at once (hosted models run concurrently; a local model serves one at a time).")
@click.option("--tag", metavar="TAG", help="Only prompts with this tag (with no PROMPT: the library's prompts with it).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Fill a {{NAME}} placeholder.")
@click.option("--resume", type=int, metavar="SESSION", help="Finish a stopped batch: run only what is missing.")
@click.option("--system", metavar="TEXT", help="System prompt (overrides the prompt file's).")
@click.option("--max-tokens", type=click.IntRange(1), help="Most tokens per answer.  [default: the prompt's, or 512]")
@click.option("--temperature", type=click.FloatRange(0), help="Sampling temperature (0: greedy).")
@click.option("--top-p", type=click.FloatRange(0, 1), help="Nucleus sampling.")
@click.option("--seed", type=int, help="Sampling seed, for models that take one.")
@click.option("--name", "session_name", metavar="TEXT", help="Name the session in the log.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of answers with their figures.")
@db_option
@click.pass_obj
def run_cmd(obj: dict, prompts: tuple[str, ...], models: tuple[str, ...], repeat: int | None, parallel: int | None,
            tag: str | None, variables: tuple[str, ...], resume: int | None, system: str | None,
            max_tokens: int | None, temperature: float | None, top_p: float | None, seed: int | None,
            session_name: str | None, as_json: bool, db: str | None) -> None:
    """Ask models the same prompts without the TUI, into one logged session.

    Each PROMPT is literal text, a prompt file, or a name from the prompt library.
    One prompt prints every answer in full: on a terminal as it streams (one model's
    text, or a block per model in the order given), then its figures (and cost, when
    the model's price is known); piped, each answer whole under a line of figures.
    Several prompts (or --repeat) run as a batch with a progress bar and end with a
    summary per model. Ctrl-C stops cleanly and prints the command that resumes.
    """
    import threading

    from workbench.engines.pool import EnginePool
    from workbench.runner import (
        Batch,
        LiveOutput,
        Reporter,
        RunError,
        Watched,
        batch_results_json,
        build_items,
        colour_wanted,
        print_summary,
        resume_command,
        resume_state,
        stderr_is_tty,
        stdout_is_tty,
        summary,
        with_costs,
    )
    from workbench.store import StoreError

    settings = load_settings_or_fail(obj["config"], db or obj["db"])
    entries = discover_entries(settings)
    store = open_store(settings)  # a bad log fails before any model is loaded
    engines: list = []
    try:
        skip, prompt_ids, stored, unjudged = (set(), {}, {}, [])
        if resume is not None:
            try:
                skip, prompt_ids, stored, unjudged = resume_state(store, resume)
            except RunError as exc:
                raise Problem(str(exc)) from None
        prompts = prompts or tuple(stored.get("prompts", ()))
        models = models or tuple(stored.get("models", ()))
        repeat = repeat or stored.get("repeat", 1)
        tag = tag or stored.get("tag")
        variables = variables or tuple(stored.get("vars", ()))
        if not models:
            raise Problem("choose models with -m NAME (repeatable); `workbench models` lists them")
        vars_ = {}
        for item in variables:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise Problem(f"--var {item!r}: expected NAME=VALUE")
            vars_[name.strip()] = value
        params = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed, "top_p": top_p,
                  "system": system}
        for key, value in stored.get("params", {}).items():
            params[key] = params.get(key) if params.get(key) is not None else value
        try:
            items, warnings = build_items(list(prompts), settings, vars_, tag, params)
        except RunError as exc:
            raise Problem(str(exc)) from None
        for warning in warnings:
            click.echo(f"workbench: warning: {warning}", err=True)
        chosen = pick_models(entries, models)
        args = {"prompts": list(prompts), "models": list(models), "repeat": repeat, "tag": tag, "parallel": parallel,
                "vars": list(variables), "params": {k: v for k, v in params.items() if v is not None}}
        try:
            recorder = (store.continue_session(resume) if resume is not None
                        else store.start_session("run", session_name, args=args))
        except StoreError as exc:
            raise Problem(str(exc)) from None
        engines = EnginePool.for_specs([e.spec for e in chosen]).engines
        from workbench.engines import warm_up

        warm_up({e.spec.engine for e in chosen})  # before the clocks start: nobody's time to first token
        single = len(items) == 1 and repeat == 1 and resume is None
        # On a terminal, one comparison is read as it streams; piped (or --json), it is printed whole at the end.
        live = LiveOutput(len(engines), colour=colour_wanted()) if single and not as_json and stdout_is_tty() else None
        batch = Batch(items, engines, repeat=repeat, parallel=parallel or stored.get("parallel") or 1,
                      recorder=Watched(recorder, live.seen) if live else recorder, skip=skip, prompt_ids=prompt_ids,
                      recheck=unjudged)
        # A write that fails stops the batch: answers that cannot be logged are not evidence.
        recorder.on_error = lambda _message: batch.stop()
        reporter = Reporter(batch.tally.total, live=stderr_is_tty() and not as_json) if not single else None
        if reporter is not None:
            batch.on_answer = reporter.answer
        runner = threading.Thread(target=batch.run, name="batch", daemon=True)
        runner.start()
        try:
            while runner.is_alive():
                runner.join(0.05 if live else 0.2)
                if live:
                    live.poll()
        except KeyboardInterrupt:
            batch.stop()
            click.echo(("\n" if live else "")  # the answer's line may be half printed
                       + "Stopping: cancelling what is in flight (Ctrl-C again does not lose it)…", err=True)
            while runner.is_alive():
                try:
                    runner.join(0.2)
                except KeyboardInterrupt:
                    pass  # the batch is already stopping; finishing cleanly keeps what is done
        finally:
            if reporter is not None:
                reporter.close()
    finally:
        for engine in engines:
            engine.close()
        store.close()
    results = batch.results
    if as_json:
        if single:
            click.echo(json.dumps([{**r.answer.as_dict(),
                                    "verification": r.verdict.as_dict() if r.verdict is not None else None}
                                   for r in sorted(results, key=lambda r: r.answer.index)],
                                  indent=2, ensure_ascii=False))
        else:
            click.echo(batch_results_json(results))
    elif live:
        live.finish(results)
    elif single:
        for result in sorted(results, key=lambda r: r.answer.index):
            _print_answer(result.answer, result.verdict)
    else:
        print_summary(with_costs(summary(results, k=repeat), results))
    from workbench.redact import terminal_safe

    if recorder.errors:  # the answers were produced, but the log does not hold them all: say so, exit 1
        first = recorder.errors[0]
        more = f" ({len(recorder.errors) - 1} more writes failed)" if len(recorder.errors) > 1 else ""
        click.echo(f"workbench: error: the log could not be written: {terminal_safe(first)}{more}", err=True)
        if not single and recorder.session_id is not None:
            click.echo(f"The batch stopped. Once the log can be written, finish it with:\n"
                       f"  {resume_command(recorder.session_id, db)}", err=True)
        sys.exit(1)
    if batch.stopped and recorder.session_id is None:
        click.echo("Stopped before any answer was logged; nothing to resume.", err=True)
        sys.exit(130)
    if batch.stopped:
        click.echo(f"Stopped. {batch.tally.done} of {batch.tally.total} answers done and logged, "
                   f"{batch.tally.cancelled} cancelled (a resume runs those again) "
                   f"(session #{recorder.session_id}). Resume with:\n  {resume_command(recorder.session_id, db)}",
                   err=True)
        sys.exit(130)
    if any(r.answer.status == "failed" for r in results):
        sys.exit(1)


def _print_answer(a, verdict=None) -> None:
    from workbench.figures import summary
    from workbench.redact import terminal_safe

    # An answer is untrusted text: no escape sequence of it reaches the terminal (OSC 52, titles…).
    click.echo(terminal_safe(f"── {a.model} · {a.where} ── {summary(a)}"))
    if a.error:
        click.echo(f"error: {terminal_safe(a.error)}")
    if a.text:
        click.echo(terminal_safe(a.text.rstrip()))
    if verdict is not None:  # the prompt has tests: say how the code did, as a batch does
        click.echo(terminal_safe(f"tests: {verdict.summary()}"))
    click.echo()

"""`workbench check`: one answer against a prompt's tests, in the sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workbench.commands.common import Problem, load_settings_or_fail

_CODE_SUFFIXES = {".py": "python", ".js": "javascript", ".cjs": "javascript", ".sh": "bash", ".bash": "bash",
                  ".sql": "sql"}
"""A bare code file's language by its suffix (anything else is read as a Markdown answer)."""


def _check_prompt(arg: str, settings):
    """The prompt to check against: a prompt file, or a name in the prompt library."""
    from workbench.prompts import PromptError, library_dirs, load_library, parse, resolve

    try:
        if Path(arg).expanduser().is_file():
            return parse(Path(arg).expanduser())
        library, broken = load_library(library_dirs(settings.home))
        prompt = resolve(arg, library, broken)
    except PromptError as exc:
        raise Problem(str(exc)) from None
    if prompt.path is None:
        raise Problem(f"--prompt {arg!r}: no such prompt file or library prompt")
    return prompt


@click.command("check")
@click.argument("answer_file", metavar="ANSWER_FILE")
@click.option("--prompt", "prompt_arg", required=True, metavar="PROMPT",
              help="Prompt file, or name in the prompt library, whose tests to run.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--allow-network", is_flag=True,
              help="Run the code even where this machine cannot cut it off the network.")
@click.option("--timeout", type=click.FloatRange(min=0.5, max=3600), metavar="S",
              help="Wall-clock limit for the run, in seconds.  [default: 20]")
@click.pass_obj
def check_cmd(obj: dict, answer_file: str, prompt_arg: str, as_json: bool, allow_network: bool,
              timeout: float | None) -> None:
    """Run one answer's code against a prompt's tests, in the sandbox, and print the verdict.

    ANSWER_FILE is a Markdown answer (its code blocks are extracted) or a bare code file
    (.py, .js, .sh, .sql). A prompt without tests just runs the code.
    Exit status: 0 pass (or no tests and the code exited 0), 1 fail, error, timeout or no code,
    2 bad input or nothing here can run it (no runner, or no network isolation without --allow-network).
    """
    import math
    import re

    from workbench.inputs import MiB, InputFileError, read_text
    from workbench.verify import Limits, verify

    settings = load_settings_or_fail(obj["config"], obj["db"])
    prompt = _check_prompt(prompt_arg, settings)
    path = Path(answer_file).expanduser()
    try:
        # An answer is at most a few thousand tokens: 4 MiB (a replay's bound too) refuses only runaway files.
        text = read_text(path, 4 * MiB, encoding="utf-8-sig")
    except InputFileError as exc:
        raise Problem(str(exc)) from None
    language = None
    if path.suffix.lower() in _CODE_SUFFIXES:
        language = _CODE_SUFFIXES[path.suffix.lower()]
        wanted = prompt.tests_language or prompt.language
        if prompt.tests is not None and wanted and wanted != language:
            raise Problem(f"{answer_file} is {language}, but the prompt's tests are {wanted}")
        ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
        text = f"{ticks}{language}\n{text}\n{ticks}\n"  # a bare file is all code, whatever it looks like
    limits = Limits()
    if timeout is not None:
        limits = Limits(wall_s=timeout, cpu_s=max(1, min(limits.cpu_s, math.ceil(timeout))))
    verdict = verify(text, prompt, language, allow_network=allow_network, limits=limits)
    if as_json:
        click.echo(json.dumps(verdict.as_dict(), indent=2, ensure_ascii=False))
    else:
        from workbench.redact import terminal_safe

        click.echo(terminal_safe(verdict.summary()))
        if verdict.outcome in ("fail", "error", "timeout"):
            # The program's own output: it may hold escape sequences meant for the user's terminal.
            tail = terminal_safe(verdict.stderr.strip() or verdict.stdout.strip()).splitlines()[-20:]
            for line in tail:
                click.echo(f"  {line}")
    if verdict.outcome == "pass" or (verdict.outcome == "no-tests" and verdict.exit_status == 0):
        return
    sys.exit(2 if verdict.outcome in ("no-runner", "refused") else 1)

"""`workbench run`: one comparison printed in full, or a batch with progress, resume and a summary."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import threading
from pathlib import Path
from typing import TextIO

import click

from workbench.batch import Batch, Item, Recheck, Result, Tally, summary
from workbench.core import Request
from workbench.redact import terminal_safe


class RunError(Exception):
    """Bad input for a run, as one line."""


def build_items(args: list[str], settings, vars_: dict[str, str], tag: str | None,
                params: dict) -> tuple[list[Item], list[str]]:
    """Prompts from literal text, files or library names (or the whole library for a tag); and warnings."""
    from workbench.inputs import InputFileError, read_text
    from workbench.prompts import (MAX_PROMPT_BYTES, PromptError, library_dirs, load_library, render, render_system,
                                   resolve)

    library, errors = load_library(library_dirs(settings.home))
    warnings = [f"skipped {e}" for e in errors]
    if not args and tag:
        args = [name for name, p in sorted(library.items()) if tag in p.tags]
        if not args:
            raise RunError(f"no prompt in the library has the tag '{tag}'")
    if not args:
        raise RunError("give a prompt: literal text, a prompt file, or a library name (`workbench run --help`)")
    items = []
    for arg in args:
        path = Path(arg)
        try:
            plain_file = len(arg) < 4096 and "\n" not in arg and path.suffix != ".md" and path.is_file()
        except (OSError, ValueError):
            plain_file = False
        try:
            if plain_file:
                text = read_text(path, MAX_PROMPT_BYTES)
                prompt = resolve(text, library, errors) if text.strip() else None
                if prompt is None:
                    raise RunError(f"{path}: the prompt file is empty")
            else:
                prompt = resolve(arg, library, errors)
            if tag and arg in library and tag not in prompt.tags:
                continue
            text = render(prompt, vars_)
            system = render_system(prompt, vars_)
        except PromptError as exc:
            raise RunError(str(exc)) from None
        except InputFileError as exc:
            raise RunError(f"{path}: cannot use as a prompt file: {str(exc).removeprefix(f'{path}: ')}") from None
        if not text.strip():
            raise RunError("the prompt is empty")
        merged = {**prompt.params, **{k: v for k, v in params.items() if v is not None}}
        if params.get("system"):
            system = params["system"]
        request = Request(prompt=text, system=system, max_tokens=int(merged.get("max_tokens", 512)),
                          temperature=merged.get("temperature"), seed=merged.get("seed"), top_p=merged.get("top_p"))
        items.append(Item(prompt.name, prompt.title, request, tuple(prompt.tags), prompt))
    if not items:
        raise RunError(f"none of the prompts given has the tag '{tag}'")
    return items, warnings


def resume_state(store, session_id: int) -> tuple[set, dict, dict, list]:
    """(complete (key, repeat, model) set, (key, repeat) → prompt id, the session's stored args, and the
    complete answers with no verification yet: a kill during a test run left them unjudged)."""
    def read(db):
        row = db.execute("SELECT args FROM sessions WHERE id = ?", [session_id]).fetchone()
        if row is None:
            return None
        done = {(k, r, m) for k, r, m in db.execute(
            "SELECT p.prompt_key, p.repeat, r.model_name FROM responses r JOIN prompts p ON p.id = r.prompt_id "
            "WHERE p.session_id = ? AND r.status = 'complete'", [session_id]).fetchall()}
        ids = {(k, r): pid for pid, k, r in db.execute(
            "SELECT id, prompt_key, repeat FROM prompts WHERE session_id = ? AND prompt_key IS NOT NULL",
            [session_id]).fetchall()}
        unjudged = [Recheck(k, r, m, rid, text) for k, r, m, rid, text in db.execute(
            "SELECT p.prompt_key, p.repeat, r.model_name, r.id, r.text FROM responses r "
            "JOIN prompts p ON p.id = r.prompt_id WHERE p.session_id = ? AND r.status = 'complete' "
            "AND NOT EXISTS (SELECT 1 FROM verifications v WHERE v.response_id = r.id)", [session_id]).fetchall()]
        return done, ids, json.loads(row[0] or "{}"), unjudged

    state = store.submit(read).result(30)
    if state is None:
        raise RunError(f"no session #{session_id} in {store.path}")
    return state


class Reporter:
    """Progress for a batch: a rich bar on a terminal, plain lines elsewhere."""

    def __init__(self, total: int, live: bool) -> None:
        self.live = live
        self.progress = None
        if live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(),
                                     console=Console(stderr=True), transient=False)
            self.task = self.progress.add_task("answers", total=total, failed=0)
            self.progress.start()

    def answer(self, result: Result, tally: Tally) -> None:
        """One answer ended."""
        a = result.answer
        if self.progress is not None:
            self.progress.update(self.task, completed=tally.done, failed=tally.failed)
            if a.status == "failed":
                from rich.markup import escape

                self.progress.console.print(f"[red]✗[/] {escape(a.model)} · {escape(result.item.key)} "
                                            f"#{result.repeat + 1}: {escape(terminal_safe(a.error))}")
            return
        eta = tally.eta_s()
        note = f": {a.error}" if a.error else ""
        click.echo(terminal_safe(f"[{tally.done}/{tally.total}] {a.model} · {result.item.key} #{result.repeat + 1} "
                                 f"{a.status}{note}") + (f" · eta {eta:.0f}s" if eta is not None else ""), err=True)

    def close(self) -> None:
        """Stop drawing."""
        if self.progress is not None:
            self.progress.stop()


_BLANK_START = re.compile(r"\A(?:[ \t]*\r?\n)+")


class LiveOutput:
    """One comparison printed as it streams, for a terminal (`workbench run` with stdout a TTY), as `llm` does.

    One model: its text as it comes, then a line of figures. Several: a block per model in the order asked
    (`-m`), each under a `── name · where ──` header. The models run at once, but their streams are never
    interleaved: the first block streams live; when it ends the next follows at once, printing what that
    model said meanwhile and then streaming the rest. So blocks read like the non-terminal output and the
    panes, and the total wait is the same. Test verdicts (they come after the answers) close the output.

    Engine threads call `seen` (a `Comparison` subscriber); the main thread calls `poll` and `finish`.
    Model text is untrusted: each piece is cleaned with `terminal_safe`, holding back a tail that may be the
    start of an escape sequence split across tokens, so none reaches the terminal whatever the split.
    """

    HOLD = 64  # characters after an escape held back until it is surely over (it is removed either way)

    def __init__(self, count: int, out: TextIO | None = None, colour: bool = False) -> None:
        self.count = count
        self.out = out
        self.colour = colour
        self._answers: dict[int, object] = {}
        self._lock = threading.Lock()
        self._block = 0  # the block being printed
        self._pieces = 0  # pieces of its answer read so far
        self._chars = 0  # characters of its text read so far
        self._held = ""  # read but not printed: a possibly unfinished escape sequence, trailing whitespace
        self._opened = False  # its header is printed
        self._printed = False  # some of its text is printed

    def seen(self, answer, _event=None) -> None:
        """An answer has an event (any engine thread): it may be printed now."""
        with self._lock:
            self._answers.setdefault(answer.index, answer)

    def poll(self) -> None:
        """Print whatever has arrived, in block order (main thread)."""
        while self._block < self.count:
            with self._lock:
                answer = self._answers.get(self._block)
            if answer is None:
                return
            if not self._opened:
                self._opened = True
                if self.count > 1:
                    header = self._style(terminal_safe(f"── {answer.model} · {answer.where} ──"), bold=True)
                    self._echo(("\n" if self._block else "") + header + "\n")
            state, text = answer.read(self._pieces)
            if state.finished:  # a finished answer's pieces may have been joined into one: read it by characters
                state, text = answer.read(0)
                text = text[self._chars:]
            self._pieces = state.pieces
            self._chars += len(text)
            self._text(text)
            if not state.shown:
                return
            self._close(state)

    def finish(self, results: list[Result]) -> None:
        """Print the rest (every answer has ended), then the test verdicts."""
        self.poll()
        checked = [r for r in sorted(results, key=lambda r: r.answer.index) if r.verdict is not None]
        if self.count > 1 and checked:
            self._echo("\n")
        for r in checked:
            who = f" · {r.answer.model}" if self.count > 1 else ""
            self._echo(terminal_safe(f"tests{who}: {r.verdict.summary()}") + "\n")

    def _text(self, text: str) -> None:
        pending = self._held + text
        if not self._printed:  # the block's first words: no blank lines above them
            pending = _BLANK_START.sub("", pending)
        cut = max(pending.rfind("\x1b"), pending.rfind("\x9b"))
        if cut >= 0 and (len(pending) - cut <= self.HOLD or not terminal_safe(pending[cut:])):
            ready, self._held = pending[:cut], pending[cut:]
        else:
            ready, self._held = pending, ""
        shown = ready.rstrip()  # trailing whitespace waits: the answer may end here
        self._held = ready[len(shown):] + self._held
        if shown:
            self._echo(terminal_safe(shown))
            self._printed = True

    def _close(self, state) -> None:
        from workbench.figures import summary

        tail = terminal_safe(self._held if self._printed else _BLANK_START.sub("", self._held)).rstrip()
        self._echo(tail + "\n" if tail or self._printed else "")
        if state.error:
            self._echo(self._style(f"error: {terminal_safe(state.error)}", fg="red") + "\n")
        figures = terminal_safe(f"{state.model} · {state.where} · {summary(state)}")
        self._echo("\n" + self._style(figures, dim=True) + "\n")
        self._block += 1
        self._pieces = self._chars = 0
        self._held = ""
        self._opened = self._printed = False

    def _style(self, text: str, **style) -> str:
        return click.style(text, **style) if self.colour else text

    def _echo(self, text: str) -> None:
        if text:
            click.echo(text, file=self.out, nl=False)


class Watched:
    """The recorder of a run, also telling `watch` of every answer event (the live output's subscriber).

    `Batch` subscribes its recorder's `on_event` to each comparison; everything else goes to the recorder.
    """

    def __init__(self, recorder, watch) -> None:
        self._recorder = recorder
        self._watch = watch

    def on_event(self, answer, event) -> None:
        """Tell the watcher, then log the event."""
        try:
            self._watch(answer, event)
        finally:
            self._recorder.on_event(answer, event)

    def __getattr__(self, name: str):
        return getattr(self._recorder, name)


def with_costs(rows: list[dict], results: list[Result]) -> list[dict]:
    """The batch summary's rows with each model's total cost (`cost_usd`) where any of its answers has one."""
    totals: dict[str, float] = {}
    for r in results:
        if (cost := r.answer.cost_usd) is not None:
            totals[r.answer.model] = totals.get(r.answer.model, 0.0) + cost
    for row in rows:
        if row["model"] in totals:
            row["cost_usd"] = totals[row["model"]]
    return rows


def print_summary(rows: list[dict]) -> None:
    """The per-model table at the end of a batch."""
    headers = ["model", "answers", "complete", "failures", "median TTFT ms", "median tok/s"]
    keys = ["model", "answers", "complete", "failures", "median_ttft_ms", "median_tokens_per_s"]
    if any("tests_run" in r for r in rows):
        headers.append("tests passed")
        keys.append("tests")
        extra = sorted({k for r in rows for k in r if k.startswith("pass@")})
        headers += extra
        keys += extra
        for r in rows:
            r["tests"] = f"{r['tests_passed']}/{r['tests_run']}" if "tests_run" in r else None
    if any(r.get("cost_usd") is not None for r in rows):
        from workbench.figures import money

        headers.append("cost")
        keys.append("cost")
        for r in rows:
            r["cost"] = money(r["cost_usd"]) if r.get("cost_usd") is not None else None
    table = [[terminal_safe("–" if r.get(k) is None else str(r[k])) for k in keys] for r in rows]  # then measured
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)] if table else []
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def resume_command(session_id: int, db_option: str | None) -> str:
    """The command that finishes a stopped batch."""
    parts = ["workbench", "run", "--resume", str(session_id)]
    if db_option:
        parts += ["--db", db_option]
    return " ".join(shlex.quote(p) for p in parts)


def batch_results_json(results: list[Result]) -> str:
    """Every answer with its prompt key, repeat and (when the prompt has tests) its verification."""
    rows = [{"prompt": r.item.key, "title": r.item.title, "repeat": r.repeat, **r.answer.as_dict(),
             "verification": r.verdict.as_dict() if r.verdict is not None else None}
            for r in sorted(results, key=lambda r: (r.repeat, r.item.key, r.answer.index))]
    return json.dumps(rows, indent=2, ensure_ascii=False)


def stderr_is_tty() -> bool:
    """Whether to draw a progress bar."""
    return sys.stderr.isatty()


def stdout_is_tty() -> bool:
    """Whether answers are read as they stream (a terminal), rather than piped whole into something else."""
    return sys.stdout.isatty()


def colour_wanted() -> bool:
    """Colours on the terminal, unless NO_COLOR (https://no-color.org) is set."""
    return not os.environ.get("NO_COLOR")


__all__ = ["Batch", "Item", "LiveOutput", "Reporter", "RunError", "Watched", "batch_results_json", "build_items",
           "colour_wanted", "print_summary", "resume_command", "resume_state", "stdout_is_tty", "summary",
           "with_costs"]

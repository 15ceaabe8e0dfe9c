"""`workbench run`: one comparison printed in full, or a batch with progress, resume and a summary."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

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


__all__ = ["Batch", "Item", "Reporter", "RunError", "batch_results_json", "build_items", "print_summary",
           "resume_command", "resume_state", "summary"]

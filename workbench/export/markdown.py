"""Markdown: per prompt a heading, the prompt, a table of figures, the votes, and each answer under its own heading.

Answers are written as the Markdown they are, so their code fences render as code. An answer
must not swallow the rest of the document (a fence left open by a cut-off answer, an unclosed
HTML block): each is checked with a CommonMark parser, a dangling fence is closed, and anything
else that would leak is shown verbatim inside a fence longer than any inside it.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import TextIO

from sqlite_utils import Database

from workbench import __version__
from workbench.export.records import (
    active,
    by_prompt,
    figures,
    fingerprint_words,
    first_line,
    label,
    params_words,
    stale_words,
    vote_words,
    who,
)
from workbench.parity import loads, rows, shown_text
from workbench.store.queries import answers

_SENTINEL = "wbexportsentinel"
# The marks that mean something inline (or in a table, or at the end of a heading); the rest stay readable.
_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|~&#])")
_BACKTICKS = re.compile(r"`+")


def escape(text: str) -> str:
    """Inline text, on one line, with the marks Markdown would act on backslash-escaped."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def cell(text: str) -> str:
    """A table cell: escaped (so `|` cannot split it) and on one line."""
    return escape(text) or " "


def verbatim(text: str, info: str = "text") -> str:
    """Text shown as-is in a backtick fence longer than any run of backticks inside it."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}\n"


@lru_cache(maxsize=1)
def _blocks():
    from markdown_it import MarkdownIt

    # Block structure only (no inline pass): fast, and all that decides whether a block is left open.
    return MarkdownIt("commonmark").enable("table").disable("inline")


def _closed(text: str) -> tuple[bool, str | None]:
    """(whether text followed by a paragraph leaves that paragraph alone, the markup of a fence left open)."""
    tokens = _blocks().parse(f"{text}\n\n{_SENTINEL}\n")
    if (len(tokens) >= 3 and tokens[-2].type == "inline" and tokens[-2].content == _SENTINEL
            and tokens[-3].type == "paragraph_open" and tokens[-3].level == 0):
        return True, None
    open_fence = next((t.markup for t in reversed(tokens) if t.type == "fence" and _SENTINEL in t.content), None)
    return False, open_fence


def contained(text: str) -> str:
    """The answer as Markdown that cannot leak into what follows it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if not any(mark in text for mark in ("```", "~~~", "<")):
        return text + "\n"  # nothing in it can stay open past a blank line
    ok, fence = _closed(text)
    if ok:
        return text + "\n"
    if fence:
        mended = f"{text}\n{fence}"
        if _closed(mended)[0]:
            return mended + "\n"
    return verbatim(text, "markdown")


def _session_heading(row: dict) -> str:
    name = f" “{escape(row['session_name'])}”" if row["session_name"] else ""
    started = (row["session_started_at"] or "")[:19].replace("T", " ")
    return f"## Session {row['session_id']}{name}\n\n{escape(started)} UTC · {escape(row['session_source'])}\n\n"


def _prompt(group: list[dict]) -> str:
    """One prompt's section."""
    head = group[0]
    names = {row["id"]: who(row) for row in group}
    turn = f" (turn {head['turn']} of conversation {escape(head['conversation'])})" if head["turn"] > 1 else ""
    parts = [f"### Prompt {head['prompt_id']}{turn}: {escape(first_line(head['prompt_text']))}\n\n"]
    when = (head["prompt_created_at"] or "")[:19].replace("T", " ")
    meta = " · ".join(p for p in (when and f"{when} UTC", params_words(head["prompt_params"])) if p)
    if meta:
        parts.append(escape(meta) + "\n\n")
    if head["prompt_system"]:
        parts.append("System prompt:\n\n" + verbatim(head["prompt_system"]) + "\n")
    parts.append(verbatim(head["prompt_text"] or "") + "\n")
    parts.append("| Answer | Model | Status | TTFT | tok/s | Tokens | Duration | Tests |\n"
                 "|---|---|---|---|---:|---:|---:|---|\n")
    for row in group:
        f = figures(row)
        parts.append(f"| {cell(label(row))} | {cell(row['model_name'])} | {cell(f['status'])} | "
                     f"{cell(f['ttft'])} | {cell(f['tok_s'])} | {cell(f['tokens'])} | {cell(f['duration'])} | "
                     f"{cell(f['tests'])} |\n")
    parts.append("\n")
    parts.append(parity_section(group))
    votes = active(head["votes"])
    if votes:
        lines = []
        for vote in votes:
            note = f" — “{escape(vote['note'])}”" if vote.get("note") else ""
            when = (vote["created_at"] or "")[:19].replace("T", " ")
            lines.append(f"- **{escape(vote_words(vote, names))}** ({escape(when)}){note}\n")
        parts.append(f"**Vote{'s' if len(votes) > 1 else ''}:**\n\n" + "".join(lines) + "\n")
    else:
        parts.append("No vote.\n\n")
    for row in group:
        parts.append(f"#### {escape(who(row))}\n\n")
        parts.append(f"*{escape(fingerprint_words(row['model']))}*\n\n")
        if stale := stale_words(row):  # the model could have trained on this prompt
            parts.append(f"*⚠ {escape(stale)}*\n\n")
        if row["error"]:
            parts.append(f"> **{escape(row['status'])}:** {escape(row['error'])}\n\n")
        text = row["text"] or ""
        parts.append(contained(text) + "\n" if text.strip() else "*(no text)*\n\n")
    return "".join(parts)


def parity_section(group: list[dict]) -> str:
    """'Parameter parity': what each answer's model was given, a row per parameter, differing rows marked ≠,
    then each one's whole prompt text (or messages) verbatim. Empty when no engine reported it."""
    records = [loads(row.get("received")) for row in group]
    if not any(records):
        return ""
    heads = " | ".join(cell(who(row)) for row in group)
    lines = ["**Parameter parity** (what each model received; ≠ marks a difference):\n\n",
             f"|  | Parameter | {heads} |\n|---|---|{'---|' * len(group)}\n"]
    for row in rows(records):
        lines.append(f"| {'≠' if row.differs else ' '} | {cell(row.name)} | "
                     + " | ".join(cell(v) for v in row.values) + " |\n")
    lines.append("\n")
    for row, record in zip(group, records):
        if not record:
            continue
        cuts = f"; cut to fit: {', '.join(record['truncated'])}" if record.get("truncated") else ""
        how = escape((record.get("prompt_source") or "as reported") + cuts)
        text = shown_text(record) or "(nothing reported)"
        lines.append(f"{escape(who(row))} received ({how}):\n\n" + verbatim(text) + "\n")
    return "".join(lines)


def write(db: Database, out: TextIO, session_id: int | None = None) -> int:
    """Write the document, one prompt at a time; returns how many answers."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scope = f"session {session_id}" if session_id is not None else "every session"
    out.write(f"# Workbench log\n\nExported {stamp} by workbench {escape(__version__)}, {scope}.\n\n")
    count = 0
    session = None
    for group in by_prompt(answers(db, session_id)):
        if group[0]["session_id"] != session:
            session = group[0]["session_id"]
            out.write(_session_heading(group[0]))
        out.write(_prompt(group))
        count += len(group)
    if not count:
        out.write("No answers.\n")
    return count

"""Parameter parity: what each model actually received, bounded for the log, and compared pane by pane.

An engine reports one record per answer (the `Received` event; `Answer.received`; the log's
`responses.received`, JSON). Its fields, all optional:

  v              1
  engine         llama, litellm or replay
  mode           chat or completion (a base model)
  template       gguf (the GGUF's own chat template), a named chat_format, or None (no template)
  prompt_source  in words, how `prompt_text` was made
  prompt_text    the exact text a local model continued (the rendered chat template, or the completion text)
  add_bos        whether a beginning-of-sequence token went before it
  messages       the messages as sent (hosted models)
  system, prompt, history
                 the request's system prompt, its latest prompt, and how many earlier messages it carried
  params         the sampling parameters as the engine applied them (defaults filled in, for llama.cpp)
  defaults       which of `params` the request did not set (the engine's or handler's default was used)
  ignored        parameters the request set that the provider dropped
  sent_from      where a hosted record's `params` come from (litellm's request body, or worked out)
  n_ctx          the context size (a hosted model's: from litellm's model map, when it lists it)
  stop           stop sequences; `stop_at_eos`: the model's end-of-sequence token stops it too
  repeat_guard   the workbench's own loop guard (lines in a row; 0: off)
  truncated      the fields cut to keep the record within `LIMIT`

`rows` lines up several records (one per pane) and marks the rows whose values differ, for the
parity screen (`i`) and the exports. Nothing here imports Textual, litellm or llama_cpp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

LIMIT = 64 * 1024
"""Bytes of JSON one record may take; longer texts are cut in the middle, and the record says which."""
_SHORT = 256  # strings at most this long are never cut

PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "min_p", "typical_p", "repeat_penalty",
          "frequency_penalty", "presence_penalty", "mirostat_mode", "seed")
"""The sampling parameters in the order they are shown; any other a record holds follows them."""

REVEALING = ("engine", "prompt text", "stop", "context size")
"""Rows whose values can tell the model family or where it runs (a chat template's markers, a provider's
context size, the engine): while a blind round's names are hidden they show only same or differs."""


def _size(record: dict) -> int:
    return len(json.dumps(record, ensure_ascii=False).encode("utf-8"))


def _strings(value: Any, path: tuple = ()) -> Iterable[tuple[tuple, str]]:
    """(path, text) of every string in a JSON-like value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, path + (i,))


def _set(record: Any, path: tuple, text: str) -> None:
    for step in path[:-1]:
        record = record[step]
    record[path[-1]] = text


def cut(text: str, keep: int) -> str:
    """`text` in at most about `keep` characters: its head and its tail, and how much was cut between them."""
    if len(text) <= keep:
        return text
    keep = max(keep, 64)
    head, tail = keep * 3 // 4, keep // 4
    return f"{text[:head]}\n…[{len(text) - head - tail:,} characters cut: the record is bounded]…\n{text[-tail:]}"


def bounded(record: dict, limit: int = LIMIT) -> dict:
    """A copy of `record` whose JSON takes at most about `limit` bytes: the longest texts are cut, and named
    in `truncated` (a rendered prompt can be as long as the context window)."""
    out = json.loads(json.dumps(record, ensure_ascii=False, default=str))
    cut_paths: list[str] = []
    for _ in range(64):
        size = _size(out)
        if size <= limit:
            break
        longest = max(((p, t) for p, t in _strings(out) if len(t) > _SHORT and p[0:1] != ("truncated",)),
                      key=lambda pt: len(pt[1].encode("utf-8")), default=None)
        if longest is None:
            break
        path, text = longest
        over = size - limit
        width = len(text.encode("utf-8"))
        keep = max(_SHORT, int(len(text) * max(0.0, 1 - (over + 256) / width)))
        if keep >= len(text):
            keep = len(text) // 2
        _set(out, path, cut(text, keep))
        name = ".".join(str(p) for p in path)
        if name not in cut_paths:
            cut_paths.append(name)
    if cut_paths:
        out["truncated"] = sorted(set(out.get("truncated") or []) | set(cut_paths))
    return out


def dumps(record: dict | None) -> str | None:
    """A record as the log stores it (JSON text), or None."""
    return None if record is None else json.dumps(record, ensure_ascii=False)


def loads(text: str | None) -> dict | None:
    """A record from the log, or None when there is none (an older log's answer, an engine that did not say)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- lining records up ------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One thing the models received, across the panes: `values` in words, one per pane."""

    name: str
    values: tuple[str, ...]
    differs: bool
    """The panes did not all receive the same (a comparison that was not like-for-like)."""
    revealing: bool = False
    """The values can tell the model (see `REVEALING`)."""


_MISSING = object()


def _words(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(json.dumps(v, ensure_ascii=False) if isinstance(v, str) else _words(v) for v in value) \
            or "none"
    return str(value)


def _param(record: dict, name: str) -> tuple[Any, str]:
    """(the value compared, its words) of one sampling parameter in one record."""
    params = record.get("params") or {}
    if name in (record.get("ignored") or []):
        return ("ignored",), "ignored (dropped by the provider)"
    if name not in params:
        if record.get("engine") == "litellm":
            return _MISSING, "not sent (the provider's default)"
        return _MISSING, "–"
    value = params[name]
    words = _words(value)
    if name == "seed" and value is None:
        words = "none (drawn anew each answer)" if record.get("engine") == "llama" else "none"
    elif name == "max_tokens" and value is None:
        words = "no limit"
    if name in (record.get("defaults") or []):
        words += " (default)"
    return value, words


def _text_words(record: dict) -> tuple[Any, str]:
    """The prompt text (or messages) as compared, and a short description of it."""
    text = record.get("prompt_text")
    if isinstance(text, str):
        kind = "completion text" if record.get("mode") == "completion" else (
            "rendered chat template" if record.get("template") == "gguf" else f"chat_format {record.get('template')}")
        return text, f"{kind}, {len(text):,} chars"
    messages = record.get("messages")
    if isinstance(messages, list):
        size = sum(len(str(m.get("content") or "")) for m in messages if isinstance(m, dict))
        return json.dumps(messages, ensure_ascii=False, sort_keys=True), \
            f"{len(messages)} message{'s' * (len(messages) != 1)}, {size:,} chars"
    return _MISSING, "–"


def rows(records: list[dict | None]) -> list[Row]:
    """The records lined up: one `Row` per parameter (and prompt, stops, context), differing ones marked.

    A pane whose record is None (still loading, an older log, an engine that does not report) shows
    "not reported" and counts as neither same nor different.
    """
    known = [r for r in records if r is not None]
    out: list[Row] = []

    def add(name: str, pairs: list[tuple[Any, str]], revealing: bool = False) -> None:
        values = [v for (v, _w), r in zip(pairs, records) if r is not None]
        differs = len(values) > 1 and any(v != values[0] for v in values[1:])
        out.append(Row(name, tuple(w for _v, w in pairs), differs, revealing))

    def each(fn) -> list[tuple[Any, str]]:
        return [fn(r) if r is not None else (_MISSING, "not reported") for r in records]

    def engine(r: dict) -> tuple[Any, str]:
        mode = r.get("mode") or "chat"
        words = f"{r.get('engine') or '?'} · {'base · completion' if mode == 'completion' else 'chat'}"
        return (r.get("engine"), mode), words

    add("engine", each(engine), revealing=True)
    add("system prompt", each(lambda r: (r.get("system"), _short(r.get("system")))))
    add("prompt", each(lambda r: (r.get("prompt"), _short(r.get("prompt")))))
    add("earlier messages", each(lambda r: (r.get("history") or 0, str(r.get("history") or 0))))
    add("prompt text", each(_text_words), revealing=True)
    names = list(PARAMS) + sorted({k for r in known for k in (r.get("params") or {}) if k not in PARAMS})
    for name in names:
        if any(name in (r.get("params") or {}) or name in (r.get("ignored") or []) for r in known):
            add(name, each(lambda r, n=name: _param(r, n)))
    add("ignored", each(lambda r: (sorted(r.get("ignored") or []), _words(sorted(r.get("ignored") or [])))))
    add("context size", each(lambda r: (r.get("n_ctx"), f"{r['n_ctx']:,} tokens" if isinstance(
        r.get("n_ctx"), int) else "unknown")), revealing=True)
    add("stop", each(lambda r: (r.get("stop") or [], _words(r.get("stop") or []) + (
        " + end-of-sequence" if r.get("stop_at_eos") else ""))), revealing=True)
    add("repeat guard", each(lambda r: (r.get("repeat_guard"), "off" if r.get("repeat_guard") == 0 else
                                        f"{r['repeat_guard']} lines" if r.get("repeat_guard") else "–")))
    return out


def _short(text: str | None, width: int = 48) -> str:
    if not text:
        return "none"
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def differing(records: list[dict | None]) -> list[str]:
    """The names of the rows on which the panes received different things."""
    return [row.name for row in rows(records) if row.differs]


def shown_text(record: dict | None) -> str:
    """The whole of what the model was given, as text: the prompt text, or the messages one by one."""
    if not record:
        return ""
    if isinstance(record.get("prompt_text"), str):
        return record["prompt_text"]
    parts = []
    for m in record.get("messages") or []:
        if isinstance(m, dict):
            content = m.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            parts.append(f"[{m.get('role')}]\n{text}")
    return "\n\n".join(parts)

"""Human-readable figures for an answer, shared by the pane header and `workbench run`."""

from __future__ import annotations

import time

from workbench.core.answer import truncated


def ms(value: float | None) -> str:
    """Milliseconds as '45 ms' or '1.2 s'."""
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def shown_status(status: str, finish_reason: str | None) -> str:
    """The status as a reader needs it: an answer cut off by max_tokens is `truncated`, not `complete`."""
    return "truncated" if truncated(status, finish_reason) else status


def summary(answer, now: float | None = None) -> str:
    """'complete · TTFT 45 ms · 130.2 tok/s · 200 tok · 1.6 s'."""
    now = time.monotonic() if now is None else now
    rate = answer.tokens_per_s
    count = answer.count
    parts = [shown_status(answer.status, answer.finish_reason)]
    if answer.status == "loading":
        parts = [answer.note or "loading"]
    parts.append(f"TTFT {ms(answer.ttft_ms)}")
    parts.append(f"{rate:.1f} tok/s" if rate else "– tok/s")
    parts.append(f"{count} tok")
    if answer.started_at or answer.status != "waiting":
        parts.append(ms(answer.elapsed_ms(now)))
    if answer.ignored:
        parts.append(f"ignored {', '.join(answer.ignored)}")
    return " · ".join(parts)


def blind_summary(answer, now: float | None = None) -> str:
    """Figures that cannot betray the engine: status, tokens so far and elapsed time."""
    now = time.monotonic() if now is None else now
    count = answer.count
    status = "waiting" if answer.status == "loading" else shown_status(answer.status, answer.finish_reason)
    return f"{status} · {count} tok"

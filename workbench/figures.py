"""Human-readable figures for an answer, shared by the pane header and `workbench run`."""

from __future__ import annotations

import math
import time

from workbench.core.answer import truncated


def ms(value: float | None) -> str:
    """Milliseconds as '45 ms' or '1.2 s'."""
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def shown_status(status: str, finish_reason: str | None) -> str:
    """The status as a reader needs it: an answer cut off by max_tokens is `truncated`, not `complete`,
    and one the repetition guard stopped in a loop is `stopped: repeating`."""
    from workbench.core.answer import repeating

    if repeating(status, finish_reason):
        return "stopped: repeating"
    return "truncated" if truncated(status, finish_reason) else status


def money(usd: float) -> str:
    """US dollars as '$1.23', or to two significant figures below a dollar: '$0.012', '$0.0000023'."""
    if usd >= 1:
        return f"${usd:.2f}"
    if usd <= 0:
        return "$0"
    return f"${usd:.{max(2, 1 - math.floor(math.log10(usd)))}f}"


def summary(answer, now: float | None = None, width: int | None = None) -> str:
    """'complete · TTFT 45 ms · 130.2 tok/s · 200 tok · 1.6 s' (then '· $0.0012' when the cost is known).

    With `width`, the fullest line that fits in that many columns: the full one, else a compact one that
    always keeps the rate's unit, the token count and the time ('42 t/s · 310 tok · 7.4s'), with the
    status and the cost in front and behind while they fit (a pane header; see `compact`).
    """
    now = time.monotonic() if now is None else now
    full = _full(answer, now)
    if width is None or len(full) <= width:
        return full
    return compact(answer, now, width)


def compact(answer, now: float | None = None, width: int = 0) -> str:
    """The short figures, in at most `width` columns when they can be: '[truncated · ]42 t/s · 310 tok · 7.4s[ ·
    $0.0012]'. The rate with its unit and the token count always stay. What does not fit goes in this order:
    the cost, then the status, except that an unusual status (truncated, failed, cancelled, loading…) stays
    before the time does, so a cut-off answer never reads as a whole one while there is room to say so.
    `width=0` gives the least it says: '42 t/s · 310 tok · 7.4s' (about 23 columns)."""
    now = time.monotonic() if now is None else now
    rate = answer.tokens_per_s
    parts = [(f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}") + " t/s" if rate else "– t/s", f"{answer.count} tok"]
    if answer.started_at or answer.status != "waiting":
        parts.append(_short_time(answer.elapsed_ms(now)))
    core = " · ".join(parts)
    cost = getattr(answer, "cost_usd", None)
    status = "loading" if answer.status == "loading" else shown_status(answer.status, answer.finish_reason)
    tail = f" · {money(cost)}" if cost is not None else ""
    lines = [f"{status} · {core}{tail}", f"{status} · {core}"]
    if status not in ("waiting", "streaming", "complete"):
        lines.append(f"{status} · {parts[0]} · {parts[1]}")
    for line in lines + [f"{core}{tail}"]:
        if len(line) <= width:
            return line
    return core


def _short_time(value: float) -> str:
    """Milliseconds as '450ms', '7.4s' or '75s'."""
    if value < 1000:
        return f"{value:.0f}ms"
    return f"{value / 1000:.1f}s" if value < 60_000 else f"{value / 1000:.0f}s"


def _full(answer, now: float) -> str:
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
    if (cost := getattr(answer, "cost_usd", None)) is not None:
        parts.append(money(cost))
    if answer.ignored:
        parts.append(f"ignored {', '.join(answer.ignored)}")
    return " · ".join(parts)


def blind_summary(answer, now: float | None = None) -> str:
    """Figures that cannot betray the engine: status, tokens so far and elapsed time."""
    now = time.monotonic() if now is None else now
    count = answer.count
    status = "waiting" if answer.status == "loading" else shown_status(answer.status, answer.finish_reason)
    return f"{status} · {count} tok"

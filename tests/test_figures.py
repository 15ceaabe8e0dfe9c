"""figures.summary: the full line, and the compact one a narrow pane header gets (bug 10: at 80 and 100
columns the header lost its unit and token count)."""

from __future__ import annotations

from workbench.core import Answer, Done, Status, Token, Usage
from workbench.figures import summary

START = 100.0


def answer(finish: str | None = "stop", price: tuple[float, float] | None = None, end: bool = True) -> Answer:
    """310 tokens at 42 tok/s after a 40 ms TTFT, 7.4 s in all."""
    a = Answer(0, "smollm2", "CPU", started_at=START)
    first = START + 0.04
    a.apply(Token("Hello"), first)
    a.apply(Token(" world"), first + 309 / 42)
    a.apply(Usage(prompt_tokens=1000, completion_tokens=310, price=price), first + 309 / 42)
    if end:
        a.apply(Done(finish_reason=finish), START + 7.4)
    return a


def test_full_summary_is_unchanged() -> None:
    assert summary(answer(), START + 9) == "complete · TTFT 40 ms · 42.0 tok/s · 310 tok · 7.4 s"
    assert summary(answer(), START + 9, width=200) == summary(answer(), START + 9)


def test_compact_summary_keeps_unit_and_token_count_in_24_columns() -> None:
    assert summary(answer(), START + 9, width=24) == "42 t/s · 310 tok · 7.4s"
    assert summary(answer(), START + 9, width=10) == "42 t/s · 310 tok · 7.4s"  # the least it says
    # Room for the status: it stays (a truncated answer must never pass for a whole one).
    assert summary(answer(), START + 9, width=40) == "complete · 42 t/s · 310 tok · 7.4s"
    assert summary(answer("length"), START + 9, width=40) == "truncated · 42 t/s · 310 tok · 7.4s"
    assert summary(answer("length"), START + 9, width=30) == "truncated · 42 t/s · 310 tok"  # before the time
    assert summary(answer(), START + 9, width=30) == "42 t/s · 310 tok · 7.4s"


def test_compact_summary_fits_every_width_from_24() -> None:
    for a in (answer(), answer("length"), answer(price=(1e-6, 2e-6)), answer(end=False)):
        full = summary(a, START + 9)
        for width in range(24, len(full) + 1):
            line = summary(a, START + 9, width=width)
            assert len(line) <= width, (width, line)
            assert "/s" in line and " tok" in line, (width, line)


def test_compact_summary_of_a_streaming_answer_and_one_not_started() -> None:
    assert summary(answer(end=False), START + 3.0, width=24) == "42 t/s · 310 tok · 3.0s"
    waiting = Answer(0, "smollm2", "CPU")
    assert summary(waiting, 5.0, width=24) == "waiting · – t/s · 0 tok"
    assert summary(waiting, 5.0, width=13) == "– t/s · 0 tok"
    loading = Answer(0, "smollm2", "CPU", started_at=START)
    loading.apply(Status("loading model…"), START)
    assert summary(loading, START + 2, width=30) == "loading · – t/s · 0 tok · 2.0s"


def test_cost_in_full_and_compact_forms_when_known() -> None:
    priced = answer(price=(1e-6, 2e-6))  # 1000 × 1e-6 + 310 × 2e-6 = $0.00162
    assert summary(priced, START + 9).endswith(" · 310 tok · 7.4 s · $0.0016")
    assert summary(priced, START + 9, width=33) == "42 t/s · 310 tok · 7.4s · $0.0016"
    assert summary(priced, START + 9, width=24) == "42 t/s · 310 tok · 7.4s"
    assert "$" not in summary(answer(), START + 9)

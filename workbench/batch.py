"""Headless batch runs: every prompt × repeat sent to every model, into one logged session.

Each (prompt, repeat) is one comparison across the models, so the log groups a
batch exactly as it groups the app's comparisons. Up to `parallel` comparisons
are in flight at once; a local model still serves one request at a time (its
engine queues the rest), and a hosted model is further held to its
`max_parallel` (a pool of replicas to the sum of theirs, so `parallel` at
least that sum keeps every replica busy). A failing model or prompt is
counted, never fatal. `stop()`
cancels what is in flight and keeps what is done; a resumed run skips every
(prompt, repeat, model) that already completed.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Sequence

from workbench.core import ENDINGS, Answer, Comparison, Engine, Request


@dataclass(frozen=True)
class Item:
    """One prompt of the batch, ready to send."""

    key: str
    title: str
    request: Request
    tags: tuple[str, ...] = ()
    prompt: object = field(default=None, compare=False, hash=False)
    """The library prompt (its tests are run against each answer), or None."""


def _created(prompt: object) -> str | None:
    """A library prompt's `created` day as the log keeps it (ISO), or None."""
    created = getattr(prompt, "created", None)
    return created.isoformat() if created is not None else None


@dataclass(frozen=True)
class Recheck:
    """A complete answer in the log that was never judged (its test run was killed): a resume judges it."""

    key: str
    repeat: int
    model: str
    response_id: int
    text: str


@dataclass
class Result:
    """One answer of the batch, with the prompt and repeat it belongs to."""

    item: Item
    repeat: int
    answer: Answer
    verdict: object = None
    """The verification of the answer's code, when the prompt has tests."""


@dataclass
class Tally:
    """Progress so far: answers done out of the total, failures, and an ETA."""

    total: int
    done: int = 0
    """Answers that ended complete or failed (a cancelled one is not done: a resume runs it again)."""
    failed: int = 0
    cancelled: int = 0
    started: float = field(default_factory=time.monotonic)

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far."""
        if not self.done:
            return None
        rate = self.done / max(1e-9, time.monotonic() - self.started)
        return (self.total - self.done) / rate


class Batch:
    """Runs items × repeats × engines; `skip` holds (key, repeat, model) already complete."""

    def __init__(self, items: Sequence[Item], engines: Sequence[Engine], repeat: int = 1, parallel: int = 1,
                 recorder=None, skip: set[tuple[str, int, str]] | None = None,
                 prompt_ids: dict[tuple[str, int], int] | None = None,
                 on_answer: Callable[[Result, Tally], None] | None = None, verify: bool = True,
                 recheck: Sequence[Recheck] = ()) -> None:
        self.items = list(items)
        self.engines = list(engines)
        self.repeat = repeat
        self.parallel = max(1, parallel)
        self.recorder = recorder
        self.skip = skip or set()
        self.prompt_ids = prompt_ids or {}
        self.on_answer = on_answer
        self.verify = verify
        # One run at a time: the sandboxed tests should not fight the models (or each other) for cores.
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") if verify else None
        self._checks: list[Future] = []
        self.results: list[Result] = []
        self.recheck = list(recheck)
        self.units = [
            (item, r, [e for e in self.engines if (item.key, r, e.name) not in self.skip])
            for r in range(repeat) for item in self.items
        ]
        self.units = [u for u in self.units if u[2]]
        self.engines_by_name = {e.name: i for i, e in enumerate(self.engines)}
        self.tally = Tally(total=sum(len(u[2]) for u in self.units))
        self._live: list[Comparison] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def _run_unit(self, item: Item, repeat: int, engines: list[Engine]) -> None:
        if self._stopped.is_set():
            return

        def finished(answer: Answer, event) -> None:
            if isinstance(event, ENDINGS):
                with self._lock:
                    if answer.status == "cancelled":
                        self.tally.cancelled += 1
                    else:
                        self.tally.done += 1
                        self.tally.failed += answer.status == "failed"
                    result = Result(item, repeat, answer)
                    self.results.append(result)
                answer.compact()  # one string per kept answer, not one per token: memory stays flat
                if self._checker is not None and answer.status == "complete" and getattr(item.prompt, "tests", None):
                    self._checks.append(self._checker.submit(self._check, result))
                if self.on_answer:
                    try:
                        self.on_answer(result, self.tally)
                    except Exception:  # noqa: BLE001 - progress display must never cost an answer
                        pass

        subscribers = [self.recorder.on_event] if self.recorder else []
        comparison = Comparison(engines, item.request, subscribers + [finished],
                                positions=[self.engines.index(e) for e in engines])
        with self._lock:
            if self._stopped.is_set():
                return  # nothing is logged for answers that never start
            self._live.append(comparison)
        if self.recorder:
            self.recorder.record(comparison, tags=list(item.tags), prompt_id=self.prompt_ids.get((item.key, repeat)),
                                 extra={"prompt_key": item.key, "repeat": repeat, "title": item.title,
                                        "created": _created(item.prompt)})
        comparison.start()
        comparison.wait()
        with self._lock:
            self._live.remove(comparison)

    def _check(self, result: Result, response_id: int | None = None) -> None:
        from workbench.verify import Verdict, verify

        if self._stopped.is_set():
            return
        try:
            result.verdict = verify(result.answer.text, result.item.prompt)
        except Exception as exc:  # noqa: BLE001 - a checker bug is a result, not a crash
            result.verdict = Verdict(outcome="error", note=f"the checker failed: {type(exc).__name__}: {exc}")
        if self.recorder is not None:
            self.recorder.verified(result.answer, result.verdict, response_id=response_id)

    def _judge_logged(self) -> None:
        """Judge the answers an earlier, killed run left complete but unverified."""
        by_key = {item.key: item for item in self.items}
        for old in self.recheck:
            item = by_key.get(old.key)
            if self._checker is None or item is None or not getattr(item.prompt, "tests", None):
                continue
            answer = Answer(self.engines_by_name.get(old.model, 0), old.model, "log", status="complete",
                            pieces=[old.text])
            result = Result(item, old.repeat, answer)
            with self._lock:
                self.results.append(result)
            self._checks.append(self._checker.submit(self._check, result, old.response_id))

    def run(self) -> list[Result]:
        """Run to the end (or until `stop`); returns every answer that ended (verified, when it has tests)."""
        try:
            self._judge_logged()
            self._run()
        finally:
            if self._checker is not None:
                for future in list(self._checks):
                    future.result()
                self._checker.shutdown()
        return self.results

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="batch") as pool:
            pending: set[Future] = set()
            queue = list(self.units)
            while queue or pending:
                while queue and len(pending) < self.parallel and not self._stopped.is_set():
                    pending.add(pool.submit(self._run_unit, *queue.pop(0)))
                if self._stopped.is_set():
                    queue.clear()
                if not pending:
                    break
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()

    def stop(self) -> None:
        """Cancel what is in flight; nothing new starts."""
        self._stopped.set()
        with self._lock:
            live = list(self._live)
        for comparison in live:
            comparison.cancel()

    @property
    def stopped(self) -> bool:
        """Whether `stop` was called."""
        return self._stopped.is_set()


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from n samples of which c passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def summary(results: Sequence[Result], k: int | None = None) -> list[dict]:
    """Per model: answers, failures, median TTFT and tokens/s; with tests, pass@1 and pass@k (k = repeats)."""
    by_model: dict[str, list[Answer]] = {}
    for result in results:
        by_model.setdefault(result.answer.model, []).append(result.answer)
    rows = []
    for model, answers in by_model.items():
        ttfts = [a.ttft_ms for a in answers if a.ttft_ms is not None]
        rates = [a.tokens_per_s for a in answers if a.tokens_per_s]
        rows.append({
            "model": model,
            "answers": len(answers),
            "complete": sum(a.status == "complete" for a in answers),
            "failures": sum(a.status == "failed" for a in answers),
            "median_ttft_ms": round(statistics.median(ttfts), 1) if ttfts else None,
            "median_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
        })
        checked = [r for r in results if r.answer.model == model and r.verdict is not None
                   and r.verdict.outcome in ("pass", "fail", "error", "timeout", "no-code")]
        if checked:
            rows[-1]["tests_passed"] = sum(r.verdict.outcome == "pass" for r in checked)
            rows[-1]["tests_run"] = len(checked)
            per_prompt: dict[str, list[bool]] = {}
            for r in checked:
                per_prompt.setdefault(r.item.key, []).append(r.verdict.outcome == "pass")
            rows[-1]["pass@1"] = round(statistics.mean(pass_at_k(len(v), sum(v), 1) for v in per_prompt.values()), 3)
            if k and k > 1:
                eligible = [v for v in per_prompt.values() if len(v) >= k]
                rows[-1][f"pass@{k}"] = (round(statistics.mean(pass_at_k(len(v), sum(v), k) for v in eligible), 3)
                                         if eligible else None)
    return rows

"""Memory over a long batch: 5,000 replayed answers logged to SQLite, the process's RSS every 100 answers.

`Batch` runs 2,500 prompts × 2 replay engines, 4 comparisons in flight, with a `Recorder` of a
`Store` in a temporary directory, as `workbench run` does. Each answer is ~270 word-sized
tokens of code-like text made for that prompt and model, so every token is a new string, as
with a real model (a plain `ReplayEngine` hands out the same few hundred strings every time,
which would hide what an answer costs). After every 100 answers (`batch.on_answer`) the
resident set size is read from /proc/self/statm, with the log writer's queue length (writes
not yet committed). The figure is the growth from the first 100 answers to the last: target
≤ 50 MiB for 5,000 answers.

Unpaced, the replay answers far faster than the log writer commits (one transaction per
write), so the writer falls behind and its queued writes are part of the figure; `--keep-up`
waits for the writer at each reading, as a model's real pace would let it keep up, and so
measures what the batch itself keeps. `--tracemalloc` also records the Python heap (slower).
Prints one JSON object and a line of prose. `--quick` runs a small smoke version (200 answers).

It runs against the tree of an older commit too (the imports fall back to the old module
layout), for a before/after: `PYTHONPATH=/path/to/old/tree python benchmarks/memory_batch.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from workbench.batch import Batch, Item
from workbench.engines.replay import ReplayEngine, split_tokens
from workbench.store import Store

try:  # the core package (since 1a71e20)
    from workbench.core import Done, Request, Token, Usage

    CORE = "workbench.core"
except ImportError:  # the tree before it: the same classes under their old names
    from workbench.engines.base import Done, Request, Token, Usage

    CORE = "workbench.compare"

PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET_GROWTH_MB = 50.0


def rss_mb() -> float:
    """The resident set size of this process now, in MiB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def answer_text(n: int, model: str) -> str:
    """A code answer of ~300 tokens, different for every prompt and model."""
    rows = "\n".join(
        f"        if field_{k} := parts.get('col_{n % 97}_{k}'):\n"
        f"            out['{model}_{k}'] = int(field_{k}) * {k + n % 13}  # column {k} of record {n}"
        for k in range(12))
    return (f"Here is {model}'s parser for case {n}. It reads one CSV record, checks every column and "
            f"returns the values it could convert:\n\n```python\n"
            f"def parse_record_{n}(line: str, *, strict: bool = False) -> dict[str, int]:\n"
            f"    parts = dict(item.split('=', 1) for item in line.split(',') if '=' in item)\n"
            f"    out: dict[str, int] = {{}}\n"
            f"    try:\n{rows}\n"
            f"    except ValueError as exc:\n"
            f"        if strict:\n"
            f"            raise ValueError(f'record {n}: {{exc}}') from None\n"
            f"    return out\n```\n\n"
            f"Call it once per line; with `strict=True` a bad column raises instead of being skipped "
            f"(case {n}, {model}).\n")


class CodeReplay(ReplayEngine):
    """A replay engine whose answer is made per request (`answer_text`), streamed as fast as it can."""

    def __init__(self, name: str) -> None:
        super().__init__(name, "")

    def stream(self, request, cancel):
        """Yield the answer for this prompt's number, a new string per token."""
        n = int(request.prompt.rsplit("#", 1)[1])
        sent = 0
        for piece in split_tokens(answer_text(n, self.name)):
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            sent += 1
            yield Token(piece)
        yield Usage(prompt_tokens=len(split_tokens(request.prompt)), completion_tokens=sent)
        yield Done(finish_reason="stop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (100 prompts, every 20 answers)")
    parser.add_argument("--prompts", type=int, default=2_500, help="prompts in the batch (default 2,500)")
    parser.add_argument("--engines", type=int, default=2, help="replay engines, each answers every prompt (default 2)")
    parser.add_argument("--parallel", type=int, default=4, help="comparisons in flight at once (default 4)")
    parser.add_argument("--every", type=int, default=100, help="read the RSS after every N answers (default 100)")
    parser.add_argument("--tracemalloc", action="store_true", help="also record the Python heap (slower)")
    parser.add_argument("--keep-up", action="store_true",
                        help="at each reading, first wait until the log writer has caught up (as at a real "
                             "model's pace); without it an unpaced replay runs far ahead of the writer")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.every = 100, 20

    if args.tracemalloc:
        tracemalloc.start()
    engines = [CodeReplay(f"replay-{chr(ord('a') + i)}") for i in range(args.engines)]
    items = [Item(f"p{n}", f"case {n}", Request(prompt=f"Write a parser for record format #{n}", max_tokens=512))
             for n in range(args.prompts)]
    tokens = len(split_tokens(answer_text(args.prompts - 1, engines[0].name)))

    curve: list[list[float]] = []
    heap: list[list[float]] = []
    lock = threading.Lock()
    count = 0

    backlog: list[list[int]] = []

    def on_answer(result, tally) -> None:
        nonlocal count
        with lock:
            count += 1
            if count % args.every == 0:
                if args.keep_up:
                    store.flush(600)
                queue = getattr(store, "_queue", None)  # the writer's queue: writes not yet committed
                if queue is not None:
                    backlog.append([count, queue.qsize()])
                curve.append([count, round(rss_mb(), 1)])
                if args.tracemalloc:
                    heap.append([count, round(tracemalloc.get_traced_memory()[0] / 2**20, 1)])

    with tempfile.TemporaryDirectory(prefix="wb-memory-batch-") as tmp:
        log = Path(tmp) / "log.db"
        store = Store(log)
        recorder = store.start_session("run")
        rss_start = rss_mb()
        batch = Batch(items, engines, repeat=1, parallel=args.parallel, recorder=recorder, verify=False)
        batch.on_answer = on_answer
        start = time.perf_counter()
        results = batch.run()
        run_s = time.perf_counter() - start
        rss_end_of_run = rss_mb()
        start = time.perf_counter()
        store.close()
        close_s = time.perf_counter() - start
        rss_after_close = rss_mb()
        conn = sqlite3.connect(log)
        rows, complete, chars = conn.execute(
            "SELECT count(*), sum(status = 'complete'), sum(length(text)) FROM responses").fetchone()
        conn.close()
        log_mb = log.stat().st_size / 2**20

    answers = len(results)
    assert answers == args.prompts * args.engines and rows == answers and complete == answers, (answers, rows, complete)
    first = curve[0][1]
    final = curve[-1][1]
    peak = max(v for _, v in curve)
    growth = final - first
    result = {
        "benchmark": "memory_batch",
        "core": CORE,
        "answers": answers,
        "prompts": args.prompts,
        "engines": args.engines,
        "parallel": args.parallel,
        "keep_up": args.keep_up,
        "tokens_per_answer": tokens,
        "answer_chars_avg": round(chars / rows),
        "run_s": round(run_s, 1),
        "log_mb": round(log_mb, 1),
        "rss_start_mb": round(rss_start, 1),
        f"rss_after_first_{args.every}_mb": first,
        "rss_max_mb": peak,
        "rss_final_mb": final,
        "growth_mb": round(growth, 1),
        "growth_per_1000_answers_mb": round(growth / max(1, curve[-1][0] - curve[0][0]) * 1000, 2),
        "target_growth_mb": TARGET_GROWTH_MB,
        "met": growth <= TARGET_GROWTH_MB,
        "rss_end_of_run_mb": round(rss_end_of_run, 1),
        "close_s": round(close_s, 1),
        "rss_after_close_mb": round(rss_after_close, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "every": args.every,
        "curve": curve,
    }
    if backlog:
        result["writer_backlog_max"] = max(n for _, n in backlog)
        result["writer_backlog_curve"] = backlog
    if args.tracemalloc:
        result["python_heap_curve"] = heap
        result["python_heap_growth_mb"] = round(heap[-1][1] - heap[0][1], 1)
    print(json.dumps(result))
    print(f"{answers:,} answers ({args.prompts:,} prompts × {args.engines} replay engines, ~{tokens} tokens each, "
          f"parallel {args.parallel}, {CORE}{', writer waited for' if args.keep_up else ''}) in {run_s:.1f} s "
          f"(log closed {close_s:.1f} s later): RSS {first:.1f} MiB after the first {args.every}, "
          f"{final:.1f} MiB at the end (max {peak:.1f}), growth {growth:+.1f} MiB "
          f"({'meets' if growth <= TARGET_GROWTH_MB else 'misses'} the ≤ {TARGET_GROWTH_MB:.0f} MiB target).")


if __name__ == "__main__":
    main()

"""Rendering answers in worker processes, in order, a bounded number of batches ahead of the writer.

Highlighting is the slow part of an HTML export (Pygments lexes in pure Python, ~1 ms per
screen of code), and answers render independently, so a large export spreads them over the
cores. Workers are spawned (never forked: the caller may have threads), and if they cannot
start or die, the rest is rendered here: the export is slower, never wrong.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
MAX_WORKERS = 8


def cores() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ordered_map(fn: Callable[[list], list], batches: Iterable[tuple[T, list]], workers: int) -> Iterator[tuple[T, list]]:
    """For each (key, items) batch yield (key, fn(items)), in order; `fn` runs in up to `workers` processes.

    `batches` is consumed on the calling thread only (it may be reading a SQLite cursor), and no
    more than two batches per worker are held at once.
    """
    if workers <= 1:
        for key, items in batches:
            yield key, fn(items)
        return
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    except (OSError, ImportError, NotImplementedError):  # no process support here: render in this one
        yield from ordered_map(fn, batches, 1)
        return
    pending: deque = deque()
    broken = False

    def take():
        nonlocal broken
        key, items, future = pending.popleft()
        if not broken:
            try:
                return key, future.result()
            except BrokenProcessPool:
                broken = True
        return key, fn(items)

    try:
        for key, items in batches:
            if broken:
                pending.append((key, items, None))
            else:
                try:
                    pending.append((key, items, pool.submit(fn, items)))
                except (BrokenProcessPool, RuntimeError):
                    broken = True
                    pending.append((key, items, None))
            while len(pending) > 2 * workers or (pending and broken):
                yield take()
        while pending:
            yield take()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

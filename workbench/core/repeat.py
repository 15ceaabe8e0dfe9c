"""The repetition guard: notice an answer stuck in a loop, so the core can stop it early.

Small models, base models above all, fall into loops: `print("hello")` line after line, or the same
paragraph again and again, until max_tokens. The guard reads an answer's text as it streams and
trips when the same line, or the same short block of lines, comes `limit` times in a row.

Which lines count: only finished lines (the one still being written may be a half), compared with
their indentation and trailing spaces stripped. Blank lines, lines of fewer than `MIN_CHARS`
characters (`}`, `end`, `fi`, `pass`, `- jam`) and lines made only of closing brackets, punctuation
and closing tags (`});`, `</div>`, `]]`) are skipped: they repeat in legitimate code, and skipping
them neither counts them nor breaks a run. A cycle is a block of 1 to `MAX_CYCLE` counted lines;
numbers are compared as written, so a count (`1. apples`, `2. apples`) is not a loop.
"""

from __future__ import annotations

import re
from collections import deque

REPEATING = "repeating"
"""The finish reason of an answer the guard stopped (its status stays `complete`)."""

MIN_CHARS = 6
"""A line shorter than this (stripped) is never counted."""

MAX_CYCLE = 8
"""The longest block of lines that is recognised as repeating."""

_LONGEST_LINE = 64 * 1024
_CLOSERS = re.compile(r"(?:</[^<>]*>|[\s\])}>;:,.])+")


def counted(line: str) -> str | None:
    """The line as the guard compares it, or None when it does not count (blank, short, closers only)."""
    text = line.strip()
    if len(text) < MIN_CHARS or _CLOSERS.fullmatch(text):
        return None
    return text


class RepeatGuard:
    """Feed it an answer's text as it streams; `feed` says True once the answer is looping.

    `limit` is how many times in a row a line (or a block of up to `MAX_CYCLE` lines) must appear:
    with 4, the fourth `print("hello")` in a row trips it. 0 turns the guard off; 1 is taken as 2
    (a line always appears once).
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(2, limit) if limit > 0 else 0
        self.tripped = False
        self._partial: list[str] = []
        self._held = 0
        self._lines: deque[str] = deque(maxlen=self.limit * MAX_CYCLE if self.limit else 0)

    def feed(self, text: str) -> bool:
        """Take the next piece of the answer; True when the answer is now looping (and from then on)."""
        if not self.limit or self.tripped:
            return self.tripped
        if "\n" not in text:
            if self._held < _LONGEST_LINE:  # a line with no end in sight is not compared in full
                self._partial.append(text)
                self._held += len(text)
            return False
        first, *rest = text.split("\n")
        *done, last = ["".join(self._partial) + first, *rest]
        self._partial, self._held = [last], len(last)
        for line in done:
            line = counted(line)
            if line is not None:
                self._lines.append(line)
                if self._looping():
                    self.tripped = True
                    break
        return self.tripped

    def _looping(self) -> bool:
        """Whether the last counted lines are one block of 1..MAX_CYCLE lines repeated `limit` times."""
        lines = self._lines
        n = len(lines)
        for size in range(1, MAX_CYCLE + 1):
            span = size * self.limit
            if span > n:
                return False
            start = n - span
            if all(lines[start + i] == lines[start + i % size] for i in range(size, span)):
                return True
        return False

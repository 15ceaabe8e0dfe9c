"""Replays a known answer, at a recorded pace or as fast as it can: for demos, tests and benchmarks."""

from __future__ import annotations

import re
import time
from typing import Iterator, Sequence

from workbench.engines.base import Cancel, Done, Event, Request, Token, Usage

_PIECES = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Cut text into word-sized pieces, about the size of model tokens."""
    return _PIECES.findall(text)


class ReplayEngine:
    """An engine that streams a given text; `delays` (seconds before each piece) sets the pace."""

    def __init__(self, name: str, text: str, delays: Sequence[float] | None = None,
                 first_delay: float = 0.0) -> None:
        self.name = name
        self.pieces = split_tokens(text)
        self.delays = list(delays) if delays is not None else None
        self.first_delay = first_delay

    def where(self) -> str:
        """Replays run nowhere."""
        return "replay"

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Yield the stored pieces, stopping early when cancelled."""
        if self.first_delay and cancel.wait(self.first_delay):
            yield Done(finish_reason="cancelled", cancelled=True)
            return
        sent = 0
        for i, piece in enumerate(self.pieces):
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            if self.delays and i < len(self.delays) and self.delays[i] > 0:
                time.sleep(self.delays[i])
            sent += 1
            yield Token(piece)
        yield Usage(prompt_tokens=len(split_tokens(request.prompt)), completion_tokens=sent)
        yield Done(finish_reason="stop")

    def close(self) -> None:
        """Nothing to release."""

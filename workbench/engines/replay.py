"""Replays a known answer, at a recorded pace or as fast as it can: for demos, tests and benchmarks."""

from __future__ import annotations

import os
import re
import stat
import time
from typing import Any, Iterator, Sequence

from workbench.core import Cancel, Done, Engine, Event, Received, Request, Token, Usage

MAX_REPLAY_BYTES = 4 << 20  # a stored answer; a larger file is a mistake, not an answer

_PIECES = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Cut text into word-sized pieces, about the size of model tokens."""
    return _PIECES.findall(text)


def read_answer(path: str) -> str:
    """A stored answer's text: a regular UTF-8 file of at most 4 MiB; raises OSError naming the file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except OSError as exc:
        raise OSError(f"{path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if info.st_size > MAX_REPLAY_BYTES:
            raise OSError(f"{path}: larger than {MAX_REPLAY_BYTES >> 20} MiB")
        data = os.read(fd, MAX_REPLAY_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OSError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


class ReplayEngine(Engine):
    """An engine that streams a given text; `delays` (seconds before each piece) sets the pace."""

    kind = "replay"

    def __init__(self, name: str, text: str, delays: Sequence[float] | None = None,
                 first_delay: float = 0.0) -> None:
        super().__init__(name)
        self.pieces = split_tokens(text)
        self.delays = list(delays) if delays is not None else None
        self.first_delay = first_delay

    @classmethod
    def from_spec(cls, spec: Any, n_local: int = 1) -> "ReplayEngine":
        """A `replay` config entry: the text file at `path`, paced at `tokens_per_s` (default: at once)."""
        path = str(spec.resolved_path())
        try:
            text = read_answer(path)
        except OSError as exc:
            return _Unreadable(spec.name, str(exc))
        pieces = split_tokens(text)
        delays = [1.0 / spec.tokens_per_s] * len(pieces) if spec.tokens_per_s else None
        engine = cls(spec.name, text, delays)
        engine.spec = spec  # its `repeat_guard`, like any configured model's
        return engine

    @classmethod
    def check(cls, spec: Any) -> str | None:
        """The stored answer's file must be a readable, regular text file."""
        try:
            read_answer(str(spec.resolved_path()))
        except OSError as exc:
            return str(exc)
        return None

    def where(self) -> str:
        """Replays run nowhere."""
        return "replay"

    def received(self, request: Request) -> dict:
        """The parity record: the request as given (a replay samples nothing, so no engine defaults apply)."""
        from workbench.parity import bounded

        return bounded({
            "v": 1, "engine": "replay", "mode": self.mode, "template": None,
            "prompt_source": "a replay: the stored answer is streamed back; no model was run",
            "messages": request.messages(), "system": request.system, "prompt": request.prompt,
            "history": len(request.history),
            "params": {k: v for k, v in request.params().items() if v is not None}, "defaults": [], "ignored": [],
            "n_ctx": None, "stop": [], "repeat_guard": self.repeat_guard,
        })

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Yield the stored pieces, stopping early when cancelled."""
        yield Received(self.received(request))
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



class _Unreadable(ReplayEngine):
    """A replay whose file could not be read: every answer fails with that one line."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(name, "")
        self.problem = problem

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Fail at once, naming the file."""
        from workbench.core import Failed

        yield Failed(self.problem)

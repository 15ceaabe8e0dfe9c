"""One model's answer to one turn: its text and figures as they grow, and a locked way to read them.

Threads: the answer's engine thread is the only writer (through `apply`); every other thread (the
UI, the log's writer) reads through `read`, `snapshot` or `text`, which take the answer's lock, so a
reader never sees a status that is ahead of the text or an error (the old rule "the engine appends
its last piece before it marks the answer finished" lived only in comments).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

from workbench.core.events import Done, Event, Failed, Ignored, Received, Status, Token, Usage
from workbench.core.identity import ModelIdentity, new_id
from workbench.core.repeat import REPEATING
from workbench.core.request import Request

ACTIVE = ("waiting", "loading", "streaming")


def truncated(status: str | None, finish_reason: str | None) -> bool:
    """An answer that ended because it reached max_tokens: complete, but cut off (shown `truncated`)."""
    return status == "complete" and finish_reason == "length"


def repeating(status: str | None, finish_reason: str | None) -> bool:
    """An answer the repetition guard stopped in a loop: its text so far (shown `stopped: repeating`)."""
    return status == "complete" and finish_reason == REPEATING


class _Figures:
    """Figures derived from an answer's clock readings, shared by `Answer` and its snapshots."""

    status: str
    tokens: int
    completion_tokens: int | None
    prompt_tokens: int | None
    price: tuple[float, float] | None
    started_at: float
    first_at: float | None
    last_at: float | None
    ended_at: float | None

    @property
    def finished(self) -> bool:
        """Whether the answer has ended, one way or another."""
        return self.status not in ACTIVE

    @property
    def count(self) -> int:
        """Completion tokens: as reported when the engine reports them, else as counted."""
        return self.completion_tokens if self.completion_tokens is not None else self.tokens

    @property
    def ttft_ms(self) -> float | None:
        """Time to first token, from the request (after any model load)."""
        return None if self.first_at is None else (self.first_at - self.started_at) * 1000

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate as llama.cpp reports it: tokens after the first over the time since the first."""
        if self.first_at is None or self.last_at is None or self.count < 2:
            return None
        span = self.last_at - self.first_at
        return (self.count - 1) / span if span > 0 else None

    @property
    def cost_usd(self) -> float | None:
        """What the answer cost: reported prompt and completion tokens at the engine's price; None when
        either count was not reported or the price is not known (a local model, a model without a price)."""
        if self.price is None or self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens * self.price[0] + self.completion_tokens * self.price[1]

    def elapsed_ms(self, now: float) -> float:
        """Time since the request started, frozen when it ends."""
        end = self.ended_at if self.ended_at is not None else now
        return (end - self.started_at) * 1000


@dataclass(frozen=True)
class AnswerState(_Figures):
    """A consistent copy of an answer's progress and figures, taken under its lock."""

    id: str
    index: int
    model: str
    where: str
    attempt: int
    status: str
    error: str | None
    note: str | None
    ignored: tuple[str, ...]
    received: dict | None
    """What the model was given, as its engine reported it (workbench/parity.py), or None until it says."""
    finish_reason: str | None
    tokens: int
    prompt_tokens: int | None
    completion_tokens: int | None
    load_ms: float | None
    price: tuple[float, float] | None
    started_at: float
    first_at: float | None
    last_at: float | None
    ended_at: float | None
    pieces: int
    """Where the next `read` starts: the pieces read so far (all of them, for a snapshot)."""
    total: int
    """How many pieces the answer held when the copy was taken."""

    @property
    def shown(self) -> bool:
        """Finished, and every piece read: nothing more will come."""
        return self.finished and self.pieces == self.total


_STATE_FIELDS = [f.name for f in fields(AnswerState) if f.name not in ("pieces", "total")]


@dataclass(eq=False)
class Answer(_Figures):
    """One model's answer to one turn, with its figures, as it grows.

    `id` is made with the answer and never reused; `comparison_id` and `turn_id` say what it
    answers, and `parent_id` is the same model's answer to the previous turn that its history
    holds (None on a first turn).
    """

    index: int
    model: str
    where: str
    request: Request | None = None
    """Exactly what this model was sent (its own history included)."""
    attempt: int = 0
    position: int | None = None
    """The pane position it is logged under (defaults to `index`)."""
    comparison_id: str = ""
    turn_id: str = ""
    turn: int = 1
    """The turn it answers, from 1."""
    parent_id: str | None = None
    id: str = field(default_factory=new_id)
    status: str = "waiting"
    """waiting, loading, streaming, then complete, cancelled, failed or interrupted."""
    pieces: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    ignored: tuple[str, ...] = ()
    """Request parameters the model does not take."""
    received: dict | None = None
    """What the model was given: the engine's `Received` record (the exact prompt text or messages, the
    parameters as applied, context size, stops), or None until (or unless) the engine reports it."""
    finish_reason: str | None = None
    model_id: str | None = None
    system_fingerprint: str | None = None
    identity: ModelIdentity | None = None
    """Which model produced it, set when it ends."""
    cutoff: str | None = None
    """The model's knowledge cutoff (or release date) as configured, "2024-06": the log keeps it with the answer, so
    an answer to a prompt created by then is flagged (`workbench.prompts.stale`). None when unknown."""
    tokens: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    load_ms: float | None = None
    price: tuple[float, float] | None = None
    """USD per prompt token and per completion token, when the engine knows them (see `cost_usd`)."""
    started_at: float = 0.0
    first_at: float | None = None
    last_at: float | None = None
    ended_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- the engine thread ----------------------------------------------
    def apply(self, event: Event, now: float, where: str | None = None) -> bool:
        """Fold one event into the answer; False (and nothing changes) once it has ended."""
        with self._lock:
            if self.finished:
                return False
            if isinstance(event, Token):
                if self.first_at is None:
                    self.first_at = now
                    self.status = "streaming"
                self.pieces.append(event.text)
                self.tokens += event.count
                self.last_at = now
            elif isinstance(event, Status):
                if event.ready:
                    self.load_ms = (now - self.started_at) * 1000
                    self.started_at = now
                    self.status = "waiting"
                    self.where = where or self.where
                else:
                    self.status = "loading"
                    self.note = event.text
            elif isinstance(event, Ignored):
                self.ignored = event.params
            elif isinstance(event, Received):
                self.received = event.record
            elif isinstance(event, Usage):
                self.prompt_tokens = _plausible(event.prompt_tokens)
                if (count := _plausible(event.completion_tokens)) is not None:
                    self.completion_tokens = count
                if event.price is not None:
                    self.price = event.price
            elif isinstance(event, Done):
                self.ended_at = now
                # Every engine's stop reads the same in the log, however it spelled it.
                self.finish_reason = event.finish_reason or ("cancelled" if event.cancelled else None)
                self.model_id = event.model_id
                self.system_fingerprint = event.system_fingerprint
                self.status = "cancelled" if event.cancelled else "complete"
            elif isinstance(event, Failed):
                self.ended_at = now
                self.error = event.message
                self.status = "failed"
            return True

    # -- any other thread -----------------------------------------------
    def snapshot(self) -> AnswerState:
        """The answer's progress and figures as one consistent copy."""
        with self._lock:
            return self._state()

    def read(self, since: int, budget: int | None = None) -> tuple[AnswerState, str]:
        """The state, and the text of the pieces after the first `since` (at most ~`budget` chars).

        The state's `pieces` is where the next read should start; its `shown` says whether this
        read returned the last piece of a finished answer.
        """
        with self._lock:
            end = len(self.pieces)
            if budget is not None:
                stop = since
                while stop < end and budget > 0:
                    budget -= len(self.pieces[stop])
                    stop += 1
                end = stop
            text = "".join(self.pieces[since:end])
            state = self._state(pieces=end)
        return state, text

    def _state(self, pieces: int | None = None) -> AnswerState:
        values = {name: getattr(self, name) for name in _STATE_FIELDS}
        total = len(self.pieces)
        return AnswerState(**values, pieces=total if pieces is None else pieces, total=total)

    @property
    def text(self) -> str:
        """The answer so far."""
        with self._lock:
            return "".join(self.pieces)

    def compact(self) -> None:
        """Hold a finished answer's text as one string (a long batch keeps thousands of them)."""
        with self._lock:
            if self.finished and len(self.pieces) > 1:
                self.pieces = ["".join(self.pieces)]

    def as_dict(self) -> dict:
        """The record `workbench run --json` prints."""
        s, text = self.read(0)  # the figures and the text from one moment
        return {
            "model": self.model,
            "where": s.where,
            "turn": self.turn,
            "status": s.status,
            "text": text,
            "error": s.error,
            "finish_reason": s.finish_reason,
            "truncated": truncated(s.status, s.finish_reason),
            "ttft_ms": _round(s.ttft_ms),
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.count,
            "tokens_per_s": _round(s.tokens_per_s),
            "duration_ms": _round(s.elapsed_ms(0.0)) if s.ended_at is not None else None,
            "load_ms": _round(s.load_ms),
            "cost_usd": s.cost_usd,
            "model_id": self.model_id,
            "system_fingerprint": self.system_fingerprint,
            "ignored_params": list(s.ignored),
        }


MAX_TOKENS = 10**9  # far beyond any context window; a provider reporting more is wrong (1e30 was seen)


def _plausible(count: object) -> int | None:
    """A provider-reported token count, or None when it is not a count at all (negative, huge, not a number)."""
    if isinstance(count, bool) or not isinstance(count, (int, float)) or count != count:
        return None
    return int(count) if 0 <= count <= MAX_TOKENS else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

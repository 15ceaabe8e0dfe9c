"""The headless core: fan one request out to N engines, time their events, tell subscribers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from workbench.engines.base import Cancel, Done, Engine, Event, Failed, Ignored, Request, Status, Token, Usage

ACTIVE = ("waiting", "loading", "streaming")


@dataclass
class Answer:
    """One model's answer to one request, with its figures, as it grows."""

    index: int
    model: str
    where: str
    attempt: int = 0
    position: int | None = None
    """The pane position it is logged under (defaults to `index`)."""
    status: str = "waiting"
    """waiting, loading, streaming, then complete, cancelled, failed or interrupted."""
    pieces: list[str] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    ignored: tuple[str, ...] = ()
    """Request parameters the model does not take."""
    finish_reason: str | None = None
    model_id: str | None = None
    system_fingerprint: str | None = None
    tokens: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    load_ms: float | None = None
    started_at: float = 0.0
    first_at: float | None = None
    last_at: float | None = None
    ended_at: float | None = None

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.pieces)

    @property
    def finished(self) -> bool:
        """Whether the answer has ended, one way or another."""
        return self.status not in ACTIVE

    @property
    def ttft_ms(self) -> float | None:
        """Time to first token, from the request (after any model load)."""
        return None if self.first_at is None else (self.first_at - self.started_at) * 1000

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate as llama.cpp reports it: tokens after the first over the time since the first."""
        count = self.completion_tokens if self.completion_tokens is not None else self.tokens
        if self.first_at is None or self.last_at is None or count < 2:
            return None
        span = self.last_at - self.first_at
        return (count - 1) / span if span > 0 else None

    def elapsed_ms(self, now: float | None = None) -> float:
        """Time since the request started, frozen when it ends."""
        end = self.ended_at if self.ended_at is not None else (now or time.monotonic())
        return (end - self.started_at) * 1000

    def as_dict(self) -> dict:
        """The record `workbench run --json` prints."""
        return {
            "model": self.model,
            "where": self.where,
            "status": self.status,
            "text": self.text,
            "error": self.error,
            "finish_reason": self.finish_reason,
            "ttft_ms": _round(self.ttft_ms),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens if self.completion_tokens is not None else self.tokens,
            "tokens_per_s": _round(self.tokens_per_s),
            "duration_ms": _round(self.elapsed_ms()) if self.ended_at else None,
            "load_ms": _round(self.load_ms),
            "model_id": self.model_id,
            "system_fingerprint": self.system_fingerprint,
            "ignored_params": list(self.ignored),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


Subscriber = Callable[[Answer, Event], None]


class Comparison:
    """One request sent to several engines at once; each runs in its own thread."""

    def __init__(self, engines: Sequence[Engine], request: Request, subscribers: Sequence[Subscriber] = (),
                 positions: Sequence[int] | None = None) -> None:
        self.engines = list(engines)
        self.request = request
        self.subscribers = list(subscribers)
        self.positions = list(positions) if positions is not None else list(range(len(self.engines)))
        """Each answer's pane position for the log (a resumed batch runs only some of the models)."""
        self.answers = [Answer(i, e.name, e.where(), position=p)
                        for i, (e, p) in enumerate(zip(self.engines, self.positions))]
        self._cancels = [Cancel() for _ in self.engines]
        self._threads: list[threading.Thread | None] = [None] * len(self.engines)
        self._lock = threading.Lock()

    def start(self) -> "Comparison":
        """Start every engine at once."""
        for i in range(len(self.engines)):
            self._launch(i)
        return self

    def _launch(self, index: int) -> None:
        thread = threading.Thread(target=self._run, args=(index, self.answers[index], self._cancels[index]),
                                  name=f"engine-{self.engines[index].name}", daemon=True)
        self._threads[index] = thread
        thread.start()

    def _publish(self, answer: Answer, event: Event) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(answer, event)
            except Exception as exc:  # noqa: BLE001 - a broken listener must not end (or re-end) the answer
                import logging

                logging.getLogger("workbench").warning("subscriber %r failed on %s: %s", subscriber, event, exc)

    def _run(self, index: int, answer: Answer, cancel: Cancel) -> None:
        engine = self.engines[index]
        answer.started_at = time.monotonic()
        try:
            for event in engine.stream(self.request, cancel):
                if answer.finished:
                    return  # exactly one ending per answer
                self._apply(answer, event, engine)
                self._publish(answer, event)
                if isinstance(event, (Done, Failed)):
                    return
        except Exception as exc:  # an engine bug must end its own pane, never the app
            if answer.finished:
                return
            detail = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
            event = Failed(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
        else:
            event = Failed("the engine ended without a result") if not cancel.is_set() else Done(cancelled=True)
        self._apply(answer, event, engine)
        self._publish(answer, event)

    def _apply(self, answer: Answer, event: Event, engine: Engine) -> None:
        now = time.monotonic()
        if isinstance(event, Token):
            if answer.first_at is None:
                answer.first_at = now
                answer.status = "streaming"
            answer.pieces.append(event.text)
            answer.tokens += event.count
            answer.last_at = now
        elif isinstance(event, Status):
            if event.ready:
                answer.load_ms = (now - answer.started_at) * 1000
                answer.started_at = now
                answer.status = "waiting"
                answer.where = engine.where()
            else:
                answer.status = "loading"
                answer.note = event.text
        elif isinstance(event, Ignored):
            answer.ignored = event.params
        elif isinstance(event, Usage):
            answer.prompt_tokens = event.prompt_tokens
            if event.completion_tokens is not None:
                answer.completion_tokens = event.completion_tokens
        elif isinstance(event, Done):
            answer.ended_at = now
            answer.finish_reason = event.finish_reason
            answer.model_id = event.model_id
            answer.system_fingerprint = event.system_fingerprint
            answer.status = "cancelled" if event.cancelled else "complete"
        elif isinstance(event, Failed):
            answer.ended_at = now
            answer.error = event.message  # before the status: a reader that sees "failed" finds the error
            answer.status = "failed"

    def cancel(self, index: int | None = None) -> None:
        """Stop one answer, or all of them; the engines stop between tokens."""
        for i, cancel in enumerate(self._cancels):
            if index is None or i == index:
                cancel.set()

    def regenerate(self, index: int) -> Answer:
        """Throw away one answer and ask its model again; the others carry on."""
        with self._lock:
            self._cancels[index].set()
            old = self._threads[index]
            answer = Answer(index, self.engines[index].name, self.engines[index].where(),
                            attempt=self.answers[index].attempt + 1, position=self.positions[index])
            self.answers[index] = answer
            self._cancels[index] = cancel = Cancel()

        # No join on the old thread: a local engine serves one request at a time by itself, and a
        # hosted request may sit in a connect for its whole timeout before it sees the cancel.
        del old
        thread = threading.Thread(target=self._run, args=(index, answer, cancel), name=f"regen-{index}",
                                  daemon=True)
        self._threads[index] = thread
        thread.start()
        return answer

    @property
    def finished(self) -> bool:
        """Whether every answer has ended."""
        return all(a.finished for a in self.answers)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every answer ends (or `timeout`); True when all ended."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            if thread is None:
                continue
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return self.finished


class EnginePool:
    """The engines of the open models, kept across prompts so local models load once."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)

    @classmethod
    def for_specs(cls, specs: Sequence, at_once: int | None = None) -> "EnginePool":
        """Engines for these models, the cores split among the local ones that run at once."""
        from workbench.engines import make_engine

        n_local = sum(1 for s in specs if s.is_local)
        if at_once:
            n_local = min(n_local, at_once)
        return cls([make_engine(spec, n_local) for spec in specs])

    def preload(self) -> dict[str, str]:
        """Load every local model now; returns {model: error} for those that failed."""
        errors = {}
        threads = []

        def load(engine) -> None:
            message = engine.preload()
            if message:
                errors[engine.name] = message

        for engine in self.engines:
            if hasattr(engine, "preload"):
                thread = threading.Thread(target=load, args=(engine,), daemon=True)
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()
        return errors

    def close(self) -> None:
        """Stop every worker, all at once."""
        threads = [threading.Thread(target=e.close, daemon=True) for e in self.engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)

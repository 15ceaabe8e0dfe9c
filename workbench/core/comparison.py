"""The headless core: fan one turn out to N engines, time their events, tell subscribers.

A comparison holds turns. The first turn sends the user's prompt to every engine; a follow-up is
a new turn in which each model continues its own history (its own earlier answers, never another
model's). Every comparison, turn and answer gets an id when it is made.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

from workbench.core.answer import Answer
from workbench.core.engine import Engine
from workbench.core.events import ENDINGS, Cancel, Done, Event, Failed, Status, Token, Usage
from workbench.core.identity import new_id
from workbench.core.repeat import REPEATING, RepeatGuard
from workbench.core.request import Message, Request

Subscriber = Callable[[Answer, Event], None]
"""Called on an engine thread for every event: `(answer, event)`. A new answer (a regenerate)
first shows up this way; its `comparison_id` and `turn_id` say where it belongs."""

log = logging.getLogger("workbench")


def _repeat_limit(engine: Engine) -> int:
    """The engine's `repeat_guard`; 0 (off) for an engine object that has none or cannot say."""
    try:
        limit = getattr(engine, "repeat_guard", 0)
    except Exception as exc:  # noqa: BLE001 - a guard that cannot be read must not fail the answer
        log.warning("repeat_guard of %s failed: %s", getattr(engine, "name", engine), exc)
        return 0
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else 0


@dataclass(eq=False)
class Turn:
    """One prompt of a conversation and every model's answer to it."""

    index: int
    """0 for the first prompt, 1 for the first follow-up…"""
    request: Request
    """The prompt and parameters as the user gave them (each answer's own request adds its history)."""
    answers: list[Answer] = field(default_factory=list)
    id: str = field(default_factory=new_id)


class Comparison:
    """One conversation sent to several engines at once; each answer runs in its own thread.

    `clock` gives the monotonic readings every figure is made of (tests pass a scripted one).
    """

    def __init__(self, engines: Sequence[Engine], request: Request, subscribers: Sequence[Subscriber] = (),
                 positions: Sequence[int] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.id = new_id()
        self.engines = list(engines)
        self.subscribers = list(subscribers)
        self.clock = clock
        self.positions = list(positions) if positions is not None else list(range(len(self.engines)))
        """Each answer's pane position for the log (a resumed batch runs only some of the models)."""
        self.turns: list[Turn] = []
        self._cancels: list[Cancel] = []
        self._threads: list[threading.Thread | None] = []
        self._lock = threading.Lock()
        self._new_turn(request)

    # -- the current turn ---------------------------------------------
    @property
    def turn(self) -> Turn:
        """The latest turn."""
        return self.turns[-1]

    @property
    def request(self) -> Request:
        """The latest turn's prompt and parameters."""
        return self.turn.request

    @property
    def answers(self) -> list[Answer]:
        """The latest turn's answers, one per engine, left to right."""
        return self.turn.answers

    def _new_turn(self, request: Request) -> Turn:
        turn = Turn(len(self.turns), request)
        for i in range(len(self.engines)):
            own, parent_id = self._history(i)
            turn.answers.append(self._answer(i, turn, request.with_history(own), parent_id, attempt=0))
        self.turns.append(turn)
        self._cancels = [Cancel() for _ in self.engines]
        self._threads = [None] * len(self.engines)
        return turn

    def _answer(self, index: int, turn: Turn, request: Request, parent_id: str | None, attempt: int) -> Answer:
        engine = self.engines[index]
        return Answer(index, engine.name, engine.where(), request=request, attempt=attempt,
                      position=self.positions[index], comparison_id=self.id, turn_id=turn.id,
                      turn=turn.index + 1, parent_id=parent_id, cutoff=getattr(engine, "cutoff", None))

    def _history(self, index: int) -> tuple[tuple[Message, ...], str | None]:
        """Model `index`'s own conversation so far, and the id of its last answer in it (the parent)."""
        history: list[Message] = []
        parent_id = None
        for turn in self.turns:
            answer = turn.answers[index]
            text = answer.text
            if answer.status == "failed" or not text.strip():
                continue  # a failed or empty answer leaves nothing to continue from (a stopped one does)
            history += [Message("user", turn.request.prompt), Message("assistant", text)]
            parent_id = answer.id
        return tuple(history), parent_id

    # -- running --------------------------------------------------------
    def start(self) -> "Comparison":
        """Start every answer of the latest turn that has not started (or ended) yet, all at once."""
        with self._lock:
            todo = [(i, a, self._cancels[i]) for i, a in enumerate(self.answers)
                    if self._threads[i] is None and not a.finished]
        for i, answer, cancel in todo:
            self._launch(i, answer, cancel)
        return self

    @property
    def started(self) -> bool:
        """Whether any answer of the latest turn has been launched."""
        return any(t is not None for t in self._threads)

    def follow_up(self, prompt: str, start: bool = False) -> Turn:
        """Make a follow-up turn: every model continues its own history. Record it, then `start()`.

        The previous turn must have ended (stop it first); raises RuntimeError otherwise.
        """
        with self._lock:
            if not self.finished:
                raise RuntimeError("the previous turn is still being answered")
            turn = self._new_turn(replace(self.request, prompt=prompt))  # a turn's own request has no history
        if start:
            self.start()
        return turn

    def _launch(self, index: int, answer: Answer, cancel: Cancel) -> None:
        thread = threading.Thread(target=self._run, args=(index, answer, cancel),
                                  name=f"engine-{self.engines[index].name}", daemon=True)
        self._threads[index] = thread
        thread.start()

    def _publish(self, answer: Answer, event: Event) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(answer, event)
            except Exception as exc:  # noqa: BLE001 - a broken listener must not end (or re-end) the answer
                log.warning("subscriber %r failed on %s: %s", subscriber, event, exc)

    def _run(self, index: int, answer: Answer, cancel: Cancel) -> None:
        engine = self.engines[index]
        answer.started_at = self.clock()
        guard: RepeatGuard | None = None
        try:
            stream = engine.stream(answer.request, cancel)
            for event in stream:
                if isinstance(event, ENDINGS):
                    self._end(engine, answer, event)
                    return
                if not answer.apply(event, self.clock(), engine.where() if isinstance(event, Status) else None):
                    return  # exactly one ending per answer
                self._publish(answer, event)
                if isinstance(event, Token):
                    if guard is None:  # read now: a local model's mode is known once it has loaded
                        guard = RepeatGuard(_repeat_limit(engine))
                    if guard.feed(event.text):
                        self._stop_repeating(engine, answer, cancel, stream)
                        return
        except Exception as exc:  # an engine bug must end its own pane, never the app
            detail = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
            event = Failed(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
        else:
            event = Failed("the engine ended without a result") if not cancel.is_set() else Done(cancelled=True)
        self._end(engine, answer, event)

    def _stop_repeating(self, engine: Engine, answer: Answer, cancel: Cancel, stream: Iterator[Event]) -> None:
        """Stop a looping answer: cancel the engine, let it wind down, end the answer with its text so far.

        The cancel frees the engine at once (a local worker stops between tokens, a hosted stream is
        closed). The rest of the stream is drained so the engine finishes its own bookkeeping as
        after any cancel (a local worker's last reply, its lock); of it only the prompt's token count
        is kept (a local worker reports it last), while late text and the cancelled ending are
        dropped. The answer's one ending is `Done(finish_reason="repeating")`, timed when the guard
        tripped.
        """
        tripped_at = self.clock()
        cancel.set()
        try:
            for event in stream:
                if isinstance(event, Usage) and event.prompt_tokens is not None:
                    usage = replace(event, completion_tokens=None)  # its completion count includes dropped text
                    if answer.apply(usage, tripped_at):
                        self._publish(answer, usage)
        except Exception as exc:  # noqa: BLE001 - the answer still ends as repeating; the bug is logged
            log.warning("%s failed while stopping a repeating answer: %s", engine.name, exc)
        self._end(engine, answer, Done(finish_reason=REPEATING), tripped_at)

    def _end(self, engine: Engine, answer: Answer, event: Done | Failed, now: float | None = None) -> None:
        try:
            answer.identity = engine.identity()  # before the ending is visible: the log reads it then
        except Exception as exc:  # noqa: BLE001 - an identity bug must not lose the answer
            log.warning("identity of %s failed: %s", engine.name, exc)
        if answer.apply(event, self.clock() if now is None else now):
            self._publish(answer, event)

    def cancel(self, index: int | None = None) -> None:
        """Stop one answer, or all of them; the engines stop between tokens.

        An answer that was never launched ends at once, as cancelled, so whoever logs it sees an ending.
        """
        for i, cancel in enumerate(self._cancels):
            if index is None or i == index:
                cancel.set()
                with self._lock:
                    unlaunched = self._threads[i] is None
                if unlaunched:
                    self._end(self.engines[i], self.answers[i], Done(finish_reason="cancelled", cancelled=True))

    def regenerate(self, index: int) -> Answer:
        """Throw away one answer of the latest turn and ask its model again; the others carry on."""
        with self._lock:
            self._cancels[index].set()
            turn = self.turn
            old = turn.answers[index]
            unlaunched = self._threads[index] is None
            answer = self._answer(index, turn, old.request, old.parent_id, attempt=old.attempt + 1)
            turn.answers[index] = answer
            self._cancels[index] = cancel = Cancel()
        if unlaunched:  # replaced before it ever ran: it still needs its one ending
            self._end(self.engines[index], old, Done(finish_reason="cancelled", cancelled=True))
        # No join on the old thread: a local engine serves one request at a time by itself, and a
        # hosted request may sit in a connect for its whole timeout before it sees the cancel.
        self._launch(index, answer, cancel)
        return answer

    @property
    def finished(self) -> bool:
        """Whether every answer of the latest turn has ended."""
        return all(a.finished for a in self.answers)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every answer of the latest turn ends (or `timeout`); True when all ended."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            if thread is None:
                continue
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return self.finished

"""What comes back from a model: a closed union of frozen events, exactly one ending per answer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Status:
    """A note on progress before the first token (loading a model, connecting)."""

    text: str
    ready: bool = False
    """True once the model is loaded and the answer's clock should start."""


@dataclass(frozen=True)
class Token:
    """A piece of the answer's text; `count` is how many model tokens it holds."""

    text: str
    count: int = 1


@dataclass(frozen=True)
class Usage:
    """Token counts as the engine (or provider) reports them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    price: tuple[float, float] | None = None
    """USD per prompt token and per completion token, when the engine knows what the model costs."""


@dataclass(frozen=True)
class Done:
    """The answer ended normally (or was cancelled, when `cancelled`)."""

    finish_reason: str | None = None
    cancelled: bool = False
    model_id: str | None = None
    system_fingerprint: str | None = None


@dataclass(frozen=True)
class Ignored:
    """Parameters of the request that this model does not take (so they had no effect)."""

    params: tuple[str, ...]


@dataclass(frozen=True)
class Received:
    """What the model was actually given, as the engine applied it (the parity record, see workbench/parity.py).

    `record` is a JSON-able dict: the exact prompt text (a rendered chat template, or a base model's
    completion text) or the messages as sent, the sampling parameters with the engine's defaults
    filled in, the parameters dropped, the context size and the stop sequences. Engines bound its size.
    """

    record: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class Failed:
    """The answer could not be produced; `message` is one line for a human."""

    message: str


Event = Union[Status, Token, Usage, Done, Failed, Ignored, Received]
ENDINGS = (Done, Failed)
"""The two events that end an answer; exactly one of them comes, once."""


class EngineError(Exception):
    """A failure with a one-line message fit to show a user as it is."""


@dataclass
class Cancel:
    """A flag an engine checks between tokens."""

    _event: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        """Ask the stream to stop."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep until cancelled or `timeout` seconds pass."""
        return self._event.wait(timeout)

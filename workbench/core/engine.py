"""The engine contract: a small base class every way of running a model extends.

An engine runs one model. `stream` is called from a worker thread, at most one request at a time
per engine unless the engine says otherwise; it yields events and ends with exactly one `Done`
or `Failed`. The other methods have defaults, so a new engine writes only what it needs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Literal

from workbench.core.events import Cancel, Event
from workbench.core.identity import ModelIdentity
from workbench.core.request import Request

Mode = Literal["chat", "completion"]
"""How a model is prompted: `chat` (messages through a chat template or a chat API) or `completion`
(a base model: the text is continued as written)."""

REPEAT_GUARD_DEFAULT = 4
"""Lines in a row that stop a completion-mode model's answer when its config sets no `repeat_guard`."""


class Engine:
    """Runs one model; subclasses set `kind` (the config's `engine` value) and implement `stream`."""

    kind: ClassVar[str] = "engine"

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def from_spec(cls, spec: Any, n_local: int = 1) -> "Engine":
        """The engine for a configured model; `n_local` local models share the cores."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a config entry")

    @classmethod
    def warm_up(cls) -> None:
        """Slow, once-per-process preparation (importing a big library); called off the UI thread."""

    @classmethod
    def check(cls, spec: Any) -> str | None:
        """Why the configured model cannot run now (a missing file, an unset key), or None."""
        return None

    def where(self) -> str:
        """Where the model runs, for the pane header: 'CPU · 2 threads', 'GPU · 99 layers', a host."""
        return self.kind

    @property
    def mode(self) -> Mode:
        """`chat` or `completion` (a base model, shown `base · completion`); chat unless an engine knows better.

        A local model's mode comes from its GGUF (no chat template and no `chat_format`: completion)
        and is final once the model has loaded.
        """
        return "chat"

    @property
    def repeat_guard(self) -> int:
        """Stop an answer when a line (or a short block of lines) comes this many times in a row; 0: never.

        The config entry's `repeat_guard` when it sets one (engines built from a config entry keep it
        as `self.spec`), else on for completion-mode models (`REPEAT_GUARD_DEFAULT`) and off for chat.
        Read by the core when the answer's first token arrives (after any load), so a local model's
        mode is known by then.
        """
        configured = getattr(getattr(self, "spec", None), "repeat_guard", None)
        if isinstance(configured, int) and not isinstance(configured, bool):
            return max(0, configured)
        return REPEAT_GUARD_DEFAULT if self.mode == "completion" else 0

    @property
    def cutoff(self) -> str | None:
        """The model's knowledge cutoff, or release date, as its config entry states it ("2024", "2024-06",
        "2024-06-15"; a demo model's comes with its entry), else None: unknown, so nothing is flagged stale."""
        value = getattr(getattr(self, "spec", None), "cutoff", None)
        return value if isinstance(value, str) else None

    def preload(self) -> str | None:
        """Load the model before the first prompt; returns an error message, or None."""
        return None

    def identity(self) -> ModelIdentity:
        """Exactly which model this is, for the log (after a load, with what the load learned)."""
        return ModelIdentity(self.name, self.kind)

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Yield events for one answer; end with exactly one `Done` or `Failed`."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop whatever this engine is doing now (answers stop on their own `Cancel` too)."""

    def close(self) -> None:
        """Release the model (stop a worker process, close connections)."""

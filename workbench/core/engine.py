"""The engine contract: a small base class every way of running a model extends.

An engine runs one model. `stream` is called from a worker thread, at most one request at a time
per engine unless the engine says otherwise; it yields events and ends with exactly one `Done`
or `Failed`. The other methods have defaults, so a new engine writes only what it needs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

from workbench.core.events import Cancel, Event
from workbench.core.identity import ModelIdentity
from workbench.core.request import Request


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

"""The engine registry: the config's `engine` value → the class that runs such a model.

Adding an engine is one module (a subclass of `workbench.core.Engine`) and one line below. The
registry names classes by dotted path, so reading the config, listing models or `--help` imports
no engine module, and an engine's heavy library (llama_cpp, litellm) only when a model needs it.
This module imports nothing of the workbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Registered:
    """One kind of engine: where its class is and what its config entry needs."""

    target: str
    """`module:Class`."""
    requires: tuple[str, ...]
    """Config keys an entry of this engine must set."""
    local: bool = False
    """Runs on this machine's CPU (local models share the cores)."""
    about: str = ""


ENGINES: dict[str, Registered] = {
    "llama": Registered("workbench.engines.local:LocalEngine", ("path",), local=True,
                        about="a local GGUF file run by llama-cpp-python"),
    "litellm": Registered("workbench.engines.remote:RemoteEngine", ("model",),
                          about="a hosted model (or an OpenAI-compatible server) reached through litellm"),
    "replay": Registered("workbench.engines.replay:ReplayEngine", ("path",),
                         about="a stored answer (a text file) streamed at a steady pace"),
}


def engine_class(kind: str) -> Any:
    """The class registered for `kind` (imports its module now)."""
    module, _, name = ENGINES[kind].target.partition(":")
    return getattr(import_module(module), name)


def make_engine(spec: Any, n_local: int = 1) -> Any:
    """The engine for a configured model; `n_local` local models share the machine's cores."""
    return engine_class(spec.engine).from_spec(spec, n_local)


def warm_up(kinds: set[str]) -> None:
    """Let the engines of these kinds do their slow, once-per-process preparation."""
    for kind in sorted(kinds):
        engine_class(kind).warm_up()


def check(spec: Any) -> str | None:
    """Why a configured model cannot run now, or None."""
    return engine_class(spec.engine).check(spec)

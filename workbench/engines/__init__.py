"""Ways of running a model, all behind the `Engine` protocol in `base`."""

from __future__ import annotations

from workbench.config import ModelSpec
from workbench.engines.base import Engine


def make_engine(spec: ModelSpec, n_local: int = 1) -> Engine:
    """The engine for a model; `n_local` local models share the machine's cores."""
    if spec.is_local:
        from workbench.engines.local import LocalEngine, default_threads

        return LocalEngine(spec, n_threads=spec.n_threads or default_threads(n_local))
    from workbench.engines.remote import RemoteEngine

    return RemoteEngine(spec)

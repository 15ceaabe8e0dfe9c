"""The engines of the open models, kept across prompts so local models load once."""

from __future__ import annotations

import threading
from typing import Sequence

from workbench.core import Engine
from workbench.engines import make_engine


class EnginePool:
    """The open models' engines; preloads and closes them together."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        self.engines = list(engines)

    @classmethod
    def for_specs(cls, specs: Sequence, at_once: int | None = None) -> "EnginePool":
        """Engines for these models, the cores split among the local ones that run at once."""
        n_local = sum(1 for s in specs if s.is_local)
        if at_once:
            n_local = min(n_local, at_once)
        return cls([make_engine(spec, n_local) for spec in specs])

    def preload(self) -> dict[str, str]:
        """Load every model that loads ahead (local ones) now; returns {model: error} for failures."""
        errors: dict[str, str] = {}

        def load(engine: Engine) -> None:
            message = engine.preload()
            if message:
                errors[engine.name] = message

        threads = [threading.Thread(target=load, args=(e,), daemon=True) for e in self.engines]
        for thread in threads:
            thread.start()
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

"""Which models exist: the config, the bundled demo models, and `$WORKBENCH_HOME/models/`."""

from __future__ import annotations

from dataclasses import dataclass

from workbench import demo_models, engines
from workbench.config import ModelSpec, Settings


@dataclass(frozen=True)
class Entry:
    """A model and whether it can run now (and if not, why)."""

    spec: ModelSpec
    reason: str | None = None

    @property
    def available(self) -> bool:
        """True when nothing is known to stop the model from running."""
        return self.reason is None

    def describe(self) -> str:
        """Where the model lives, for `workbench models`."""
        if self.spec.path:
            return str(self.spec.resolved_path())
        bases = self.spec.api_base
        if isinstance(bases, tuple):  # replicas of one model
            bases = ", ".join(bases)
        base = f" via {bases}" if bases else ""
        return f"{self.spec.model}{base}"


def discover(settings: Settings) -> list[Entry]:
    """Every model the workbench knows of, configured ones first; names are unique."""
    specs: list[ModelSpec] = list(settings.models)
    seen = {s.name for s in specs}
    for spec in (demo_models.smollm2(), demo_models.gemma()):
        if spec and spec.name not in seen:
            specs.append(spec)
            seen.add(spec.name)
    if settings.models_dir.is_dir():
        for path in sorted(settings.models_dir.glob("*.gguf")):
            if path.stem not in seen:
                specs.append(ModelSpec(name=path.stem, engine="llama", path=str(path), source="models/"))
                seen.add(path.stem)
    return [Entry(spec, engines.check(spec)) for spec in specs]  # each engine knows why it cannot run


class UnknownModel(Exception):
    """A model name that is not in the catalog."""


def resolve(entries: list[Entry], names: list[str]) -> list[Entry]:
    """Look names up, in order, with a one-line error naming what is unknown."""
    by_name = {e.spec.name: e for e in entries}
    out = []
    for name in names:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise UnknownModel(f"unknown model '{name}' (available: {known})")
        out.append(by_name[name])
    return out

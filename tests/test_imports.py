"""The house rule: the core never imports Textual, and starting the CLI imports no heavy engine library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CORE = [
    "workbench.cli",
    "workbench.core",
    "workbench.demo_models",
    "workbench.engines.pool",
    "workbench.fingerprint",
    "workbench.store",
    "workbench.catalog",
    "workbench.config",
    "workbench.figures",
    "workbench.engines",
    "workbench.engines.local",
    "workbench.engines.local_worker",
    "workbench.engines.remote",
    "workbench.engines.replay",
]


def loaded_after(code: str) -> set[str]:
    """Top-level modules in sys.modules after running `code` in a fresh interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_probe_sees_what_is_imported() -> None:
    """The check below can fail: importing the UI does show up as textual."""
    assert "textual" in loaded_after("import textual.app")


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module: str) -> None:
    assert "textual" not in loaded_after(f"import {module}")


def test_whole_core_together_does_not_import_textual() -> None:
    assert "textual" not in loaded_after("\n".join(f"import {m}" for m in CORE))


def test_help_imports_no_engine_or_ui_library() -> None:
    code = (
        "import sys\n"
        "from workbench.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = loaded_after(code)
    assert "click" in loaded
    assert not loaded & {"litellm", "llama_cpp", "textual", "openai", "httpx"}, loaded & {
        "litellm", "llama_cpp", "textual", "openai", "httpx"}


def test_help_runs_as_a_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Compare language models" in proc.stdout
    for command in ("models", "run"):
        assert command in proc.stdout


def test_listing_models_imports_no_engine_or_ui_library(tmp_path) -> None:
    code = (
        "import os, sys\n"
        f"os.environ['WORKBENCH_HOME'] = {str(tmp_path)!r}\n"
        "from workbench.cli import main\n"
        "try:\n"
        "    main(['models', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    loaded = loaded_after(code)
    assert "workbench" in loaded
    assert not loaded & {"litellm", "llama_cpp", "textual"}

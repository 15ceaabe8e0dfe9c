"""catalog.py: which models exist, and why one cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import catalog, demo_models
from workbench.config import ModelSpec, load_settings


def names(entries: list[catalog.Entry]) -> list[str]:
    return [e.spec.name for e in entries]


def by_name(entries: list[catalog.Entry]) -> dict[str, catalog.Entry]:
    return {e.spec.name: e for e in entries}


def test_demo_models_are_found_and_available() -> None:
    entries = by_name(catalog.discover(load_settings()))
    smol, gemma = entries["smollm2"], entries["gemma3-270m"]
    for entry in (smol, gemma):
        assert entry.available, entry.reason
        assert entry.spec.engine == "llama"
        assert entry.spec.source == "demo"
    assert smol.spec.resolved_path().is_file()
    assert smol.spec.resolved_path().read_bytes()[:4] == b"GGUF"
    assert gemma.spec.resolved_path().name == "gemma-3-270m-q4_k_m.gguf"
    assert smol.describe() == str(smol.spec.resolved_path())


def test_configured_models_come_first_and_shadow_demo_names(workbench_home: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "smollm2"\nengine = "llama"\npath = "{gguf}"\n'
        '[[models]]\nname = "zeta"\nengine = "litellm"\nmodel = "openai/zeta"\napi_base = "http://127.0.0.1:9/v1"\n'
    )
    entries = catalog.discover(load_settings())
    assert names(entries)[:2] == ["smollm2", "zeta"]
    assert names(entries).count("smollm2") == 1
    smol = by_name(entries)["smollm2"]
    assert smol.spec.source == "config"
    assert smol.spec.path == str(gguf)
    assert by_name(entries)["zeta"].describe() == "openai/zeta via http://127.0.0.1:9/v1"


def test_models_folder_gguf_files_appear_by_stem(workbench_home: Path) -> None:
    folder = workbench_home / "models"
    folder.mkdir()
    (folder / "tiny-coder.gguf").write_bytes(b"GGUF")
    (folder / "notes.txt").write_text("not a model")
    entries = by_name(catalog.discover(load_settings()))
    tiny = entries["tiny-coder"]
    assert tiny.spec.source == "models/"
    assert tiny.spec.engine == "llama"
    assert tiny.available
    assert "notes" not in entries


def test_missing_local_file_is_unavailable_with_reason(workbench_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    (workbench_home / "config.toml").write_text(f'[[models]]\nname = "gone"\nengine = "llama"\npath = "{missing}"\n'
                                               f'[[models]]\nname = "dir"\nengine = "llama"\npath = "{tmp_path}"\n')
    entries = by_name(catalog.discover(load_settings()))
    assert not entries["gone"].available
    assert entries["gone"].reason == f"file not found: {missing}"
    assert "is a folder" in entries["dir"].reason


def test_hosted_model_key_variable(workbench_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workbench_home / "config.toml").write_text(
        '[[models]]\nname = "named"\nengine = "litellm"\nmodel = "anthropic/claude"\napi_key_env = "WB_CAT_KEY"\n'
        '[[models]]\nname = "default"\nengine = "litellm"\nmodel = "openai/gpt-4o-mini"\n'
        '[[models]]\nname = "server"\nengine = "litellm"\nmodel = "openai/local"\napi_base = "http://127.0.0.1:9/v1"\n'
    )
    monkeypatch.delenv("WB_CAT_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    entries = by_name(catalog.discover(load_settings()))
    assert entries["named"].reason == "key variable WB_CAT_KEY is unset"
    assert entries["default"].reason == "key variable OPENAI_API_KEY is unset"
    assert entries["server"].available  # a self-hosted server needs no key

    monkeypatch.setenv("WB_CAT_KEY", "wb-test-key-not-real")
    monkeypatch.setenv("OPENAI_API_KEY", "wb-test-key-not-real")
    entries = by_name(catalog.discover(load_settings()))
    assert entries["named"].available and entries["default"].available


def test_resolve_keeps_order_and_names_the_unknown() -> None:
    entries = catalog.discover(load_settings())
    picked = catalog.resolve(entries, ["gemma3-270m", "smollm2"])
    assert names(picked) == ["gemma3-270m", "smollm2"]
    with pytest.raises(catalog.UnknownModel) as err:
        catalog.resolve(entries, ["smollm2", "gpt-7"])
    message = str(err.value)
    assert message.startswith("unknown model 'gpt-7'")
    assert "smollm2" in message and "gemma3-270m" in message
    assert "\n" not in message


def test_gemma_is_assembled_from_its_parts_and_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = by_name(catalog.discover(load_settings()))["gemma3-270m"].spec
    target = tmp_path / "cache" / "workbench" / "gemma-3-270m-q4_k_m.gguf"
    assert spec.resolved_path() == target
    assert not target.exists()
    assert demo_models.prepare(spec) == target
    assert target.read_bytes()[:4] == b"GGUF"
    parts = demo_models._gemma_parts()
    assert target.stat().st_size == sum(p.stat().st_size for p in parts)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left behind
    mtime = target.stat().st_mtime_ns
    demo_models.prepare(spec)
    assert target.stat().st_mtime_ns == mtime  # assembled once


def test_assembly_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    part = tmp_path / "bogus.part00"
    part.write_bytes(b"GGUF not really gemma")
    target = tmp_path / "out" / "gemma-3-270m-q4_k_m.gguf"
    with pytest.raises(OSError, match="SHA-256"):
        demo_models._assemble([part], target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert demo_models.cache_dir() == tmp_path / "workbench"


def test_entry_describe_expands_tilde() -> None:
    entry = catalog.Entry(ModelSpec(name="x", engine="llama", path="~/m.gguf"))
    assert entry.describe() == str(Path.home() / "m.gguf")
    assert entry.available


def test_a_replica_pool_is_listed_by_its_urls(tmp_path):
    from workbench.config import load_settings

    config = tmp_path / "config.toml"
    config.write_text('[[models]]\nname = "pool"\nengine = "litellm"\nmodel = "openai/x"\n'
                      'api_base = ["http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"]\n')
    entry = next(e for e in catalog.discover(load_settings(config)) if e.spec.name == "pool")
    assert entry.describe() == "openai/x via http://127.0.0.1:8001/v1, http://127.0.0.1:8002/v1"

"""The `workbench` command line: models, run, and its one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from servers import FAKE_KEY, KEY_ENV, assert_one_line, free_port
from workbench.cli import main

RECORD_KEYS = {"model", "status", "text", "ttft_ms", "completion_tokens", "tokens_per_s", "duration_ms", "error"}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def error_line(result: Result) -> str:
    """The single line a failing command wrote to stderr."""
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("workbench: error: "), lines[0]
    assert_one_line(lines[0])
    return lines[0]


def children() -> set[int]:
    """Processes whose parent is this one, in any state (a zombie counts: nobody reaped it)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.add(int(entry))
    return found


def test_models_json_lists_the_demo_models() -> None:
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name in ("smollm2", "gemma3-270m"):
        assert rows[name]["available"] is True
        assert rows[name]["reason"] is None
        assert rows[name]["engine"] == "llama"
        assert rows[name]["source"] == "demo"
        assert rows[name]["location"].endswith(".gguf")


def test_models_table_marks_unavailable_models(workbench_home: Path) -> None:
    (workbench_home / "config.toml").write_text(
        '[[models]]\nname = "hosted"\nengine = "litellm"\nmodel = "anthropic/claude"\napi_key_env = "WB_NOPE"\n')
    result = invoke("models")
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert lines["smollm2"].startswith("ok ")
    assert lines["hosted"].startswith("-- ")
    assert "(key variable WB_NOPE is unset)" in lines["hosted"]


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ('name = "mine"\nengine = "llama"\npath = "/m.gguf"\ncolour = "red"\n', "colour"),
        ('name = "mine"\nengine = "llama"\npath = "/m.gguf"\nn_ctx = "big"\n', "n_ctx"),
    ],
)
@pytest.mark.parametrize("command", [["models", "--json"], ["run", "hello", "-m", "smollm2"]])
def test_bad_config_exits_2_naming_file_model_and_key(workbench_home: Path, entry: str, key: str,
                                                      command: list[str]) -> None:
    config = workbench_home / "config.toml"
    config.write_text(f"[[models]]\n{entry}")
    result = invoke(*command)
    assert result.exit_code == 2
    line = error_line(result)
    assert str(config) in line
    assert "'mine'" in line
    assert f"'{key}'" in line


def test_config_option_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    result = invoke("--config", str(missing), "models")
    assert result.exit_code == 2
    assert str(missing) in error_line(result)


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt(prompt: str) -> None:
    result = invoke("run", prompt, "-m", "smollm2")
    assert result.exit_code == 2
    assert "prompt is empty" in error_line(result)


def test_empty_prompt_file(tmp_path: Path) -> None:
    empty = tmp_path / "prompt.md"
    empty.write_text("\n\n")
    result = invoke("run", str(empty), "-m", "smollm2")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(empty) in line and "the prompt has no text" in line


def test_empty_plain_text_prompt_file(tmp_path: Path) -> None:
    empty = tmp_path / "prompt.txt"
    empty.write_text("  \n")
    result = invoke("run", str(empty), "-m", "smollm2")
    assert result.exit_code == 2
    assert f"{empty}: the prompt file is empty" in error_line(result)


def test_unknown_model() -> None:
    result = invoke("run", "hello", "-m", "smollm2", "-m", "gpt-9")
    assert result.exit_code == 2
    line = error_line(result)
    assert "unknown model 'gpt-9'" in line
    assert "smollm2" in line  # says what is available


def test_run_two_local_models_json() -> None:
    before = children()
    result = invoke("run", "Write a Python function is_prime(n).", "-m", "smollm2", "-m", "gemma3-270m",
                    "--json", "--max-tokens", "32")
    assert result.exit_code == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["model"] for a in answers] == ["smollm2", "gemma3-270m"]
    for a in answers:
        assert RECORD_KEYS <= set(a), a
        assert a["status"] == "complete", a["error"]
        assert a["error"] is None
        assert a["text"].strip()
        assert 0 < a["completion_tokens"] <= 32
        assert a["ttft_ms"] > 0
        assert a["tokens_per_s"] > 0
        assert a["duration_ms"] >= a["ttft_ms"]
    assert children() - before == set()  # both workers stopped and reaped


def test_run_prompt_from_a_file_and_plain_output(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Say hello in French.")
    result = invoke("run", str(prompt), "-m", "smollm2", "--max-tokens", "12")
    assert result.exit_code == 0, result.stderr
    header, *body = result.stdout.splitlines()
    assert header.startswith("── smollm2 · CPU")
    # Sampled, so the answer may or may not reach the 12-token limit: either way it says which.
    assert ("complete" in header or "truncated" in header) and "TTFT" in header, header
    assert "".join(body).strip()


def test_run_remote_model_from_config(workbench_home: Path, llama_server) -> None:
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "served"\nengine = "litellm"\nmodel = "openai/smollm2"\n'
        f'api_base = "{llama_server.base_url}"\napi_key_env = "{KEY_ENV}"\ntimeout = 30\n'
    )
    result = invoke("run", "Say hello.", "-m", "served", "--json", "--max-tokens", "16",
                    env={KEY_ENV: FAKE_KEY})
    assert result.exit_code == 0, result.stdout + result.stderr
    (answer,) = json.loads(result.stdout)
    assert answer["model"] == "served"
    assert answer["status"] == "complete", answer["error"]
    assert answer["text"].strip()
    # llama_cpp.server (0.3.36) counts the sampled token that hit the limit too: up to max_tokens + 1.
    assert 0 < answer["completion_tokens"] <= 17
    assert FAKE_KEY not in result.stdout + result.stderr


def test_run_failure_exits_1_with_the_error_in_the_record(workbench_home: Path) -> None:
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "down"\nengine = "litellm"\nmodel = "openai/x"\n'
        f'api_base = "http://127.0.0.1:{free_port()}/v1"\napi_key_env = "{KEY_ENV}"\ntimeout = 5\n'
    )
    result = invoke("run", "Say hello.", "-m", "down", "--json", env={KEY_ENV: FAKE_KEY})
    assert result.exit_code == 1
    (answer,) = json.loads(result.stdout)
    assert answer["status"] == "failed"
    assert_one_line(answer["error"], FAKE_KEY)
    assert "connect" in answer["error"]


# -- a broken prompt file in the user's library is an error, not literal text ---------------------------

def _replay_model(workbench_home: Path, tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text("stored answer", encoding="utf-8")
    (workbench_home / "config.toml").write_text(f'[[models]]\nname = "r"\nengine = "replay"\npath = "{answer}"\n')


@pytest.mark.parametrize("name", ["game-of-life", "my-own-prompt"])  # shadowing a shipped prompt, or not
def test_run_a_broken_library_prompt_names_its_file(workbench_home: Path, tmp_path: Path, name: str) -> None:
    _replay_model(workbench_home, tmp_path)
    folder = workbench_home / "prompts"
    folder.mkdir()
    broken = folder / f"{name}.md"
    broken.write_text("---\ntitel: typo\n---\nThe real prompt.\n", encoding="utf-8")
    result = invoke("run", name, "-m", "r", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 2, (result.stdout, result.stderr)  # once: the name itself was sent, exit 0
    line = error_line(result)
    assert f"{broken}:2:" in line and "titel" in line


def test_check_against_a_broken_library_prompt_names_its_file(workbench_home: Path, tmp_path: Path) -> None:
    folder = workbench_home / "prompts"
    folder.mkdir()
    broken = folder / "game-of-life.md"
    broken.write_text("---\ntitel: typo\n---\nThe real prompt.\n", encoding="utf-8")
    answer = tmp_path / "answer.md"
    answer.write_text("```python\nprint(1)\n```\n", encoding="utf-8")
    result = invoke("check", str(answer), "--prompt", "game-of-life")
    assert result.exit_code == 2
    assert f"{broken}:2:" in error_line(result)

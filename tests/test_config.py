"""config.py: TOML + environment → typed settings, with strict one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers import assert_one_line
from workbench.config import ConfigError, ModelSpec, load_settings


def write(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_file_gives_defaults_under_workbench_home(workbench_home: Path) -> None:
    settings = load_settings()
    assert settings.home == workbench_home
    assert settings.config_path == workbench_home / "config.toml"
    assert settings.db_path == workbench_home / "workbench.db"
    assert settings.models_dir == workbench_home / "models"
    assert settings.models == ()
    assert settings.default_models == ()
    assert settings.theme == "workbench-dark"


def test_workbench_home_expands_tilde(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_HOME", "~/elsewhere")
    assert load_settings().home == tmp_path / "elsewhere"


def test_models_are_parsed_into_specs(workbench_home: Path) -> None:
    write(workbench_home, """
theme = "workbench-light"
default_models = ["mine", "hosted"]

[[models]]
name = "mine"
engine = "llama"
path = "~/models/mine.gguf"
n_ctx = 8192
n_threads = 3
n_gpu_layers = -1
chat_format = "chatml"

[[models]]
name = "hosted"
engine = "litellm"
model = "openai/gpt-4o-mini"
api_base = "http://127.0.0.1:9/v1"
api_key_env = "MY_KEY"
timeout = 30
""")
    settings = load_settings()
    assert settings.theme == "workbench-light"
    assert settings.default_models == ("mine", "hosted")
    mine, hosted = settings.models
    assert mine == ModelSpec(name="mine", engine="llama", path="~/models/mine.gguf", n_ctx=8192, n_threads=3,
                             n_gpu_layers=-1, chat_format="chatml")
    assert mine.is_local and not hosted.is_local
    assert mine.resolved_path() == Path.home() / "models" / "mine.gguf"
    assert hosted.model == "openai/gpt-4o-mini"
    assert hosted.api_key_env == "MY_KEY"
    assert hosted.timeout == 30
    assert hosted.source == "config"


def test_timeout_takes_a_float(workbench_home: Path) -> None:
    write(workbench_home, '[[models]]\nname = "h"\nengine = "litellm"\nmodel = "openai/x"\ntimeout = 2.5\n')
    assert load_settings().models[0].timeout == 2.5


def test_config_and_db_options_override_paths(workbench_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('theme = "x"\n')
    settings = load_settings(other, tmp_path / "log.db")
    assert settings.config_path == other
    assert settings.theme == "x"
    assert settings.db_path == tmp_path / "log.db"


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        load_settings(missing)
    assert str(missing) in str(err.value)
    assert "not found" in str(err.value)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('colour = "red"\n', ["unknown key 'colour'"]),
        ('theme = 3\n', ["'theme'", "str"]),
        ('default_models = "smollm2"\n', ["'default_models'", "list"]),
        ('default_models = [1]\n', ["'default_models'"]),
        ('[[models]]\nname = "m"\nengine = "llama"\npath = "/x.gguf"\ncolour = "red"\n',
         ["model 'm'", "unknown key 'colour'"]),
        ('[[models]]\nname = "m"\nengine = "llama"\npath = "/x.gguf"\nn_ctx = "big"\n',
         ["model 'm'", "'n_ctx'", "int", "str"]),
        ('[[models]]\nname = "m"\nengine = "llama"\npath = "/x.gguf"\nn_ctx = true\n',
         ["model 'm'", "'n_ctx'", "bool"]),
        ('[[models]]\nname = "m"\nengine = "litellm"\nmodel = "openai/x"\ntimeout = "soon"\n',
         ["model 'm'", "'timeout'"]),
        ('[[models]]\nname = "m"\nengine = "vllm"\n', ["model 'm'", "'engine'", "'vllm'", "llama, litellm, replay"]),
        ('[[models]]\nname = "m"\nengine = "replay"\n', ["model 'm'", "'path' is required for engine 'replay'"]),
        ('[[models]]\nname = "m"\nengine = "replay"\npath = "/a.md"\ntokens_per_s = 0\n',
         ["model 'm'", "'tokens_per_s'"]),
        ('[[models]]\nname = "m"\n', ["model 'm'", "'engine'"]),
        ('[[models]]\nname = "m"\nengine = "llama"\n', ["model 'm'", "'path' is required"]),
        ('[[models]]\nname = "m"\nengine = "litellm"\n', ["model 'm'", "'model' is required"]),
        ('[[models]]\nengine = "llama"\npath = "/x.gguf"\n', ["models[0]", "'name'"]),
        ('[[models]]\nname = "m"\nengine = "llama"\npath = "/a.gguf"\n'
         '[[models]]\nname = "m"\nengine = "llama"\npath = "/b.gguf"\n', ["model 'm'", "twice"]),
        ('models = ["m"]\n', ["models[0]", "table"]),
        ('[[models]\nname = "m"\n', ["not valid TOML"]),
    ],
)
def test_bad_config_is_one_line_naming_file_model_and_key(workbench_home: Path, body: str,
                                                          needles: list[str]) -> None:
    path = write(workbench_home, body)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert_one_line(message)
    assert message.startswith(f"{path}:"), message
    for needle in needles:
        assert needle in message, (needle, message)


def test_unreadable_config_is_one_line(workbench_home: Path) -> None:
    (workbench_home / "config.toml").write_bytes(b"\xff\xfe theme = 1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert_one_line(str(err.value))
    assert "cannot read" in str(err.value)


def test_a_replay_model_comes_from_the_config_like_any_other(workbench_home: Path, tmp_path: Path) -> None:
    """`engine = "replay"` is a first-class engine: the catalog checks its file, the registry builds it."""
    from workbench import catalog
    from workbench.core import Cancel, Request, Token
    from workbench.engines import make_engine

    answer = tmp_path / "answer.md"
    answer.write_text("stored words here", encoding="utf-8")
    write(workbench_home, f'[[models]]\nname = "ref"\nengine = "replay"\npath = "{answer}"\ntokens_per_s = 1000\n'
                          f'[[models]]\nname = "gone"\nengine = "replay"\npath = "{tmp_path / "nope.md"}"\n'
                          f'[[models]]\nname = "dir"\nengine = "replay"\npath = "{tmp_path}"\n')
    entries = {e.spec.name: e for e in catalog.discover(load_settings())}
    assert entries["ref"].available and entries["ref"].describe() == str(answer)
    assert entries["gone"].reason == f"{tmp_path / 'nope.md'}: No such file or directory"
    assert entries["dir"].reason == f"{tmp_path}: not a regular file"
    engine = make_engine(entries["ref"].spec)
    text = "".join(e.text for e in engine.stream(Request("q"), Cancel()) if isinstance(e, Token))
    assert text == "stored words here"
    assert engine.identity().engine == "replay"


# -- only a regular file of sensible size is read as config ----------------------------------------

def test_a_fifo_config_is_refused_not_waited_on(workbench_home: Path) -> None:
    import os

    from bounded import cli, one_error_line

    os.mkfifo(workbench_home / "config.toml")
    line = one_error_line(cli("models", timeout=20))  # a blocking open would wait for a writer forever
    assert str(workbench_home / "config.toml") in line and "not a regular file" in line


def test_a_device_config_is_refused_without_reading_it(workbench_home: Path) -> None:
    from bounded import cli, one_error_line

    line = one_error_line(cli("--config", "/dev/zero", "models", timeout=20))  # once: MemoryError
    assert "/dev/zero" in line and "not a regular file" in line


def test_a_huge_config_is_refused(workbench_home: Path) -> None:
    path = workbench_home / "config.toml"
    path.write_text("# padding\n" * 200_000, encoding="utf-8")  # 2 MB of comments: valid TOML, too big
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert_one_line(str(err.value))
    assert str(path) in str(err.value) and "MiB" in str(err.value)


def test_a_nul_byte_in_a_path_names_the_model_and_key(workbench_home: Path) -> None:
    path = write(workbench_home, '[[models]]\nname = "nul"\nengine = "llama"\npath = "/tmp/a\\u0000b.gguf"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert_one_line(message)
    assert message.startswith(f"{path}: model 'nul'") and "'path'" in message and "NUL" in message


@pytest.mark.parametrize(("key", "value"), [
    ("timeout", "-1"), ("timeout", "0"), ("timeout", "nan"), ("timeout", "inf"),
    ("n_ctx", "0"), ("n_ctx", "-4096"), ("n_threads", "0"), ("n_threads", "-2"),
    ("n_gpu_layers", "-2"), ("tokens_per_s", "nan"), ("tokens_per_s", "inf"),
    ("repeat_guard", "-1"), ("repeat_guard", "1"),
])
def test_nonsensical_numbers_are_refused(workbench_home: Path, key: str, value: str) -> None:
    engine = 'engine = "litellm"\nmodel = "openai/x"' if key == "timeout" else (
        'engine = "replay"\npath = "/a.md"' if key == "tokens_per_s" else 'engine = "llama"\npath = "/x.gguf"')
    path = write(workbench_home, f'[[models]]\nname = "m"\n{engine}\n{key} = {value}\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert_one_line(message)
    assert message.startswith(f"{path}: model 'm'") and f"'{key}'" in message, message


def test_repeat_guard_is_a_line_count_per_model(workbench_home: Path) -> None:
    """`repeat_guard = N` stops an answer at the Nth identical line in a row; 0 is off; unset, the engine decides."""
    write(workbench_home, '[[models]]\nname = "a"\nengine = "llama"\npath = "/x.gguf"\nrepeat_guard = 6\n'
                          '[[models]]\nname = "b"\nengine = "llama"\npath = "/x.gguf"\nrepeat_guard = 0\n'
                          '[[models]]\nname = "c"\nengine = "llama"\npath = "/x.gguf"\n')
    assert [m.repeat_guard for m in load_settings().models] == [6, 0, None]
    for bad in ("true", "2.5", '"4"'):
        write(workbench_home, f'[[models]]\nname = "m"\nengine = "llama"\npath = "/x.gguf"\nrepeat_guard = {bad}\n')
        with pytest.raises(ConfigError, match="'repeat_guard' must be int"):
            load_settings()
    write(workbench_home, '[[models]]\nname = "m"\nengine = "llama"\npath = "/x.gguf"\nrepeat_guard = 1\n')
    with pytest.raises(ConfigError, match=r"'repeat_guard' must be 0 \(off\) or at least 2, not 1"):
        load_settings()


def test_keys_and_leaderboard_settings(tmp_path):
    from workbench.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text('[keys]\ndiff = "ctrl+d"\n\n[leaderboard]\nmin_votes = 3\n')
    settings = load_settings(path)
    assert settings.keys == {"diff": "ctrl+d"} and settings.leaderboard_min_votes == 3
    for bad, says in (('[keys]\ndiff = 4\n', "keys.diff"), ('[leaderboard]\nmin_votes = 0\n', "min_votes"),
                      ('[leaderboard]\nmin_votes = true\n', "min_votes"), ('[leaderboard]\nmin = 2\n', "leaderboard.min")):
        path.write_text(bad)
        with pytest.raises(ConfigError, match=says):
            load_settings(path)


def test_the_leaderboard_takes_its_minimum_from_the_config(tmp_path):
    """One vote, `[leaderboard] min_votes = 1`: ranked, as `--min-votes 1` would."""
    import json

    from click.testing import CliRunner

    from workbench.cli import main

    battles = tmp_path / "battles.jsonl"
    battles.write_text(json.dumps({"model_a": "x", "model_b": "y", "winner": "model_a"}) + "\n")
    config = tmp_path / "config.toml"
    config.write_text("[leaderboard]\nmin_votes = 1\n")
    result = CliRunner().invoke(main, ["--config", str(config), "leaderboard", "--battles", str(battles),
                                       "--rounds", "5", "--no-log"])
    assert "models ranked from 1 vote" in result.output, result.output

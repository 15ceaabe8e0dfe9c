"""Settings from `$WORKBENCH_HOME/config.toml` (or `--config`) and the environment."""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

from workbench.engines import ENGINES
from workbench.inputs import MiB, InputFileError, read_text

MAX_CONFIG_BYTES = MiB
"""A hand-written config is a few KiB; a MiB leaves room for hundreds of models and refuses a runaway file."""


class ConfigError(Exception):
    """A config problem, worded as one line that names the file, the model and the key."""


@dataclass(frozen=True)
class ModelSpec:
    """One model the workbench can run."""

    name: str
    """The short name used with `-m` and shown in pane headers."""
    engine: str
    """`llama` (a local GGUF run by llama-cpp-python), `litellm` (a hosted model) or `replay` (a stored answer)."""
    path: str | None = None
    """GGUF file, for `llama` models; the stored answer's text file, for `replay`; `~` is expanded."""
    model: str | None = None
    """litellm model string, for `litellm` models, e.g. `openai/gpt-4o-mini`."""
    api_base: str | tuple[str, ...] | None = None
    """Base URL of an OpenAI-compatible (or other) server, for `litellm` models; a list of them (in the
    config, a TOML array) names replicas of one model, which share its requests through litellm's Router."""
    api_key_env: str | None = None
    """Environment variable holding the key; litellm's defaults apply when unset."""
    n_ctx: int = 4096
    """Context window for `llama` models, in tokens."""
    n_threads: int | None = None
    """CPU threads for `llama` models; by default the cores are split among loaded models."""
    n_gpu_layers: int = 0
    """Layers offloaded to the GPU (-1: all), when llama-cpp-python was built with CUDA or Metal."""
    chat_format: str | None = None
    """llama-cpp-python chat format overriding the GGUF's template (e.g. `chatml`)."""
    timeout: float = 120.0
    """Seconds a hosted model may take to start answering, and between chunks."""
    max_parallel: int = 4
    """Most requests in flight at once to a hosted model (batch runs), per replica when `api_base` lists
    several (the model then takes the sum); a local model always serves one."""
    tokens_per_s: float | None = None
    """Pace of a `replay` model's stream; as fast as it can when unset."""
    repeat_guard: int | None = None
    """Stop an answer stuck in a loop: when the same line (or the same block of up to 8 lines) comes this
    many times in a row, generation is cancelled and the answer keeps its text so far, with finish reason
    `repeating` (shown `stopped: repeating`). Blank lines, lines under 6 characters and lines of closing
    brackets or tags (`}`, `</div>`) are not counted. `0` turns it off; unset, it is 4 for a model run in
    completion mode (a base model: no chat template) and off for chat models."""
    cutoff: str | None = None
    """Knowledge cutoff, or release date when no cutoff is stated (the weights cannot have seen anything written
    after it): `"2024"`, `"2024-06"` or `"2024-06-15"`; a year or month covers all of it. `leaderboard --fresh`
    keeps only votes on prompts created after every rated model's cutoff."""
    source: str = "config"
    """Where the entry came from: `config`, `demo` or `models/`."""

    @property
    def is_local(self) -> bool:
        """Whether this model runs on this machine's CPU (local models share the cores)."""
        return ENGINES[self.engine].local

    def resolved_path(self) -> Path | None:
        """The GGUF path with `~` expanded."""
        return Path(self.path).expanduser() if self.path else None


@dataclass(frozen=True)
class Settings:
    """Everything the app and the CLI need to know before they start."""

    home: Path
    """Folder for config, database and models (`$WORKBENCH_HOME`, default `~/.workbench`)."""
    config_path: Path
    """The TOML file read (it need not exist)."""
    db_path: Path
    """The SQLite log."""
    theme: str = "workbench-dark"
    """Theme name, one of the files in `themes/`."""
    default_models: tuple[str, ...] = ()
    """Models opened when none are given with `-m`."""
    models: tuple[ModelSpec, ...] = field(default_factory=tuple)
    """Models declared in the config file."""
    keys: dict[str, str] = field(default_factory=dict)
    """`[keys]`: a key binding's id → the key(s) it moves to, e.g. `diff = "ctrl+d"` (`?` lists the ids' keys)."""
    leaderboard_min_votes: int | None = None
    """`[leaderboard] min_votes`: votes a model needs to be ranked (unset: the leaderboard's default, 10)."""

    @property
    def models_dir(self) -> Path:
        """Folder whose GGUF files appear as models with no config."""
        return self.home / "models"


_TOP_KEYS = {"theme": str, "default_models": list, "models": list, "keys": dict, "leaderboard": dict}
_MODEL_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "engine": (str,),
    "path": (str,),
    "model": (str,),
    "api_base": (str, list),
    "api_key_env": (str,),
    "n_ctx": (int,),
    "n_threads": (int,),
    "n_gpu_layers": (int,),
    "chat_format": (str,),
    "timeout": (int, float),
    "max_parallel": (int,),
    "tokens_per_s": (int, float),
    "repeat_guard": (int,),
    "cutoff": (str,),
}


def default_home() -> Path:
    """`$WORKBENCH_HOME`, or `~/.workbench`."""
    env = os.environ.get("WORKBENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".workbench"


def load_settings(config: Path | str | None = None, db: Path | str | None = None) -> Settings:
    """Read the config file (missing is fine unless named explicitly) into `Settings`."""
    home = default_home()
    path = Path(config).expanduser() if config else home / "config.toml"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(read_text(path, MAX_CONFIG_BYTES))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except InputFileError as exc:  # a FIFO, a device, a huge file: refused before it is read
            raise ConfigError(str(exc)) from None
    elif config:
        raise ConfigError(f"{path}: config file not found")
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (expected one of: {', '.join(_TOP_KEYS)})")
        if not isinstance(value, _TOP_KEYS[key]):
            raise ConfigError(f"{path}: '{key}' must be a {_TOP_KEYS[key].__name__}")
    models = tuple(_model(path, i, entry) for i, entry in enumerate(data.get("models", [])))
    names = [m.name for m in models]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{path}: model {name!r} is declared twice")
    defaults = data.get("default_models", [])
    if not all(isinstance(n, str) for n in defaults):
        raise ConfigError(f"{path}: 'default_models' must be a list of model names")
    keys = data.get("keys", {})
    for binding, key in keys.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{path}: keys.{binding} must be a key name such as \"ctrl+d\" (or keys \"a,b\")")
    board = data.get("leaderboard", {})
    for key in board:
        if key != "min_votes":
            raise ConfigError(f"{path}: unknown key 'leaderboard.{key}' (expected: min_votes)")
    min_votes = board.get("min_votes")
    if min_votes is not None and (isinstance(min_votes, bool) or not isinstance(min_votes, int) or min_votes < 1):
        raise ConfigError(f"{path}: leaderboard.min_votes must be a whole number of 1 or more")
    return Settings(
        home=home,
        config_path=path,
        db_path=Path(db).expanduser() if db else home / "workbench.db",
        theme=data.get("theme", "workbench-dark"),
        default_models=tuple(defaults),
        models=models,
        keys=dict(keys),
        leaderboard_min_votes=min_votes,
    )


def _model(path: Path, index: int, entry: Any) -> ModelSpec:
    """Validate one `[[models]]` table strictly."""
    where = f"{path}: models[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' is required and must be a string")
    where = f"{path}: model {name!r}"  # repr: a name may hold a newline
    for key, value in entry.items():
        if key not in _MODEL_TYPES:
            raise ConfigError(f"{where}: unknown key {key!r}")
        types = _MODEL_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            kind = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: '{key}' must be {kind}, not {type(value).__name__}")
        if isinstance(value, str) and "\0" in value:  # no path or URL holds one; the OS would refuse it later
            raise ConfigError(f"{where}: '{key}' contains a NUL byte (\\u0000)")
    engine = entry.get("engine")
    if engine not in ENGINES:
        raise ConfigError(f"{where}: 'engine' must be one of {', '.join(ENGINES)} (got {engine!r})")
    for key in ENGINES[engine].requires:
        if not entry.get(key):
            raise ConfigError(f"{where}: '{key}' is required for engine '{engine}'")
    _check_numbers(where, entry)
    if isinstance(entry.get("api_base"), list):
        entry = {**entry, "api_base": _replicas(where, entry["api_base"])}
    cutoff = entry.get("cutoff")
    if cutoff is not None and not _is_cutoff(cutoff):
        raise ConfigError(f"{where}: 'cutoff' must be a year, month or day such as \"2024-06\", not {cutoff!r}")
    if entry.get("repeat_guard") == 1:  # every line comes once: 1 would stop every answer at its first line
        raise ConfigError(f"{where}: 'repeat_guard' must be 0 (off) or at least 2, not 1")
    known = {f.name for f in fields(ModelSpec)}
    return ModelSpec(**{k: v for k, v in entry.items() if k in known})


def _replicas(where: str, bases: list) -> str | tuple[str, ...]:
    """A list of `api_base`s (replicas of one model): distinct non-empty URLs; a list of one is that URL."""
    if not bases:
        raise ConfigError(f"{where}: 'api_base' must list at least one URL")
    for base in bases:
        if not isinstance(base, str) or not base.strip():
            raise ConfigError(f"{where}: each 'api_base' in the list must be a URL string, not {base!r}")
        if "\0" in base:
            raise ConfigError(f"{where}: 'api_base' contains a NUL byte (\\u0000)")
    twice = sorted({b for b in bases if bases.count(b) > 1})
    if twice:
        raise ConfigError(f"{where}: 'api_base' lists {twice[0]!r} twice")
    return bases[0] if len(bases) == 1 else tuple(bases)


def _is_cutoff(text: str) -> bool:
    """Whether `text` is a year, a month or a day: 2024, 2024-06 or 2024-06-30 (a real one)."""
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        return False
    try:
        date.fromisoformat((text + "-01-01")[:10] if len(text) < 10 else text)
    except ValueError:
        return False
    return True


# The least each number may be: a timeout of 0 or less fails every request (and used to surface as the
# server's HTTP 500), a context or thread count of 0 cannot load, -1 layers means all of them.
_MINIMUM = {"timeout": (0, False), "tokens_per_s": (0, False), "n_ctx": (1, True), "n_threads": (1, True),
            "max_parallel": (1, True), "n_gpu_layers": (-1, True), "repeat_guard": (0, True)}


def _check_numbers(where: str, entry: dict[str, Any]) -> None:
    """Every number finite and in its range, with a one-line error naming the key."""
    for key, (least, inclusive) in _MINIMUM.items():
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
            raise ConfigError(f"{where}: '{key}' must be a finite number, not {value}")
        if value < least or (value == least and not inclusive):
            bound = f"at least {least}" if inclusive else f"above {least}"
            raise ConfigError(f"{where}: '{key}' must be {bound}, not {value}")


PARAMS_FILE = "params.toml"
"""The app's saved defaults for the F3 parameters, in `$WORKBENCH_HOME` (written by the app, not by hand)."""

_PARAM_CHECKS = {
    "system": lambda v: isinstance(v, str),
    "max_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    "temperature": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "seed": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "top_p": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
}


def load_params(home: Path) -> dict[str, Any]:
    """The parameters saved from the app (F3, Ctrl+S); {} when none were; ConfigError naming a bad file."""
    path = home / PARAMS_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(read_text(path, MAX_CONFIG_BYTES))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except InputFileError as exc:
        raise ConfigError(str(exc)) from None
    for key, value in data.items():
        check = _PARAM_CHECKS.get(key)
        if check is None:
            raise ConfigError(f"{path}: unknown key {key!r} (expected one of: {', '.join(_PARAM_CHECKS)})")
        if not check(value):
            raise ConfigError(f"{path}: {key} = {value!r} is not a valid value")
    return data


def save_params(home: Path, params: dict[str, Any]) -> Path:
    """Write the F3 parameters as the defaults of the next launches (None values are left out); atomic."""
    import json
    import os
    import tempfile

    lines = ["# Saved by the workbench from F3 (Ctrl+S); the defaults of every new launch.\n"]
    for key in _PARAM_CHECKS:
        value = params.get(key)
        if value is None:
            continue
        # A JSON string is a valid TOML basic string; numbers are written as TOML reads them.
        lines.append(f"{key} = {json.dumps(value) if isinstance(value, str) else repr(value)}\n")
    home.mkdir(parents=True, exist_ok=True)
    path = home / PARAMS_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{PARAMS_FILE}.", dir=home)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(lines))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path

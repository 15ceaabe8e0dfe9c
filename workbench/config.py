"""Settings from `$WORKBENCH_HOME/config.toml` (or `--config`) and the environment."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields
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
    api_base: str | None = None
    """Base URL of an OpenAI-compatible (or other) server, for `litellm` models."""
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
    """Most requests in flight at once to a hosted model (batch runs); a local model always serves one."""
    tokens_per_s: float | None = None
    """Pace of a `replay` model's stream; as fast as it can when unset."""
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

    @property
    def models_dir(self) -> Path:
        """Folder whose GGUF files appear as models with no config."""
        return self.home / "models"


_TOP_KEYS = {"theme": str, "default_models": list, "models": list}
_MODEL_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "engine": (str,),
    "path": (str,),
    "model": (str,),
    "api_base": (str,),
    "api_key_env": (str,),
    "n_ctx": (int,),
    "n_threads": (int,),
    "n_gpu_layers": (int,),
    "chat_format": (str,),
    "timeout": (int, float),
    "max_parallel": (int,),
    "tokens_per_s": (int, float),
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
    return Settings(
        home=home,
        config_path=path,
        db_path=Path(db).expanduser() if db else home / "workbench.db",
        theme=data.get("theme", "workbench-dark"),
        default_models=tuple(defaults),
        models=models,
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
    known = {f.name for f in fields(ModelSpec)}
    return ModelSpec(**{k: v for k, v in entry.items() if k in known})


# The least each number may be: a timeout of 0 or less fails every request (and used to surface as the
# server's HTTP 500), a context or thread count of 0 cannot load, -1 layers means all of them.
_MINIMUM = {"timeout": (0, False), "tokens_per_s": (0, False), "n_ctx": (1, True), "n_threads": (1, True),
            "max_parallel": (1, True), "n_gpu_layers": (-1, True)}


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

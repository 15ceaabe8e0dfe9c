"""The prompt library: Markdown prompt files with YAML front matter, placeholders and tests.

A prompt file looks like this::

    ---
    title: Merge overlapping intervals
    tags: [python, easy]
    created: 2025-01-15
    language: python
    variables: {n: 3}
    max_tokens: 1024
    ---
    Write a function `merge_intervals(intervals)` ... {{ n }} ...

    ## Tests
    ```python
    def test_merges(): assert merge_intervals([(1, 3), (2, 4)]) == [(1, 4)]
    ```

- The front matter is optional; when present it starts on line 1 and ends at the next
  line that is exactly `---`. Fields: title, tags, created, system, language, variables,
  max_tokens, temperature, seed, top_p. Anything else is an error.
- A `## Tests` heading (outside a code fence) ends the prompt: everything from it to the
  END OF THE FILE is never sent to a model, so a later heading cannot leak tests into the
  prompt. It must hold exactly one fenced code block: the tests. The fence's language
  (default: the prompt's `language`) says how the checks run.
- `{{name}}` or `{{ name }}` in the body or the system prompt is replaced by the variable's
  default from `variables`, or by an override (`--var name=value`); every placeholder
  needs a default, checked at load. `\\{{name}}` stands for a literal `{{name}}`.
- Files named README.md are documentation, not prompts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.inputs import MiB, InputFileError, read_text
from workbench.prompt_match import match  # noqa: F401 - the picker's fuzzy search, kept importable from here

MAX_PROMPT_BYTES = MiB
"""A prompt is read by people and fits a context window: a MiB is far beyond both, and bounds the read."""
FIELDS = ("title", "tags", "created", "system", "language", "variables",
          "max_tokens", "temperature", "seed", "top_p", "runner", "run_seconds")
"""Every field the front matter may hold."""
PARAMS = ("max_tokens", "temperature", "seed", "top_p")
"""The fields that override model parameters (collected in `PromptFile.params`)."""
_ALIASES = {"py": "python", "python3": "python", "js": "javascript", "node": "javascript",
            "sh": "bash", "shell": "bash", "rs": "rust", "golang": "go", "sqlite": "sql"}
_PLACEHOLDER = re.compile(r"(\\?)\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
_TESTS_HEADING = re.compile(r"^##\s+tests\s*#*\s*$", re.IGNORECASE)


class PromptError(Exception):
    """A prompt file that cannot be used, as one line: `PATH:LINE: what`."""

    def __init__(self, path: Path | str | None, line: int, what: str) -> None:
        super().__init__(path, line, what)  # all three in args, so it pickles across processes
        self.path = path
        self.line = line
        self.what = what

    def __str__(self) -> str:
        """`PATH:LINE: what`, on one line."""
        return f"{self.path if self.path is not None else '<text>'}:{self.line}: {self.what}"


@dataclass(frozen=True)
class PromptFile:
    """One prompt: its text, metadata, parameters and (optionally) tests."""

    name: str
    """Library name: the file stem (or `adhoc-<hash>` for literal text)."""
    path: Path | None
    """The file it came from; None for literal text."""
    title: str
    """Human title, for the picker (default: the name)."""
    body: str
    """Text sent to the model, without front matter and without the `## Tests` section."""
    tags: list[str] = field(default_factory=list)
    """Free-form tags, used by the picker and `--tag`."""
    created: dt.date | None = None
    """When the prompt was written (helps judge whether a model could have trained on it)."""
    system: str | None = None
    """System prompt, if any."""
    language: str | None = None
    """Language of the expected code answer (python, javascript, sql, bash, rust, ...)."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Placeholder defaults, by name."""
    params: dict[str, int | float] = field(default_factory=dict)
    """Parameter overrides among max_tokens, temperature, seed, top_p."""
    runner: str | None = None
    """`pygame`: the answer is a graphics program, run headless and judged by its frames (`visual` extra)."""
    run_seconds: float | None = None
    """How long a graphics program runs before it is asked to quit (default 6 s)."""
    tests: str | None = None
    """Code of the fenced block under `## Tests`, or None."""
    tests_language: str | None = None
    """Language of the tests fence (default: `language`)."""
    body_line: int = 1
    """File line of the body's first line, for placeholder errors."""
    system_line: int = 1
    """File line where the system prompt's text starts."""


def parse(path: Path, text: str | None = None) -> PromptFile:
    """Read and validate one prompt file; raises PromptError naming the line at fault."""
    if text is None:
        try:
            text = read_text(path, MAX_PROMPT_BYTES, encoding="utf-8-sig")
        except InputFileError as exc:  # a FIFO, a device or a huge file: refused before it is read
            raise PromptError(path, 1, f"cannot use as a prompt file: {str(exc).removeprefix(f'{path}: ')}") from None
    # split on \n only, as editors and YAML count lines (str.splitlines also breaks on \f, \x1c...)
    lines = [ln.removesuffix("\r") for ln in text.lstrip("\ufeff").split("\n")]
    meta: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    start = 0
    if lines and lines[0].rstrip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
        if end is None:
            raise PromptError(path, 1, "front matter opened with '---' is never closed by a '---' line")
        meta, key_lines = _front_matter(path, "\n".join(lines[1:end]))
        start = end + 1
    fields_ = _validate(path, meta, key_lines)
    body_lines, tests_at = _split_tests(lines, start)
    first = next((i for i, ln in enumerate(body_lines) if ln.strip()), None)
    if first is None:
        raise PromptError(path, start + 1, "the prompt has no text")
    tests, tests_lang = _tests_block(path, lines, tests_at) if tests_at is not None else (None, None)
    language = fields_.get("language")
    fields_.setdefault("title", path.stem)
    prompt = PromptFile(
        name=path.stem, path=path,
        body="\n".join(body_lines[first:]).rstrip(), tests=tests,
        tests_language=tests_lang or (language if tests is not None else None),
        body_line=start + first + 1, system_line=key_lines.get("_system_text", 1), **fields_,
    )
    render(prompt)  # every placeholder must have a default: reported at load, with its line
    render_system(prompt)
    return prompt


def _front_matter(path: Path, source: str) -> tuple[dict[str, Any], dict[str, int]]:
    """YAML mapping of the front matter, and the file line of each key (front matter starts on line 2)."""
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PromptError(path, line, f"bad YAML in front matter: {problem}") from None
    if node is None:
        return {}, {}
    if not isinstance(node, yaml.MappingNode):
        raise PromptError(path, node.start_mark.line + 2, "front matter must be a mapping of fields")
    data: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    loader = yaml.SafeLoader("")
    for key, value in node.value:
        line = key.start_mark.line + 2
        name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
        if name in data:
            raise PromptError(path, line, f"field {name!r} is given twice")
        try:
            data[name] = loader.construct_object(value, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:  # a bad date raises ValueError
            problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise PromptError(path, value.start_mark.line + 2, f"bad value for {name!r}: {problem}") from None
        key_lines[name] = line
        if name == "system":  # a block scalar's text starts on the line after its '|'
            block = isinstance(value, yaml.ScalarNode) and value.style in ("|", ">")
            key_lines["_system_text"] = value.start_mark.line + 2 + block
    loader.dispose()
    return data, key_lines


def _validate(path: Path, meta: dict[str, Any], key_lines: dict[str, int]) -> dict[str, Any]:
    """Check every front matter field's name, type and range; return PromptFile keyword args."""
    out: dict[str, Any] = {}
    params: dict[str, int | float] = {}
    for key, value in meta.items():
        line = key_lines.get(key, 2)

        def bad(what: str, line: int = line) -> PromptError:
            return PromptError(path, line, what)

        if key not in FIELDS:
            raise bad(f"unknown field {key!r} (known: {', '.join(FIELDS)})")
        if key in ("title", "system", "language"):
            if not isinstance(value, str) or not value.strip():
                raise bad(f"'{key}' must be a non-empty string, not {_kind(value)} (quote it)")
            out[key] = _ALIASES.get(value.strip().lower(), value.strip().lower()) if key == "language" else value
        elif key == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
                raise bad("'tags' must be a list of strings, e.g. [python, easy]")
            out["tags"] = [t.strip() for t in value]
        elif key == "created":
            out["created"] = _date(value, bad)
        elif key == "runner":
            if value != "pygame":
                raise bad(f"'runner' can only be pygame (a graphics program), not {value!r}")
            out["runner"] = value
        elif key == "run_seconds":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.5 <= value <= 60:
                raise bad(f"'run_seconds' must be a number of seconds from 0.5 to 60, not {value!r}")
            out["run_seconds"] = float(value)
        elif key == "variables":
            if not isinstance(value, dict):
                raise bad("'variables' must be a mapping of name: default")
            for name, default in value.items():
                if not isinstance(name, str) or not _VAR_NAME.match(name):
                    raise bad(f"variable name {name!r} must be letters, digits, '_' or '-'")
                if isinstance(default, (dict, list)) or default is None:
                    raise bad(f"variable '{name}' needs a default that is text or a number")
            out["variables"] = dict(value)
        else:
            params[key] = _param(key, value, bad)
    if params:
        out["params"] = params
    return out


def _date(value: Any, bad: Any) -> dt.date:
    """A YAML date (or an ISO date string) as a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise bad(f"'created' must be a date like 2025-01-31, not {value!r}")


def _param(key: str, value: Any, bad: Any) -> int | float:
    """One model parameter, type- and range-checked."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(f"'{key}' must be a number, not {_kind(value)}")
    if key in ("max_tokens", "seed") and not isinstance(value, int):
        raise bad(f"'{key}' must be a whole number, not {value!r}")
    if key == "max_tokens" and not 1 <= value <= 1_000_000:
        raise bad(f"'max_tokens' must be between 1 and 1000000, not {value}")
    if key == "seed" and value < 0:
        raise bad(f"'seed' must be 0 or more, not {value}")
    if key == "temperature" and not 0 <= value <= 2:
        raise bad(f"'temperature' must be between 0 and 2, not {value}")
    if key == "top_p" and not 0 < value <= 1:
        raise bad(f"'top_p' must be more than 0 and at most 1, not {value}")
    return value


def _kind(value: Any) -> str:
    """A value's type in YAML words, for messages."""
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a mapping", type(None): "empty"}.get(type(value), type(value).__name__)


def _split_tests(lines: list[str], start: int) -> tuple[list[str], int | None]:
    """Body lines before the `## Tests` heading (ignoring code fences), and the heading's index."""
    fence: str | None = None
    for i in range(start, len(lines)):
        m = _FENCE.match(lines[i])
        if m and (fence is None or (m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)
                                    and not m.group(2))):
            fence = m.group(1) if fence is None else None
        elif fence is None and _TESTS_HEADING.match(lines[i]):
            return lines[start:i], i
    return lines[start:], None


def _tests_block(path: Path, lines: list[str], heading: int) -> tuple[str, str | None]:
    """The one fenced block under `## Tests`: its code and its fence language."""
    blocks: list[tuple[str, str | None]] = []
    i = heading + 1
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, opened = m.group(1), m.group(2).lower() or None, i
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence) and not close.group(2):
                break
            body.append(lines[i])
            i += 1
        else:
            raise PromptError(path, opened + 1, "code fence under '## Tests' is never closed")
        if len(blocks) == 1:
            raise PromptError(path, opened + 1, "'## Tests' must hold exactly one fenced code block")
        blocks.append(("\n".join(body) + "\n", _ALIASES.get(lang, lang) if lang else None))
        i += 1
    if not blocks:
        raise PromptError(path, heading + 1, "'## Tests' has no fenced code block")
    return blocks[0]


def _fill(prompt: PromptFile, text: str, first_line: int, overrides: dict[str, Any] | None) -> str:
    """Replace placeholders in `text` from overrides, then defaults."""
    values = {**prompt.variables, **(overrides or {})}

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)[1:]
        name = m.group(2)
        if name not in values:
            line = first_line + text.count("\n", 0, m.start())
            raise PromptError(prompt.path, line, f"placeholder '{{{{{name}}}}}' has no value "
                                                 "(give it a default under 'variables')")
        value = values[name]
        return str(value).lower() if isinstance(value, bool) else str(value)

    return _PLACEHOLDER.sub(sub, text)


def _check_overrides(prompt: PromptFile, overrides: dict[str, Any] | None) -> None:
    """An override for a variable the prompt does not have is a typo, not a no-op."""
    unknown = sorted(set(overrides or {}) - set(prompt.variables))
    if unknown:
        known = ", ".join(prompt.variables) or "none"
        raise PromptError(prompt.path, 1, f"no variable {unknown[0]!r} in this prompt (variables: {known})")


def render(prompt: PromptFile, overrides: dict[str, Any] | None = None) -> str:
    """The body to send, placeholders filled; literal text (no path) is sent as it is."""
    _check_overrides(prompt, overrides)
    if prompt.path is None:
        return prompt.body
    return _fill(prompt, prompt.body, prompt.body_line, overrides)


def render_system(prompt: PromptFile, overrides: dict[str, Any] | None = None) -> str | None:
    """The system prompt to send, placeholders filled, or None."""
    if prompt.system is None or prompt.path is None:
        return prompt.system
    _check_overrides(prompt, overrides)
    return _fill(prompt, prompt.system, prompt.system_line, overrides)


def project_prompts_dir() -> Path:
    """`prompts/` beside the package (a checkout) or inside it (an installed wheel)."""
    here = Path(__file__).resolve().parent
    installed = here / "_prompts"
    return installed if installed.is_dir() else here.parent / "prompts"


def library_dirs(settings_home: Path) -> list[Path]:
    """Folders of the library, lowest precedence first: the project's, then the user's."""
    return [project_prompts_dir(), settings_home / "prompts"]


def load_library(dirs: list[Path]) -> tuple[dict[str, PromptFile], list[PromptError]]:
    """Every prompt in `dirs` by name (later dirs win) and the files that failed, skipped.

    A malformed file in a later folder also hides an earlier prompt of the same name: the
    user meant to replace it, so the old one is not run in its place.
    """
    library: dict[str, PromptFile] = {}
    errors: list[PromptError] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.md")):
            if path.name.lower() == "readme.md" or not path.is_file():
                continue
            try:
                library[path.stem] = parse(path)
            except PromptError as exc:
                errors.append(exc)
                library.pop(path.stem, None)
    return library, errors


def resolve(arg: str, library: dict[str, PromptFile], broken: list[PromptError] | None = None) -> PromptFile:
    """A prompt from a path to a .md file, a library name, or else literal text.

    `broken` are the library files that failed to load: a name among them raises that file's
    error, rather than sending the name itself to the models as if it were the prompt.
    """
    if len(arg) < 4096 and "\n" not in arg and arg.strip().lower().endswith(".md"):
        path = Path(arg.strip()).expanduser()
        try:
            exists = path.is_file()
        except (OSError, ValueError):
            exists = False
        if exists:
            return parse(path)
        if arg.strip() not in library and " " not in arg.strip():
            raise PromptError(path, 1, "no such prompt file")
    if arg.strip() in library:
        return library[arg.strip()]
    for error in broken or ():
        if error.path is not None and Path(error.path).stem == arg.strip():
            raise error
    if not arg.strip():
        raise PromptError(None, 1, "the prompt is empty")
    digest = hashlib.sha256(arg.encode("utf-8")).hexdigest()[:8]
    first = arg.strip().splitlines()[0]
    title = first if len(first) <= 60 else first[:59] + "…"
    return PromptFile(name=f"adhoc-{digest}", path=None, title=title, body=arg)


def cutoff_end(cutoff: str | dt.date) -> dt.date:
    """The last day a model cutoff covers: "2024" → 2024-12-31, "2024-06" → 2024-06-30, "2024-06-15" itself.

    A cutoff stated as a month means the model may know all of that month; raises ValueError when malformed.
    """
    if isinstance(cutoff, dt.date):
        return cutoff
    text = cutoff.strip()
    if re.fullmatch(r"\d{4}", text):
        return dt.date(int(text), 12, 31)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise ValueError(f"not a month: {cutoff!r}")
        return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return dt.date.fromisoformat(text)
    raise ValueError(f"not a cutoff (a year, month or day such as 2024-06): {cutoff!r}")


def _day(when: str | dt.date) -> dt.date:
    """A date from a date, a datetime (its own calendar day) or an ISO date or time string."""
    if isinstance(when, dt.datetime):
        return when.date()
    if isinstance(when, dt.date):
        return when
    text = when.strip()
    return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text).date()


def stale(prompt_created: str | dt.date | None, model_cutoff: str | dt.date | None) -> bool:
    """Whether the model could have trained on the prompt: it was created on or before the last day of the model's
    cutoff (see `cutoff_end`). False when either date is unknown or unreadable (a log or bundle is read as found):
    this flags only what is known to be stale; `fresh` is the opposite claim and is also False then. Dates may be
    dates, datetimes or ISO strings."""
    if prompt_created is None or model_cutoff is None:
        return False
    try:
        return _day(prompt_created) <= cutoff_end(model_cutoff)
    except (AttributeError, TypeError, ValueError):
        return False


def fresh(prompt_created: str | dt.date | None, model_cutoff: str | dt.date | None) -> bool:
    """Whether the prompt was created after the model's cutoff, both known (what `leaderboard --fresh` keeps)."""
    if prompt_created is None or model_cutoff is None:
        return False
    return _day(prompt_created) > cutoff_end(model_cutoff)

"""Property-based fuzzing of every parser of outside input: each fails only with its own one-line error.

Config TOML → ConfigError; prompt files → PromptError; battle files → BattleError; code extraction
from answers → never raises, in bounded time. The `ci` profile (the default) keeps the whole file
to a few seconds; `HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_inputs.py` searches much longer.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers import assert_one_line
from workbench.arena import BattleError, read_battles
from workbench.config import ConfigError, load_settings
from workbench.prompts import FIELDS, PromptError, parse, render, render_system
from workbench.verify.extract import blocks, extract_code

# deadline=None: a 2-core CI box stalls now and then, and a slow example is not a failing one; the
# time bound that matters (extraction) is asserted by the test itself, with a generous margin.
settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], database=None)
settings.register_profile("long", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_SCRATCH = Path(tempfile.mkdtemp(prefix="wb-fuzz-"))  # one folder for all examples: tmp_path is per test


def _file(name: str, data: str | bytes) -> Path:
    """`data` written to a scratch file (bytes as they are, text as UTF-8)."""
    path = _SCRATCH / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


# -- config TOML -----------------------------------------------------------------------------------

_KEYS = ["name", "engine", "path", "model", "api_base", "api_key_env", "n_ctx", "n_threads", "n_gpu_layers",
         "chat_format", "timeout", "max_parallel", "tokens_per_s", "colour"]
_scalars = st.one_of(
    st.text(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["llama", "litellm", "replay", "/dev/zero", "a\nb", "x\u0000y", "", " "]),
)
_keys = st.one_of(st.sampled_from(_KEYS), st.text(max_size=8))  # a quoted key may hold anything
_values = st.one_of(_scalars, st.lists(_scalars, max_size=3))


def _toml_value(value) -> str:
    """A value in TOML syntax (strings as JSON's escapes, which TOML shares; lone surrogates stay invalid)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


@st.composite
def _config_documents(draw) -> str:
    """TOML that gets past the parser: top-level keys and [[models]] tables with odd values."""
    lines = [f"{json.dumps(k)} = {_toml_value(draw(_values))}" for k in draw(st.lists(
        st.one_of(st.sampled_from(["theme", "default_models", "models"]), _keys), max_size=2, unique=True))]
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[models]]")
        keys = draw(st.lists(_keys, max_size=6, unique=True))
        lines += [f"{json.dumps(k)} = {_toml_value(draw(_values))}" for k in keys]
    return "\n".join(lines) + "\n"


def _only_config_errors(data: str | bytes) -> None:
    try:
        load_settings(_file("config.toml", data))
    except ConfigError as exc:
        assert_one_line(str(exc))


@given(st.one_of(st.binary(max_size=512), st.text(max_size=512)))
def test_config_arbitrary_bytes_or_text(data) -> None:
    _only_config_errors(data)


@given(_config_documents())
def test_config_valid_toml_with_odd_values(document: str) -> None:
    _only_config_errors(document)


# -- prompt files: front matter, placeholders, ## Tests ---------------------------------------------

_yaml_values = st.one_of(
    st.sampled_from(["", "~", "[python, easy]", "{n: 3}", "2025-01-15", "2025-13-45", "[unclosed", "|\n  block",
                     "!!python/object:os.system x", "&a [*a]", "{{ x }}", "1e999", "-1", "0.5", "yes"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15),
)
_body_lines = st.one_of(
    st.sampled_from(["Write {{ n }} things.", "\\{{literal}}", "{{missing}}", "## Tests", "## tests ##",
                     "```python", "```", "~~~", "````js", "def test_x(): assert True", "---", ""]),
    st.text(max_size=30),
)


@st.composite
def _prompt_files(draw) -> str:
    """Text shaped like a prompt file: maybe front matter, then body lines mixing fences and headings."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("---")
        for key in draw(st.lists(st.one_of(st.sampled_from([*FIELDS, "titel"]), st.text(max_size=6).map(json.dumps)),
                                 max_size=4)):
            lines.append(f"{key}: {draw(_yaml_values)}")
        if draw(st.booleans()):
            lines.append("---")
    lines += draw(st.lists(_body_lines, max_size=12))
    return "\n".join(lines)


def _only_prompt_errors(text: str | None, data: bytes | None = None) -> None:
    path = _file("fuzzed.md", data if data is not None else text or "")
    try:
        prompt = parse(path, text)
        render(prompt, {v: "x" for v in prompt.variables})
        render(prompt, {"not\na variable": "x"})  # an unknown --var: an error naming it
        render_system(prompt)
    except PromptError as exc:
        assert_one_line(str(exc))


@given(_prompt_files())
def test_prompt_shaped_text(text: str) -> None:
    _only_prompt_errors(text)


@given(st.text(max_size=400))
def test_prompt_arbitrary_text(text: str) -> None:
    _only_prompt_errors(text)


@given(st.binary(max_size=400))
def test_prompt_arbitrary_bytes_read_from_a_file(data: bytes) -> None:
    _only_prompt_errors(None, data)


# -- battle files ------------------------------------------------------------------------------------

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
                          st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "a", "b"]))
_battle_objects = st.one_of(
    st.fixed_dictionaries({}, optional={k: _json_scalars for k in ("model_a", "model_b", "winner", "extra")}),
    st.lists(_json_scalars, max_size=3), _json_scalars,
)


@st.composite
def _battle_files(draw) -> str:
    """A JSON list or JSONL of battle-like objects, sometimes cut short or padded with junk."""
    items = draw(st.lists(_battle_objects, max_size=5))
    if draw(st.booleans()):
        text = json.dumps(items, indent=draw(st.sampled_from([None, 1])))
    else:
        text = "\n".join(json.dumps(i) for i in items)
    cut = draw(st.integers(0, len(text)))
    return text[:cut] if draw(st.booleans()) else text + draw(st.sampled_from(["", "\n", "]", ",", "{", "\n\n x"]))


@given(st.one_of(_battle_files(), st.text(max_size=300), st.binary(max_size=300)))
def test_battles_only_battle_errors(data) -> None:
    try:
        for battle in read_battles(_file("battles.jsonl", data)):
            assert battle.model_a != battle.model_b
    except BattleError as exc:
        assert_one_line(str(exc))


# -- code extraction from answers ----------------------------------------------------------------------

_answer_lines = st.one_of(
    st.sampled_from(["```python", "```py", "```", "~~~bash", "````", "  ```js", "```sql", "For example:",
                     "def f(x):", "    return x", "def test_f(): assert f(1) == 1", ">>> f(1)", "#!/bin/bash",
                     "$ ./run.sh", "SELECT 1;", "const f = () => 1;", "(" * 300, "-" * 5_000 + "1",
                     "x" + "[0]" * 2_000, "not " * 2_000 + "x"]),
    st.text(max_size=40),
)


@given(st.lists(_answer_lines, max_size=15).map("\n".join),
       st.sampled_from([None, "python", "py", "javascript", "bash", "sql", "rust", "", "  PYTHON "]))
def test_extraction_never_raises_and_is_quick(answer: str, language: str | None) -> None:
    started = time.monotonic()
    code = extract_code(answer, language)
    found = blocks(answer)
    assert code is None or isinstance(code, str)
    assert all(isinstance(b.code, str) for b in found)
    assert time.monotonic() - started < 5, "extraction must take bounded time"


@pytest.mark.parametrize("answer", ["-" * 100_000 + "1", "(" * 100_000, "x" + "[0]" * 100_000,
                                    "```python\n" + "-" * 200_000 + "1\n```\n"],
                         ids=["unary", "parens", "subscripts", "fenced"])
def test_extraction_survives_code_too_deep_for_the_parser(answer: str) -> None:
    """Found by the fuzzer: ast.parse raises MemoryError or RecursionError on deep nesting."""
    for language in (None, "python"):
        code = extract_code(answer, language)  # no exception: at worst, no code found
        assert code is None or isinstance(code, str)

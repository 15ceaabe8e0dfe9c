"""The prompt library: file format, placeholders, errors with path:line, precedence, and the shipped prompts."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from workbench.prompts import (
    PromptError,
    PromptFile,
    library_dirs,
    load_library,
    match,
    parse,
    project_prompts_dir,
    render,
    render_system,
    resolve,
)

ROOT = Path(__file__).resolve().parent.parent

FULL = """\
---
title: Merge intervals
tags: [python, easy]
created: 2025-03-04
system: |
  You are {{ role }}.
  Be brief.
language: py
variables:
  role: a careful coder
  count: 3
max_tokens: 512
temperature: 0.3
seed: 7
top_p: 0.9
---

Write {{count}} functions.

```markdown
## Tests
this heading is inside a fence, so it is part of the prompt
```

## Tests

Run these after the answer.

```python
def test_it():
    assert merge([]) == []
```

## Notes
Still part of the tests section: never sent.
"""


def write(folder: Path, name: str, text: str) -> Path:
    """Write a prompt file and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> PromptError:
    """The PromptError that parsing `text` raises."""
    path = write(tmp_path, "p", text)
    with pytest.raises(PromptError) as info:
        parse(path)
    return info.value


# --- the format ---------------------------------------------------------------------------

def test_every_field_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, "merge", FULL)
    p = parse(path)
    assert p.name == "merge" and p.path == path
    assert p.title == "Merge intervals"
    assert p.tags == ["python", "easy"]
    assert p.created == dt.date(2025, 3, 4)
    assert p.system == "You are {{ role }}.\nBe brief.\n"
    assert p.language == "python"  # `py` is normalised
    assert p.variables == {"role": "a careful coder", "count": 3}
    assert p.params == {"max_tokens": 512, "temperature": 0.3, "seed": 7, "top_p": 0.9}
    assert p.tests == "def test_it():\n    assert merge([]) == []\n"
    assert p.tests_language == "python"


def test_tests_section_is_not_in_the_body(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "merge", FULL))
    assert p.body.startswith("Write {{count}} functions.")
    assert "inside a fence, so it is part of the prompt" in p.body  # a fenced '## Tests' is text
    for never_sent in ("Run these after the answer", "def test_it", "## Notes", "never sent"):
        assert never_sent not in p.body
        assert never_sent not in render(p)
    assert p.body.rstrip().endswith("```")


def test_front_matter_is_optional(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "plain", "Just a prompt.\n"))
    assert (p.title, p.body, p.tags, p.created, p.tests, p.params) == ("plain", "Just a prompt.", [], None, None, {})


def test_tests_fence_without_language_uses_the_prompt_language(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "p", "---\nlanguage: js\n---\nDo it.\n## Tests\n```\nassert(1)\n```\n"))
    assert p.language == "javascript" and p.tests_language == "javascript"
    assert p.tests == "assert(1)\n"


def test_created_accepts_a_quoted_iso_date(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "p", "---\ncreated: '2024-12-01'\n---\nx\n"))
    assert p.created == dt.date(2024, 12, 1)


# --- placeholders -------------------------------------------------------------------------

def test_placeholders_use_defaults_and_overrides(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "merge", FULL))
    assert render(p).startswith("Write 3 functions.")
    assert render(p, {"count": "five"}).startswith("Write five functions.")
    assert render_system(p) == "You are a careful coder.\nBe brief.\n"
    assert render_system(p, {"role": "a poet"}) == "You are a poet.\nBe brief.\n"
    assert p.body.startswith("Write {{count}}")  # rendering does not change the prompt


def test_placeholder_escape_and_spacing(tmp_path: Path) -> None:
    text = "---\nvariables: {n: 2, flag: true}\n---\nA {{n}} B {{  n  }} C \\{{n}} D {{flag}}\n"
    assert render(parse(write(tmp_path, "p", text))) == "A 2 B 2 C {{n}} D true"


def test_placeholder_without_value_names_path_and_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: t\nvariables: {a: 1}\n---\nfirst {{a}}\n\nthird {{ missing }}\n")
    assert err.line == 7
    assert str(err).startswith(f"{tmp_path / 'p.md'}:7: ")
    assert "missing" in str(err) and "\n" not in str(err)


def test_placeholder_without_value_in_system_names_its_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: t\nsystem: |\n  line one\n  use {{tone}}\n---\nbody\n")
    assert err.line == 5 and "tone" in str(err)
    err = error_of(tmp_path, "---\nsystem: Be {{tone}}\n---\nbody\n")
    assert err.line == 2


def test_override_for_unknown_variable_is_an_error(tmp_path: Path) -> None:
    p = parse(write(tmp_path, "merge", FULL))
    with pytest.raises(PromptError, match="no variable 'cuont'"):
        render(p, {"cuont": 4})


# --- errors -------------------------------------------------------------------------------

def test_bad_yaml_reports_the_file_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: ok\ntags: [a, b\ncreated: 2025-01-01\n---\nbody\n")
    assert err.line == 4 and "bad YAML" in str(err)
    assert str(err).startswith(f"{tmp_path / 'p.md'}:4: ")
    err = error_of(tmp_path, "---\ntitle: ok\n\n\nsystem: 'unclosed\n---\nbody\n")
    assert err.line >= 5 and "bad YAML" in str(err)


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: t\n\ntemprature: 0.5\n---\nbody\n")
    assert err.line == 4 and "unknown field 'temprature'" in str(err)


@pytest.mark.parametrize(("line", "what"), [
    ("tags: python", "tags"),
    ("tags: [1, 2]", "tags"),
    ("title: [a]", "title"),
    ("title: 2024", "title"),
    ("created: yesterday", "created"),
    ("created: 2025-13-45", "created"),
    ("system: 3", "system"),
    ("variables: [a, b]", "variables"),
    ("variables: {a: [1]}", "variable 'a'"),
    ("variables: {a: }", "variable 'a'"),
    ("max_tokens: 12.5", "max_tokens"),
    ("max_tokens: true", "max_tokens"),
    ("max_tokens: 0", "max_tokens"),
    ("max_tokens: '100'", "max_tokens"),
    ("temperature: 2.5", "temperature"),
    ("temperature: hot", "temperature"),
    ("top_p: 0", "top_p"),
    ("top_p: 1.2", "top_p"),
    ("seed: -1", "seed"),
    ("seed: 1.5", "seed"),
])
def test_wrong_type_or_range_is_reported_at_its_line(tmp_path: Path, line: str, what: str) -> None:
    err = error_of(tmp_path, f"---\ntitle: ok\n{line}\n---\nbody\n")
    assert err.line == 3, str(err)
    assert what in str(err)


def test_missing_closing_dashes(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: t\ntags: [a]\n\nThe prompt text, but no closing line.\n")
    assert err.line == 1 and "never closed" in str(err)


def test_empty_body(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: t\n---\n\n\n## Tests\n```python\nassert 1\n```\n")
    assert err.line == 4 and "no text" in str(err)


def test_duplicate_field(tmp_path: Path) -> None:
    err = error_of(tmp_path, "---\ntitle: a\ntitle: b\n---\nbody\n")
    assert err.line == 3 and "twice" in str(err)


@pytest.mark.parametrize(("tests", "line", "what"), [
    ("## Tests\nno code here\n", 3, "no fenced code block"),
    ("## Tests\n```python\nassert 1\n```\n```python\nassert 2\n```\n", 7, "exactly one"),
    ("## Tests\n```python\nassert 1\n", 4, "never closed"),
])
def test_bad_tests_section(tmp_path: Path, tests: str, line: int, what: str) -> None:
    err = error_of(tmp_path, "Prompt.\n\n" + tests)
    assert (err.line, what in str(err)) == (line, True), str(err)


# --- the library --------------------------------------------------------------------------

def test_user_dir_takes_precedence_by_name(tmp_path: Path) -> None:
    project, user = tmp_path / "project", tmp_path / "user"
    write(project, "shared", "---\ntitle: project version\n---\nold\n")
    write(project, "only-project", "---\ntitle: p\n---\nx\n")
    write(user, "shared", "---\ntitle: user version\n---\nnew\n")
    write(user, "only-user", "---\ntitle: u\n---\ny\n")
    library, errors = load_library([project, user])
    assert errors == []
    assert set(library) == {"shared", "only-project", "only-user"}
    assert library["shared"].title == "user version" and library["shared"].path == user / "shared.md"


def test_malformed_files_are_skipped_and_reported(tmp_path: Path) -> None:
    project, user = tmp_path / "project", tmp_path / "user"
    write(project, "good", "---\ntitle: fine\n---\nx\n")
    write(project, "overridden", "---\ntitle: project\n---\nx\n")
    bad_yaml = write(project, "bad-yaml", "---\ntitle: [unclosed\n---\nx\n")
    bad_field = write(project, "bad-field", "---\ntitel: typo\n---\nx\n")
    missing = write(user, "overridden", "---\ntitle: user\n---\nuses {{nothing}}\n")
    library, errors = load_library([project, user, tmp_path / "does-not-exist"])
    assert set(library) == {"good"}  # a broken user override also hides the project's prompt
    reported = {str(e).split(":")[0] for e in errors}
    assert reported == {str(bad_yaml), str(bad_field), str(missing)}
    assert all(isinstance(e, PromptError) and e.line >= 1 for e in errors)


def test_readme_is_not_a_prompt(tmp_path: Path) -> None:
    write(tmp_path, "README", "# About these prompts\n")
    write(tmp_path, "real", "A prompt.\n")
    library, errors = load_library([tmp_path])
    assert set(library) == {"real"} and errors == []


def test_library_dirs_project_first_then_home(tmp_path: Path) -> None:
    dirs = library_dirs(tmp_path)
    assert dirs == [ROOT / "prompts", tmp_path / "prompts"]
    assert project_prompts_dir() == ROOT / "prompts"


def test_wheel_ships_the_prompts_where_the_package_looks() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["prompts"] == "workbench/_prompts"
    assert any(dep.lower().startswith("pyyaml") for dep in data["project"]["dependencies"])


def test_prompts_module_imports_no_textual() -> None:
    code = "import sys, workbench.prompts; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


# --- resolve and match --------------------------------------------------------------------

def test_resolve_path_name_and_literal(tmp_path: Path) -> None:
    path = write(tmp_path, "mine", "---\ntitle: From a file\n---\nfile text\n")
    library = {"lib-one": parse(write(tmp_path / "lib", "lib-one", "library text\n"))}
    assert resolve(str(path), library).title == "From a file"
    assert resolve("lib-one", library) is library["lib-one"]
    adhoc = resolve("Write a haiku about {{ braces }}", library)
    assert adhoc.name.startswith("adhoc-") and len(adhoc.name) == len("adhoc-") + 8
    assert adhoc.path is None and adhoc.title == "Write a haiku about {{ braces }}"
    assert render(adhoc) == "Write a haiku about {{ braces }}"  # literal text is sent as it is
    assert resolve("Write a haiku about {{ braces }}", library).name == adhoc.name
    assert resolve("something else", library).name != adhoc.name
    with pytest.raises(PromptError):
        render(adhoc, {"braces": "x"})


def test_resolve_missing_md_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="no such prompt file"):
        resolve(str(tmp_path / "nope.md"), {})
    with pytest.raises(PromptError):
        resolve(str(write(tmp_path, "broken", "---\nbogus: 1\n---\nx\n")), {})


def test_match_ranks_title_name_and_tags() -> None:
    def prompt(name: str, title: str, tags: list[str]) -> PromptFile:
        return PromptFile(name=name, path=Path(f"{name}.md"), title=title, body="b", tags=tags)

    library = {p.name: p for p in [
        prompt("lru-cache", "LRU cache with O(1) operations", ["python", "classic"]),
        prompt("hexagon", "Ball bouncing inside a spinning hexagon", ["python", "physics"]),
        prompt("debounce", "Debounce with cancel and flush", ["javascript", "timers"]),
        prompt("streak", "Longest login streak", ["sql", "hard"]),
    ]}
    assert [p.name for p in match("hexagon", library)] == ["hexagon"]
    assert match("cache", library)[0].name == "lru-cache"
    assert [p.name for p in match("physics", library)] == ["hexagon"]
    assert match("bncng hxg", library)[0].name == "hexagon"  # fuzzy subsequence
    assert {p.name for p in match("python", library)} == {"lru-cache", "hexagon"}
    assert [p.name for p in match("python classic", library)] == ["lru-cache"]  # every word must match
    assert match("zzzz", library) == []
    assert len(match("", library)) == 4


# --- the shipped library ------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> dict[str, PromptFile]:
    library, errors = load_library([project_prompts_dir()])
    assert errors == [], [str(e) for e in errors]
    return library


def test_shipped_library_is_big_and_varied(shipped: dict[str, PromptFile]) -> None:
    assert len(shipped) >= 15
    languages = {p.language for p in shipped.values()}
    assert {"python", "javascript", "sql", "bash"} <= languages and len(languages) >= 5
    assert sum(bool(p.variables) for p in shipped.values()) >= 2
    assert any(p.params for p in shipped.values())


def test_shipped_prompts_have_metadata(shipped: dict[str, PromptFile]) -> None:
    for p in shipped.values():
        assert p.title and p.title != p.name, p.name
        assert p.tags and p.language and p.language in p.tags, p.name
        assert isinstance(p.created, dt.date), p.name
        assert render(p) and "{{" not in render(p), p.name
        render_system(p)


def test_shipped_prompts_have_tests_unless_marked(shipped: dict[str, PromptFile]) -> None:
    for p in shipped.values():
        if "no-tests" in p.tags:
            assert p.tests is None, p.name
        else:
            assert p.tests and p.tests_language == p.language, p.name
    assert sum(p.tests is not None for p in shipped.values()) >= 15


def test_shipped_python_tests_compile(shipped: dict[str, PromptFile]) -> None:
    python = [p for p in shipped.values() if p.tests_language == "python"]
    assert len(python) >= 5
    for p in python:
        compile(p.tests, f"{p.name}:tests", "exec")
        assert "def test_" in p.tests, p.name


def test_shipped_tests_follow_their_language_convention(shipped: dict[str, PromptFile]) -> None:
    for p in shipped.values():
        if p.tests is None:
            continue
        if p.tests_language == "javascript":
            assert "require('node:assert')" in p.tests and "require('node:test')" in p.tests, p.name
        elif p.tests_language == "sql":
            assert "-- expected output:" in p.tests.splitlines(), p.name
        elif p.tests_language == "bash":
            assert "answer.sh" in p.tests and "1..$n" in p.tests, p.name
        elif p.tests_language == "rust":
            assert "#[cfg(test)]" in p.tests and "use super::*;" in p.tests, p.name


def test_shipped_library_has_the_public_classics(shipped: dict[str, PromptFile]) -> None:
    titles = " ".join(p.title.lower() for p in shipped.values())
    for word in ("spinning hexagon", "parser", "refactor", "find the bug", "lru", "physics"):
        assert word in titles, word


def test_crlf_files_parse_with_the_same_lines(tmp_path: Path) -> None:
    path = tmp_path / "win.md"
    path.write_bytes(b"---\r\ntitle: t\r\nvariables: {a: 1}\r\n---\r\nline {{a}}\r\n{{b}}\r\n")
    with pytest.raises(PromptError) as info:
        parse(path)
    assert info.value.line == 6
    path.write_bytes(b"---\r\ntitle: t\r\n---\r\nline one\r\nline two\r\n")
    assert parse(path).body == "line one\nline two"


def test_prompt_error_survives_pickling() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(PromptError(Path("a.md"), 3, "bad thing")))
    assert (str(err), err.line) == ("a.md:3: bad thing", 3)


# --- only a regular file of sensible size is read as a prompt ------------------------------------

def test_a_huge_prompt_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "huge", "word " * 300_000)  # 1.5 MB
    with pytest.raises(PromptError) as info:
        parse(path)
    assert str(info.value).startswith(f"{path}:1:") and "MiB" in str(info.value)


def test_a_prompt_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os

    from bounded import python

    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    done = python("from pathlib import Path\nfrom workbench.prompts import PromptError, parse\n"
                  f"try:\n    parse(Path({str(fifo)!r}))\nexcept PromptError as exc:\n    print(exc)\n", timeout=20)
    assert done.returncode == 0 and f"{fifo}:1:" in done.stdout and "not a regular file" in done.stdout, done.stderr

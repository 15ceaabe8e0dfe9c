"""Verifying answers: code extraction, each language's runner against the shipped prompts, and
`workbench check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from servers import assert_one_line
from workbench.cli import main
from workbench.prompts import parse
from workbench.verify import OUTCOMES, Limits, Verdict, extract_code, languages, sandbox, verify

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
runs_code = pytest.mark.skipif(not sandbox.kernel_allows_namespaces(),
                               reason="this machine allows no network/mount/PID namespaces: code is not run")


def fenced(code: str, tag: str = "python") -> str:
    return f"Here you go:\n\n```{tag}\n{code.strip()}\n```\n"


# ── extraction ────────────────────────────────────────────────────────────────────────────────


def test_one_block_in_the_prompts_language():
    assert extract_code(fenced("x = 1"), "python") == "x = 1\n"


@pytest.mark.parametrize("fence, language", [
    ("```py", "python"), ("```python3", "python"), ("~~~python", "python"), ("```{.python}", "python"),
    ("```js", "javascript"), ("```node", "javascript"), ("```javascript", "javascript"),
    ("```sh", "bash"), ("```shell", "bash"), ("```sqlite", "sql"),
])
def test_fence_aliases(fence, language):
    close = fence[:3]
    code = {"python": "x = f(1)", "javascript": "const x = 1;", "bash": "echo hi", "sql": "SELECT 1;"}[language]
    assert extract_code(f"Answer:\n{fence}\n{code}\n{close}\n", language) == code + "\n"


def test_blocks_in_other_languages_are_ignored():
    answer = ("Install first:\n```bash\npip install sortedcontainers\n```\n"
              "Then:\n```python\ndef f():\n    return 1\n```\n")
    assert extract_code(answer, "python") == "def f():\n    return 1\n"
    assert extract_code(answer, "javascript") is None


def test_a_program_split_across_blocks_is_joined():
    answer = ("First the helper:\n```python\nimport heapq\n\ndef smallest(xs):\n"
              "    return heapq.nsmallest(1, xs)\n```\n"
              "Then the function:\n```python\ndef main(xs):\n    return smallest(xs)\n```\n")
    code = extract_code(answer, "python")
    assert "import heapq" in code and "def main(xs)" in code
    assert code.index("def smallest") < code.index("def main")


def test_usage_examples_output_and_transcripts_are_left_out():
    answer = ("```python\ndef double(x):\n    return 2 * x\n```\n\nExample usage:\n\n```python\nprint(double(4))\n```\n"
              "Output:\n```\n8\n```\n\n```python\n>>> double(2)\n4\n```\n")
    assert extract_code(answer, "python") == "def double(x):\n    return 2 * x\n"
    js = ("```js\nfunction inc(x) { return x + 1; }\n```\nUsage:\n```js\nconsole.log(inc(1));\n```\n")
    assert extract_code(js, "javascript") == "function inc(x) { return x + 1; }\n"


def test_the_answers_own_tests_are_left_out():
    answer = ("```python\ndef add(a, b):\n    return a + b\n```\nAnd tests:\n"
              "```python\nfrom solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n```\n")
    assert extract_code(answer, "python") == "def add(a, b):\n    return a + b\n"


def test_a_fixed_version_replaces_the_quoted_buggy_one():
    answer = ("The bug is here:\n```python\ndef top(xs, n):\n    return sorted(xs)[:n]\n```\n"
              "Corrected:\n```python\ndef top(xs, n):\n    return sorted(xs, reverse=True)[:n]\n```\n")
    assert extract_code(answer, "python") == "def top(xs, n):\n    return sorted(xs, reverse=True)[:n]\n"
    bash = ("Broken:\n```bash\n#!/bin/bash\nmv $1 $2\n```\nFixed:\n```bash\n#!/bin/bash\nmv -- \"$1\" \"$2\"\n```\n"
            "Run it:\n```bash\n./fix.sh a b\n```\n")
    assert extract_code(bash, "bash") == '#!/bin/bash\nmv -- "$1" "$2"\n'


def test_sql_runs_the_query_not_the_schema_it_repeats():
    answer = "Schema:\n```sql\nCREATE TABLE t (x INTEGER);\n```\nQuery:\n```sql\nSELECT x FROM t ORDER BY x;\n```\n"
    assert extract_code(answer, "sql") == "SELECT x FROM t ORDER BY x;\n"


def test_untagged_blocks_count_when_they_are_the_language():
    assert extract_code("```\ndef f():\n    return 1\n```", "python") == "def f():\n    return 1\n"
    assert extract_code("```\nThis is just some text about the result.\n```", "python") is None


def test_a_bare_code_file_counts_as_code():
    source = "import sys\n\ndef f(x):\n    return x\n"
    assert extract_code(source, "python") == source
    assert extract_code(source, None) == source
    assert extract_code("I am sorry, but I cannot help with that.", "python") is None
    assert extract_code("Sure", "python") is None  # a lone name compiles, but is not a program


def test_a_fence_left_open_runs_to_the_end():
    assert extract_code("```python\ndef f():\n    return 1", "python") == "def f():\n    return 1\n"


def test_a_fence_indented_in_a_list_item():
    answer = "1. The code:\n\n    ```python\n    def f():\n        return 1\n    ```\n"
    assert extract_code(answer, "python") == "def f():\n    return 1\n"


def test_no_code_at_all():
    assert extract_code("No code here, just words.\n\nAnd more words.", "python") is None
    verdict = verify("I cannot do that.", parse(PROMPTS / "merge-intervals.md"))
    assert verdict.outcome == "no-code" and verdict.language == "python"


def test_code_without_fences_between_prose_is_found():
    from unfenced_answers import PROSE, PYTHON_CODE, PYTHON_WITH_COMMENTS, SMOLLM2_IS_PRIME

    assert extract_code(PYTHON_WITH_COMMENTS, "python") == PYTHON_CODE
    assert extract_code(PYTHON_WITH_COMMENTS, None) == PYTHON_CODE
    assert extract_code(PYTHON_WITH_COMMENTS, "javascript") is None
    assert extract_code(PROSE, "python") is None and extract_code(PROSE, None) is None
    # SmolLM2 left out the opening fence; its stray closing one opened a block of prose: the code is found.
    code = extract_code(SMOLLM2_IS_PRIME, "python")
    assert code.startswith("def is_prime(n):\n") and code.endswith("print(is_prime(13)) # This returns False\n")
    js = "Here:\n\nfunction inc(x) {\n  return x + 1;\n}\n\nThat is it.\n"
    assert extract_code(js, "javascript") == "function inc(x) {\n  return x + 1;\n}\n"


def test_unfenced_code_with_a_fenced_usage_example():
    answer = ("def double(x):\n    return 2 * x\n\nExample usage:\n\n```python\nprint(double(4))\n```\n")
    assert extract_code(answer, "python") == "def double(x):\n    return 2 * x\n"


def test_fenced_answers_ignore_code_shaped_prose_around_the_fences():
    answer = ("Set it up:\n\nx = load()\nprint(x)\n\n```python\ndef f(x):\n    return x\n```\n")
    assert extract_code(answer, "python") == "def f(x):\n    return x\n"


@runs_code
def test_an_unfenced_answer_is_verified():
    from answers import MERGE_INTERVALS

    answer = f"Here is the function:\n{MERGE_INTERVALS}\nIt sorts the intervals, then merges the overlapping ones.\n"
    verdict = verify(answer, parse(PROMPTS / "merge-intervals.md"))
    assert verdict.outcome == "pass" and verdict.language == "python", verdict


# ── runners against the shipped prompts ──────────────────────────────────────────────────────

LRU_GOOD = """
from collections import OrderedDict

class LRUCache:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data = OrderedDict()

    def get(self, key, default=None):
        if key not in self._data:
            return default
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key, value):
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data
"""
LRU_BAD = LRU_GOOD.replace("        self._data.move_to_end(key)\n        return", "        return")

POOL_GOOD = """
function promisePool(tasks, limit) {
  return new Promise((resolve, reject) => {
    if (!Number.isInteger(limit) || limit < 1) { reject(new RangeError('bad limit')); return; }
    const results = new Array(tasks.length);
    let next = 0, running = 0, done = 0, failed = false;
    if (tasks.length === 0) { resolve([]); return; }
    const launch = () => {
      while (!failed && running < limit && next < tasks.length) {
        const i = next++;
        running++;
        let p;
        try { p = Promise.resolve(tasks[i]()); } catch (e) { failed = true; reject(e); return; }
        p.then((v) => {
          results[i] = v; running--; done++;
          if (done === tasks.length) resolve(results); else launch();
        }, (e) => { failed = true; reject(e); });
      }
    };
    launch();
  });
}
"""
POOL_BAD = POOL_GOOD.replace("running < limit", "running <= limit")


@runs_code
def test_python_correct_and_wrong_answers():
    prompt = parse(PROMPTS / "lru-cache.md")
    good = verify(fenced(LRU_GOOD), prompt)
    assert (good.outcome, good.passed, good.total, good.exit_status) == ("pass", 7, 7, 0), good
    assert good.language == "python" and good.isolated_network and good.note is None
    bad = verify(fenced(LRU_BAD), prompt)
    assert bad.outcome == "fail" and bad.total == 7 and 0 < bad.passed < 7
    assert "test_lru_get_refreshes_recency" in bad.note
    assert "FAILED test_lru_get_refreshes_recency" in bad.stderr and "AssertionError" in bad.stderr


@runs_code
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_correct_and_wrong_answers():
    prompt = parse(PROMPTS / "js-promise-pool.md")
    good = verify(fenced(POOL_GOOD, "javascript"), prompt)
    assert (good.outcome, good.passed, good.total) == ("pass", 7, 7), good
    bad = verify(fenced(POOL_BAD, "js"), prompt)
    assert bad.outcome == "fail" and bad.total == 7 and bad.passed < 7
    assert "never runs more than limit tasks" in bad.note


def test_javascript_without_node_has_no_runner(monkeypatch):
    monkeypatch.setattr(languages.shutil, "which", lambda name, path=None: None)
    verdict = verify(fenced(POOL_GOOD, "js"), parse(PROMPTS / "js-promise-pool.md"))
    assert verdict.outcome == "no-runner" and verdict.note.startswith("no runner for node")


SQL_GOOD = """
SELECT d.name, e.name, e.salary
FROM (SELECT e.*, ROW_NUMBER() OVER (PARTITION BY department_id ORDER BY salary DESC, name) AS rn
      FROM employees e) e
JOIN departments d ON d.id = e.department_id
WHERE e.rn <= 2
ORDER BY d.name, e.salary DESC, e.name;
"""
SQL_BAD = SQL_GOOD.replace("rn <= 2", "rn <= 3")


@runs_code
@pytest.mark.parametrize("shell", [True, False], ids=["sqlite3-shell", "python-sqlite3"])
def test_sql_correct_and_wrong_answers(shell, monkeypatch):
    if shell and shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell")
    if not shell:
        real = shutil.which
        monkeypatch.setattr(languages.shutil, "which",
                            lambda name, path=None: None if name == "sqlite3" else real(name, path=path))
    prompt = parse(PROMPTS / "sql-top-n-per-group.md")
    good = verify(fenced(SQL_GOOD, "sql"), prompt)
    assert (good.outcome, good.passed, good.total) == ("pass", 1, 1), good
    bad = verify(fenced(SQL_BAD, "sql"), prompt)
    assert (bad.outcome, bad.passed) == ("fail", 0)
    assert bad.note == "output line 3: expected 'Legal|Olu|70', got 'Engineering|Grace|180'"


@runs_code
def test_bash_correct_and_wrong_answers():
    prompt = parse(PROMPTS / "bash-log-summary.md")
    good_code = ("awk '$9 ~ /^5[0-9][0-9]$/ {c[$1]++} END {for (ip in c) print c[ip], ip}' "
                 "| LC_ALL=C sort -k1,1nr -k2,2 | head -n 3")
    good = verify(fenced(good_code, "bash"), prompt)
    assert (good.outcome, good.passed, good.total) == ("pass", 3, 3), good
    bad = verify(fenced(good_code.replace("$9 ~", "$0 ~"), "bash"), prompt)
    assert bad.outcome == "fail" and bad.total == 3 and bad.passed < 3


def test_other_languages_have_no_runner():
    verdict = verify(fenced('package main\n\nfunc main() { println("hi") }', "go"), None, "go")
    assert verdict.outcome == "no-runner" and verdict.note == "no runner for go"


@runs_code
def test_code_that_does_not_load_is_an_error():
    verdict = verify(fenced("def merge_intervals(xs):\n    return [\n"), parse(PROMPTS / "merge-intervals.md"))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("error", 0, 7)
    assert verdict.note == "the code raised SyntaxError before the tests ran"


@runs_code
def test_a_test_that_hangs_times_out_with_the_passes_so_far():
    code = ("def merge_intervals(xs):\n    if xs == [(4, 4)]:\n        while True:\n            pass\n"
            "    out = []\n    for s, e in sorted(xs):\n        if out and s <= out[-1][1]:\n"
            "            out[-1] = (out[-1][0], max(out[-1][1], e))\n        else:\n            out.append((s, e))\n"
            "    return out\n")
    verdict = verify(fenced(code), parse(PROMPTS / "merge-intervals.md"), limits=Limits(cpu_s=1, wall_s=10))
    assert verdict.outcome == "timeout" and verdict.total == 7
    assert verdict.passed == 3 and "CPU-time limit" in verdict.note  # the three tests before the hang


@runs_code
def test_a_prompt_without_tests_just_runs_the_code():
    verdict = verify(fenced("print('hi')\nraise SystemExit(3)"), None, "python")
    assert (verdict.outcome, verdict.exit_status, verdict.stdout) == ("no-tests", 3, "hi\n")
    assert verdict.note == "exited with status 3"


@runs_code
def test_verdict_as_dict_has_every_field():
    verdict = verify(fenced("print(1)"), None)
    data = verdict.as_dict()
    assert set(data) == {"outcome", "passed", "total", "exit_status", "duration_ms", "stdout", "stderr",
                         "language", "isolated_network", "note"}
    assert data["outcome"] in OUTCOMES and json.loads(json.dumps(data)) == data
    assert Verdict("pass", 5, 5, duration_ms=400).summary() == "pass 5/5 tests · 0.4 s"


# ── workbench check ──────────────────────────────────────────────────────────────────────────


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


@runs_code
def test_check_passes_a_correct_answer(tmp_path: Path):
    answer = tmp_path / "answer.md"
    answer.write_text(fenced(LRU_GOOD))
    result = check(str(answer), "--prompt", "lru-cache")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pass 7/7 tests · ") and result.stdout.endswith(" s\n")


@runs_code
def test_check_fails_a_wrong_answer_with_json(tmp_path: Path):
    answer = tmp_path / "answer.md"
    answer.write_text(fenced(LRU_BAD))
    result = check(str(answer), "--prompt", str(PROMPTS / "lru-cache.md"), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["outcome"] == "fail" and data["total"] == 7 and data["passed"] < 7


@runs_code
def test_check_a_bare_code_file(tmp_path: Path):
    source = tmp_path / "pool.js"
    source.write_text("// no fences, and a line that reads like prose.\n" + POOL_GOOD)
    if shutil.which("node"):
        assert check(str(source), "--prompt", "js-promise-pool").exit_code == 0
    script = tmp_path / "merge.py"
    script.write_text("import sys\nsys.exit(0)\n")
    result = check(str(script), "--prompt", "merge-intervals")
    assert result.exit_code == 1 and result.stdout.startswith("fail 0/7 tests")


@runs_code
def test_check_times_out(tmp_path: Path):
    script = tmp_path / "loop.py"
    script.write_text("import time\nwhile True:\n    time.sleep(1)\n")
    result = check(str(script), "--prompt", "merge-intervals", "--timeout", "1")
    assert result.exit_code == 1 and result.stdout.startswith("timeout 0/7 tests")


@pytest.mark.parametrize("args, message", [
    (["missing.md", "--prompt", "merge-intervals"], "missing.md: cannot read"),
    (["ANSWER", "--prompt", "no-such-prompt"], "no such prompt file or library prompt"),
    (["ANSWER", "--prompt", "missing-file.md"], "missing-file.md:1: no such prompt file"),
])
def test_check_bad_input_is_one_line_and_exit_2(tmp_path: Path, args, message):
    answer = tmp_path / "answer.md"
    answer.write_text(fenced("x = 1"))
    result = check(*[str(answer) if a == "ANSWER" else a for a in args])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("workbench: error: ") and message in result.stderr
    assert_one_line(result.stderr.strip())


def test_check_a_language_without_runner_exits_2(tmp_path: Path):
    answer = tmp_path / "answer.md"
    answer.write_text(fenced('package main\n\nfunc main() { println("hi") }', "go"))
    prompt = tmp_path / "go-hello.md"
    prompt.write_text("---\ntitle: Hello (Go)\nlanguage: go\n---\nWrite a Go program that prints hi.\n")
    result = check(str(answer), "--prompt", str(prompt))
    assert result.exit_code == 2 and result.stdout.startswith("no-runner · no runner for go")

"""`workbench run` as a batch: library names, --repeat, --tag, --var, --json, --resume."""

from __future__ import annotations

import json

from click.testing import CliRunner

from workbench.cli import main


def _run(*args):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


def test_a_batch_of_library_prompts_with_repeats(tmp_path):
    db = str(tmp_path / "log.db")
    result = _run("merge-intervals", "lru-cache", "-m", "smollm2", "--repeat", "2", "--max-tokens", "6",
                  "--json", "--db", db)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert sorted((r["prompt"], r["repeat"]) for r in rows) == [
        ("lru-cache", 0), ("lru-cache", 1), ("merge-intervals", 0), ("merge-intervals", 1)]
    assert all(r["status"] == "complete" and r["model"] == "smollm2" for r in rows)
    # Everything was done: a resume has nothing left to run.
    again = _run("--resume", "1", "--db", db, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == []
    sessions = json.loads(CliRunner().invoke(main, ["sessions", "--json", "--db", db]).stdout)
    assert len(sessions) == 1 and sessions[0]["answers"] == 4


def test_summary_table_and_tag_filter(tmp_path):
    result = _run("--tag", "sql", "-m", "smollm2", "--max-tokens", "4", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 0, result.output
    assert "median TTFT ms" in result.stdout and "smollm2" in result.stdout


def test_bad_inputs_are_one_line(tmp_path):
    db = str(tmp_path / "log.db")
    for args, expected in [
        (["--tag", "no-such-tag", "-m", "smollm2"], "no prompt in the library has the tag"),
        (["hello", "-m", "smollm2", "--var", "novalue"], "expected NAME=VALUE"),
        (["hello"], "choose models with -m"),
        (["--resume", "42", "-m", "smollm2"], "no session #42"),
        (["missing-file.md", "-m", "smollm2"], "no such prompt file"),
    ]:
        result = CliRunner().invoke(main, ["run", *args, "--db", db])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output, (args, lines)

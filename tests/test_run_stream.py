"""`workbench run` on a terminal streams the answers as they come, like `llm`: one model's text as it is;
several models as labelled blocks in the order asked; the figures (and any test verdict) after each.
Model text is untrusted: no escape sequence of it reaches the terminal, even split across tokens."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.batch import Item, Result
from workbench.cli import main
from workbench.core import Answer, Done, Failed, Request, Token, Usage
from workbench.redact import terminal_safe
from workbench.runner import LiveOutput
from workbench.verify import Verdict

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # sets the clipboard: must never reach a terminal


def _answer(index: int = 0, model: str = "m") -> Answer:
    return Answer(index, model, "replay", started_at=1.0)


def test_one_answer_is_printed_as_it_streams_then_its_figures() -> None:
    out = io.StringIO()
    live = LiveOutput(1, out)
    a = _answer()
    live.seen(a, None)
    live.poll()
    assert out.getvalue() == ""  # one model: no header, its text is the output
    a.apply(Token("\n \n"), 1.1)
    live.poll()
    a.apply(Token("Hello"), 1.1)
    a.apply(Token(" wor"), 1.2)
    live.poll()
    assert out.getvalue() == "Hello wor"  # before the answer ended; no blank lines above it
    a.apply(Token("ld\n\n"), 1.3)
    live.poll()
    assert out.getvalue() == "Hello world"  # trailing blank lines wait: the answer may be over
    a.apply(Usage(3, 3), 1.3)
    a.apply(Done("stop"), 1.4)
    live.poll()
    body, figures = out.getvalue().split("\n\n")
    assert body == "Hello world"
    assert figures.startswith("m · replay · complete · TTFT 100 ms") and figures.endswith("\n"), figures
    live.poll()
    assert out.getvalue().count("complete") == 1  # printed once


def test_an_escape_sequence_split_across_tokens_never_reaches_the_terminal() -> None:
    out = io.StringIO()
    live = LiveOutput(1, out)
    a = _answer()
    live.seen(a, None)
    pieces = ["safe ", OSC52[:6], OSC52[6:], " and \x1b[3", "1mred\x1b[0m", " \x9b2J", "end\r\n"]
    for i, piece in enumerate(pieces):
        a.apply(Token(piece), 1.1 + i / 100)
        live.poll()
        assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue() and "\x9b" not in out.getvalue()
    a.apply(Done("stop"), 2.0)
    live.poll()
    body = out.getvalue().split("\n\n")[0]
    assert body == terminal_safe("".join(pieces)).rstrip() == "safe  and red end"


def test_several_answers_are_blocks_in_the_order_asked() -> None:
    out = io.StringIO()
    live = LiveOutput(2, out)
    first, second = _answer(0, "alpha"), _answer(1, "beta")
    live.seen(second, None)
    second.apply(Token("B's answer"), 1.1)
    second.apply(Done("stop"), 1.2)  # the second one is done first: it waits for the first block
    live.poll()
    assert out.getvalue() == ""
    live.seen(first, None)
    first.apply(Token("A's ans"), 1.3)
    live.poll()
    assert out.getvalue() == "── alpha · replay ──\nA's ans"
    first.apply(Token("wer"), 1.4)
    first.apply(Failed("the server went away"), 1.5)
    live.poll()
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["── alpha · replay ──", "A's answer"]
    assert lines[2] == "error: the server went away"
    assert lines[3] == "" and lines[4].startswith("alpha · replay · failed ·")
    assert lines[5:8] == ["", "── beta · replay ──", "B's answer"]
    assert lines[8] == "" and lines[9].startswith("beta · replay · complete ·")


def test_test_verdicts_come_after_the_answers() -> None:
    item = Item("k", "t", Request("p"))
    for count, expected in ((1, ["tests: pass 5/5 tests"]), (2, ["tests · alpha: pass 5/5 tests",
                                                                  "tests · beta: fail 1/5 tests"])):
        out = io.StringIO()
        live = LiveOutput(count, out)
        answers = [_answer(i, name) for i, name in enumerate(("alpha", "beta")[:count])]
        verdicts = [Verdict("pass", passed=5, total=5), Verdict("fail", passed=1, total=5)]
        for a in answers:
            live.seen(a, None)
            a.apply(Token("code"), 1.1)
            a.apply(Done("stop"), 1.2)
        live.finish([Result(item, 0, a, v) for a, v in zip(answers, verdicts)])
        assert out.getvalue().splitlines()[-count:] == expected


# -- the command, with its standard output on a terminal -------------------------------------------------

@pytest.fixture
def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("workbench.runner.stdout_is_tty", lambda: True)


def _replays(home: Path, tmp_path: Path, texts: dict[str, str]) -> None:
    entries = []
    for name, text in texts.items():
        path = tmp_path / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        entries.append(f'[[models]]\nname = "{name}"\nengine = "replay"\npath = "{path}"\ntokens_per_s = 200\n')
    (home / "config.toml").write_text("\n".join(entries))


def _run(*args: str):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


def test_run_on_a_terminal_prints_the_text_then_the_figures(on_a_terminal, workbench_home: Path,
                                                             tmp_path: Path) -> None:
    _replays(workbench_home, tmp_path, {"r": f"print('hi')  # {OSC52}done\n"})
    result = _run("hello", "-m", "r", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 0, result.output
    body, figures = result.stdout.split("\n\n")
    assert body == "print('hi')  # done"
    assert figures.startswith("r · replay · complete · TTFT") and "tok/s" in figures and " tok · " in figures
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_run_on_a_terminal_with_two_models(on_a_terminal, workbench_home: Path, tmp_path: Path) -> None:
    _replays(workbench_home, tmp_path, {"one": "First answer.", "two": "Second\nanswer."})
    result = _run("hello", "-m", "one", "-m", "two", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == ["── one · replay ──", "First answer.", "", lines[3]]
    assert lines[3].startswith("one · replay · complete")
    assert lines[4:9] == ["", "── two · replay ──", "Second", "answer.", ""]
    assert lines[9].startswith("two · replay · complete") and len(lines) == 10


def test_run_json_on_a_terminal_is_unchanged(on_a_terminal, workbench_home: Path, tmp_path: Path) -> None:
    _replays(workbench_home, tmp_path, {"r": "Just JSON."})
    result = _run("hello", "-m", "r", "--json", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["text"] == "Just JSON." and record["status"] == "complete"


def test_run_off_a_terminal_keeps_the_header_first(workbench_home: Path, tmp_path: Path) -> None:
    _replays(workbench_home, tmp_path, {"r": "Piped."})
    result = _run("hello", "-m", "r", "--db", str(tmp_path / "log.db"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [result.stdout.splitlines()[0], "Piped."]
    assert result.stdout.startswith("── r · replay ── complete · TTFT")

"""What providers, answers and files send back is untrusted: keys are redacted, escapes never reach
the terminal, absurd numbers are dropped, and a 200 that is not a stream is a failure that says so.

The faults come from the misbehaving server in tests/servers.py, on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from servers import FAKE_KEY, KEY_ENV, assert_one_line
from workbench.cli import main
from workbench.config import ModelSpec
from workbench.core import Comparison, Request
from workbench.engines.remote import RemoteEngine
from workbench.export import jsonl
from workbench.redact import REDACTED, Redactor, terminal_safe
from workbench.store import Store, open_for_reading

ESCAPES = "\x1b]52;c;ZXZpbCBwYXlsb2Fk\x07\x1b]0;pwned\x1b\\\x1b[2J\x1b[31m"


def remote(server, mode: str, name: str = "remote") -> RemoteEngine:
    return RemoteEngine(ModelSpec(name=name, engine="litellm", model="openai/fake-model",
                                  api_base=server.api_base(mode), api_key_env=KEY_ENV, timeout=10))


def ask(engine, store: Store | None = None):
    recorder = store.start_session("run") if store else None
    comparison = Comparison([engine], Request("hi", max_tokens=8), [recorder.on_event] if recorder else [])
    if recorder:
        recorder.record(comparison)
    comparison.start()
    assert comparison.wait(30)
    return comparison.answers[0]


def log_text(path: Path) -> str:
    """Everything the log holds, as text (every table, every column)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f"SELECT * FROM [{t}]"))
    finally:
        conn.close()


def test_a_key_echoed_in_an_error_body_is_redacted_everywhere(faulty_server, api_key, tmp_path: Path) -> None:
    """A 400 body that repeats the Authorization header: the pane, the log and the export see [redacted]."""
    store = Store(tmp_path / "log.db")
    answer = ask(remote(faulty_server, "echo400"), store)
    store.close()
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)
    assert REDACTED in answer.error
    assert FAKE_KEY not in log_text(tmp_path / "log.db")
    db = open_for_reading(tmp_path / "log.db")
    out = io.StringIO()
    jsonl.write(db, out)
    db.conn.close()
    assert FAKE_KEY not in out.getvalue() and REDACTED in out.getvalue()


def test_a_key_spelled_out_in_an_answer_is_cut_even_across_chunks(faulty_server, api_key, tmp_path: Path) -> None:
    """The key split over two chunks of the answer never reaches the text, the log or the figures."""
    store = Store(tmp_path / "log.db")
    answer = ask(remote(faulty_server, "echokey"), store)
    store.close()
    assert answer.status == "complete", answer.error
    assert answer.text == f"Your key is {REDACTED} — keep it safe."
    assert answer.tokens == 4, "every chunk received is counted, held back or not"
    assert FAKE_KEY not in log_text(tmp_path / "log.db")


def test_absurd_usage_is_dropped_and_the_answer_stands(faulty_server, api_key, tmp_path: Path) -> None:
    """A usage chunk of 1e30 tokens: the answer is complete and logged as such, with our own token count."""
    store = Store(tmp_path / "log.db")
    answer = ask(remote(faulty_server, "hugeusage"), store)
    store.close()
    assert answer.status == "complete", answer.error
    assert answer.text == "Short answer." and answer.completion_tokens is None and answer.count == 1
    conn = sqlite3.connect(tmp_path / "log.db")
    assert conn.execute("SELECT status, text, completion_tokens FROM responses").fetchall() == [
        ("complete", "Short answer.", 1)]
    conn.close()


def test_a_200_that_is_not_a_stream_is_a_failure_naming_the_cause(faulty_server, api_key) -> None:
    """An HTML page or a whole JSON completion with status 200 is not an empty 'complete' answer."""
    for mode in ("html200", "json200"):
        answer = ask(remote(faulty_server, mode))
        assert answer.status == "failed", (mode, answer.status, answer.text)
        assert_one_line(answer.error, FAKE_KEY)
        assert "without a stream of text" in answer.error and mode in answer.error


def test_run_prints_no_escape_sequence_from_an_answer(tmp_path: Path) -> None:
    """`workbench run` on an answer holding OSC 52 / title / clear-screen sequences prints plain text."""
    stored = tmp_path / "evil.md"
    stored.write_text(f"before{ESCAPES}after\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "evil"\nengine = "replay"\npath = "{stored}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "hi", "-m", "evil",
                                       "--db", str(tmp_path / "log.db")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "beforeafter" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    as_json = CliRunner().invoke(main, ["--config", str(config), "run", "hi", "-m", "evil", "--json",
                                        "--db", str(tmp_path / "log.db")], catch_exceptions=False)
    assert "\x1b" not in as_json.stdout, "JSON escapes control characters"
    assert json.loads(as_json.stdout)[0]["text"] == f"before{ESCAPES}after\n", "the record itself is exact"


def test_leaderboard_prints_no_escape_sequence_from_a_battle_file(tmp_path: Path) -> None:
    """Model names in someone else's battle file cannot write to the terminal."""
    battles = tmp_path / "battles.jsonl"
    battles.write_text("".join(json.dumps({"model_a": f"m{ESCAPES}x", "model_b": "plain", "winner": w}) + "\n"
                               for w in ("model_a", "model_b", "model_a", "tie")), encoding="utf-8")
    result = CliRunner().invoke(main, ["leaderboard", "--battles", str(battles), "--rounds", "20", "--min-votes", "1",
                                       "--db", str(tmp_path / "log.db")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "mx" in result.output


def test_terminal_safe_keeps_text_and_drops_controls() -> None:
    """Newlines, tabs and Unicode stay; every escape sequence and control character goes."""
    assert terminal_safe(f"a\tb\nc{ESCAPES}d é 🌱\r\n\x00\x7f\x9b31m") == "a\tb\ncd é 🌱\n"


SECRET = "wb-secret-value-0123456789"


@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=40), after=st.text(max_size=40), cuts=st.lists(st.integers(0, 120), max_size=8))
def test_a_streamed_secret_is_redacted_wherever_the_stream_is_cut(before: str, after: str, cuts: list[int]) -> None:
    """However the text is split into pieces, the stream shows exactly what redacting it whole shows."""
    redactor = Redactor([SECRET])
    text = before + SECRET + after
    stream = redactor.stream()
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    shown = "".join(stream.feed(text[a:b]) for a, b in zip(bounds, bounds[1:])) + stream.flush()
    assert shown == redactor(text)
    assert SECRET not in shown

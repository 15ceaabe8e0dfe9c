"""Stable identities and conversations in the core and the log, driven through the core API.

The log must attribute every answer to the prompt (and turn) it answers, whatever the user did in
between: regenerate, stop, regenerate twice, blind. `id()` was reused once an answer died, so a
regenerated answer's row could land under the next prompt; ids made at creation cannot be.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest

from workbench.core import Cancel, Comparison, Done, Engine, Event, Request, Token, Usage
from workbench.export import jsonl
from workbench.store import Store, open_for_reading


class Echo(Engine):
    """Answers with the prompt it was sent, its own name, a serial number and what its history held."""

    kind = "replay"
    serials = itertools.count()

    def __init__(self, name: str, pause: threading.Event | None = None) -> None:
        super().__init__(name)
        self.pause = pause
        self.seen: list[Request] = []

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        self.seen.append(request)
        serial = next(self.serials)
        said = [m.content for m in request.history if m.role == "assistant"]
        pieces = [f"[{request.prompt}]", f" by {self.name}", f" #{serial}", f" after {len(said)}"]
        for i, piece in enumerate(pieces):
            if i == 2 and self.pause is not None:
                while not self.pause.wait(0.01):
                    if cancel.is_set():
                        break
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            yield Token(piece)
        yield Usage(prompt_tokens=1 + len(request.history), completion_tokens=len(pieces))
        yield Done(finish_reason="stop")


def rows(path: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


VARIANTS = ["plain", "regenerate", "regenerate-twice", "stop", "stop-then-regenerate", "blind-regenerate"]


def test_every_answer_lands_under_its_own_prompt_through_regenerates_and_stops(tmp_path: Path) -> None:
    """66 prompts × six ways of using them: every logged row answers the prompt it sits under."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    gate = threading.Event()
    engines = [Echo("alpha", pause=gate), Echo("beta")]
    expected_rows = {}
    for n in range(66):
        variant = VARIANTS[n % len(VARIANTS)]
        gate.clear()
        comparison = Comparison(engines, Request(f"prompt {n}"), [recorder.on_event])
        recorder.record(comparison, blind=variant.startswith("blind"))
        comparison.start()
        regenerations = {"regenerate": 1, "regenerate-twice": 2, "stop-then-regenerate": 1,
                         "blind-regenerate": 1}.get(variant, 0)
        if variant.startswith("stop"):
            comparison.cancel(0)
        for _ in range(regenerations):
            comparison.regenerate(0)  # while the old answer is held at the gate, or just stopped
        gate.set()
        assert comparison.wait(10)
        expected_rows[f"prompt {n}"] = 2 + regenerations
        del comparison  # the old objects die, as they do when the screen moves on
    store.close()

    path = tmp_path / "log.db"
    for prompt in rows(path, "SELECT id, text FROM prompts"):
        answers = rows(path, "SELECT model_name, text, status, attempt FROM responses WHERE prompt_id = ?",
                       (prompt["id"],))
        assert len(answers) == expected_rows[prompt["text"]], (prompt["text"], [dict(a) for a in answers])
        for answer in answers:
            assert answer["status"] in ("complete", "cancelled"), dict(answer)
            assert answer["text"].startswith(f"[{prompt['text']}] by {answer['model_name']}") or (
                answer["status"] == "cancelled" and f"[{prompt['text']}]".startswith(answer["text"][:1] or "[")
            ), (prompt["text"], dict(answer))
            if answer["text"]:
                assert answer["text"].startswith(f"[{prompt['text']}]"), (prompt["text"], dict(answer))
    assert len(rows(path, "SELECT id FROM prompts")) == 66
    # Once every answer is final, the recorder holds nothing of them.
    assert not recorder._live and not recorder._rows and not recorder._written


def test_ids_are_made_at_creation_and_never_reused() -> None:
    """Comparisons, turns and answers each carry their own id; a regenerate makes a new one."""
    comparison = Comparison([Echo("a"), Echo("b")], Request("q"))
    first = [a.id for a in comparison.answers]
    comparison.start().wait(5)
    again = comparison.regenerate(0)
    comparison.wait(5)
    ids = first + [again.id, comparison.id, comparison.turn.id]
    assert len(set(ids)) == len(ids)
    assert again.comparison_id == comparison.id and again.turn_id == comparison.turn.id
    assert again.attempt == 1


def test_a_follow_up_continues_each_models_own_history(tmp_path: Path) -> None:
    """Turn 2 is built from each model's own turn-1 answer, logged as turn 2 with its parent rows."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    alpha, beta = Echo("alpha"), Echo("beta")
    comparison = Comparison([alpha, beta], Request("first", system="be brief", max_tokens=64), [recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait(5)
    with pytest.raises(RuntimeError):
        busy = Comparison([Echo("slow", pause=threading.Event())], Request("x"))
        busy.start()
        busy.follow_up("too soon")
    busy.cancel()
    turn = comparison.follow_up("second", start=False)
    recorder.record(comparison)
    comparison.start().wait(5)
    assert turn.index == 1 and len(comparison.turns) == 2

    for engine, other in ((alpha, "beta"), (beta, "alpha")):
        request = engine.seen[-1]
        assert request.prompt == "second" and request.system == "be brief" and request.max_tokens == 64
        assert [m.role for m in request.history] == ["user", "assistant"]
        assert request.history[0].content == "first"
        assert f"by {engine.name}" in request.history[1].content and other not in request.history[1].content
        assert request.messages()[0] == {"role": "system", "content": "be brief"}
        assert request.messages()[-1] == {"role": "user", "content": "second"}
    assert all(a.text.endswith("after 1") for a in comparison.answers)

    recorder.cast(comparison, "winner", 1).result(5)
    store.close()
    path = tmp_path / "log.db"
    prompts = rows(path, "SELECT id, turn, conversation, parent_id FROM prompts ORDER BY id")
    assert [p["turn"] for p in prompts] == [1, 2]
    assert prompts[0]["conversation"] == prompts[1]["conversation"] == comparison.id
    assert prompts[1]["parent_id"] == prompts[0]["id"]
    second = rows(path, "SELECT r.model_name, p2.model_name AS parent_model, p2.prompt_id AS parent_prompt "
                        "FROM responses r JOIN responses p2 ON p2.id = r.parent_response_id "
                        "WHERE r.prompt_id = ?", (prompts[1]["id"],))
    assert sorted((r["model_name"], r["parent_model"], r["parent_prompt"]) for r in second) == [
        ("alpha", "alpha", prompts[0]["id"]), ("beta", "beta", prompts[0]["id"])]
    votes = rows(path, "SELECT prompt_id FROM votes")
    assert [v["prompt_id"] for v in votes] == [prompts[1]["id"]], "a vote belongs to the turn it judged"

    db = open_for_reading(path)
    try:
        import io

        out = io.StringIO()
        jsonl.write(db, out)
    finally:
        db.conn.close()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(r["turn"] for r in records) == [1, 1, 2, 2]
    assert {r["prompt"]["conversation"] for r in records} == {comparison.id}
    assert all(r["parent_response_id"] for r in records if r["turn"] == 2)


def test_a_local_model_hears_its_own_history(smollm2) -> None:
    """SmolLM2 through the real worker: the follow-up's prompt holds the first turn (more prompt tokens)."""
    from workbench.engines.local import LocalEngine

    engine = LocalEngine(smollm2, n_threads=2)
    try:
        comparison = Comparison([engine], Request("Name a colour.", max_tokens=12, temperature=0))
        comparison.start().wait(60)
        first = comparison.answers[0]
        assert first.status == "complete", first.error
        comparison.follow_up("Name another one.")
        comparison.start().wait(60)
        second = comparison.answers[0]
        assert second.status == "complete", second.error
        assert second.prompt_tokens > first.prompt_tokens + first.count, (first.prompt_tokens, second.prompt_tokens)
        assert second.request.history[1].content == first.text
    finally:
        engine.close()


def test_run_json_carries_the_turn(tmp_path: Path) -> None:
    """`workbench run --json` says which turn each answer is (1 for a single prompt)."""
    from click.testing import CliRunner

    from workbench.cli import main

    stored = tmp_path / "stored.md"
    stored.write_text("A stored answer.\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "stored"\nengine = "replay"\npath = "{stored}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "hello", "-m", "stored", "--json",
                                       "--db", str(tmp_path / "log.db")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["turn"] == 1 and records[0]["text"] == "A stored answer.\n"


def test_a_regenerate_before_the_start_runs_each_answer_once(tmp_path: Path) -> None:
    """Regenerating a pane before its model started: the new answer runs once, the old one ends cancelled."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    comparison = Comparison([Echo("alpha"), Echo("beta")], Request("early"), [recorder.on_event])
    recorder.record(comparison)
    fresh = comparison.regenerate(0)  # the UI allows `r` before the models start (they start a frame later)
    comparison.start()
    assert comparison.wait(5)
    assert fresh.text.startswith("[early] by alpha") and fresh.tokens == 4, fresh.text
    store.close()
    assert [(r["attempt"], r["status"]) for r in rows(tmp_path / "log.db",
            "SELECT attempt, status FROM responses WHERE model_name = 'alpha' ORDER BY attempt")] == [
        (0, "cancelled"), (1, "complete")]
    assert not recorder._live and not recorder._rows


def test_a_comparison_dropped_before_it_started_leaves_no_streaming_row(tmp_path: Path) -> None:
    """Two prompts sent within one frame: the first never runs, and its rows end cancelled, not streaming."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    first = Comparison([Echo("alpha"), Echo("beta")], Request("first"), [recorder.on_event])
    recorder.record(first)
    first.cancel()  # what the screen does to the comparison on screen when a new prompt is sent
    second = Comparison([Echo("alpha"), Echo("beta")], Request("second"), [recorder.on_event])
    recorder.record(second)
    second.start().wait(5)
    store.close()
    statuses = rows(tmp_path / "log.db", "SELECT p.text, r.status FROM responses r JOIN prompts p "
                                         "ON p.id = r.prompt_id ORDER BY r.id")
    assert [tuple(r) for r in statuses] == [("first", "cancelled")] * 2 + [("second", "complete")] * 2
    assert not recorder._live and not recorder._rows


def test_recording_a_turn_after_it_started_is_refused() -> None:
    """The rule that keeps rows right (record, then start) is enforced, not only written down."""
    store_less = Comparison([Echo("alpha")], Request("q"))
    store_less.start().wait(5)
    from workbench.store.writer import Recorder

    with pytest.raises(RuntimeError, match="record a turn before starting it"):
        Recorder.record(object.__new__(Recorder), store_less)
    store_less.follow_up("again")
    assert not store_less.started, "a follow-up waits for the caller to record it, then start it"

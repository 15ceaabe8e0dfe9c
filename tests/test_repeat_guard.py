"""The repetition guard (issue 12, "Base models labelled"): an answer stuck in a loop is stopped in the
core for every engine, keeps its text, ends once with finish reason `repeating`, and says
`stopped: repeating` in the pane's figures, the log and the exports."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path
from typing import Iterator


from workbench.config import ModelSpec
from workbench.core import (REPEAT_GUARD_DEFAULT, REPEATING, Cancel, Comparison, Done, Engine, Event, Failed, Request,
                            RepeatGuard, Token, Usage)
from workbench.export import csv as csv_export
from workbench.export import jsonl, markdown
from workbench.figures import blind_summary, shown_status, summary
from workbench.store import Store, open_for_reading


class Looping(Engine):
    """A base model stuck on one line: a preamble, then `line` forever, until it is cancelled."""

    kind = "replay"
    mode = "completion"

    def __init__(self, name: str = "looper", line: str = '    print("hello")\n', preamble: str = "def hello():\n",
                 pieces_per_line: int = 3) -> None:
        super().__init__(name)
        self.line, self.preamble, self.pieces_per_line = line, preamble, pieces_per_line
        self.sent = 0
        self.saw_cancel = threading.Event()
        self.finished = threading.Event()

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        try:
            yield Token(self.preamble)
            step = max(1, len(self.line) // self.pieces_per_line)
            pieces = [self.line[i:i + step] for i in range(0, len(self.line), step)]
            deadline = time.monotonic() + 10  # a guard that never trips fails the test, not the run
            while time.monotonic() < deadline:
                for piece in pieces:
                    if cancel.is_set():
                        self.saw_cancel.set()
                        yield Token("late piece after the cancel")  # dropped: the answer has ended
                        yield Usage(prompt_tokens=7, completion_tokens=999)  # counts the late pieces too
                        yield Done(finish_reason="cancelled", cancelled=True)
                        return
                    self.sent += 1
                    yield Token(piece)
            yield Done(finish_reason="length")
        finally:
            self.finished.set()


class Scripted(Engine):
    """Streams a fixed text in small pieces, then stops as a model does."""

    kind = "replay"

    def __init__(self, name: str, text: str, mode: str = "completion", guard: int | None = None) -> None:
        super().__init__(name)
        self.text, self._mode, self._guard = text, mode, guard

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def repeat_guard(self) -> int:
        return self._guard if self._guard is not None else super().repeat_guard

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        for i in range(0, len(self.text), 5):
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            yield Token(self.text[i:i + 5])
        yield Usage(prompt_tokens=3, completion_tokens=len(self.text) // 5 + 1)
        yield Done(finish_reason="stop")


def run(engine: Engine, prompt: str = "go") -> tuple[Comparison, list[Event]]:
    events: list[Event] = []
    comparison = Comparison([engine], Request(prompt), [lambda a, e: events.append(e)]).start()
    assert comparison.wait(15), comparison.answers[0].status
    return comparison, events


def guard_trips(text: str, limit: int = 4, piece: int = 3) -> bool:
    guard = RepeatGuard(limit)
    return any(guard.feed(text[i:i + piece]) for i in range(0, len(text), piece))


# -- the rule ---------------------------------------------------------------------------------------

def test_the_same_line_four_times_trips_on_the_fourth() -> None:
    line = '    print("hello")\n'
    assert not guard_trips("def hello():\n" + line * 3)
    assert guard_trips("def hello():\n" + line * 4)
    assert not guard_trips(line * 3 + line.rstrip("\n"))  # the fourth is not finished yet
    assert guard_trips(line * 2, limit=2) and not guard_trips(line * 9, limit=10)


def test_a_short_cycle_of_lines_trips() -> None:
    paragraph = "The cat sat on the mat.\nIt was a sunny day.\n\n"
    assert guard_trips("Once upon a time.\n" + paragraph * 4)
    assert not guard_trips("Once upon a time.\n" + paragraph * 3)
    block = "".join(f"line number {c} of the block\n" for c in "abcdefgh")  # 8 lines: the longest cycle
    assert guard_trips(block * 4)
    nine = "".join(f"line number {c} of the block\n" for c in "abcdefghi")
    assert not guard_trips(nine * 4)


def test_blank_short_and_closing_lines_do_not_count() -> None:
    code = (
        "function a() {\n    if (x) {\n        if (y) {\n            run();\n        }\n    }\n}\n\n\n\n\n"
        "<div>\n  <div>\n    <div>\n      <p>hi there</p>\n    </div>\n  </div>\n</div>\n</div>\n</div>\n"
        "end\nend\nend\nend\nend\n    ]\n    ]\n    ]\n    ]\n});\n});\n});\n});\n- jam\n- jam\n- jam\n- jam\n"
        "\n\n\n\n\n\n"
    )
    assert not guard_trips(code)


def test_a_count_is_not_a_loop() -> None:
    assert not guard_trips("".join(f"{i}. apples\n" for i in range(1, 60)))
    assert not guard_trips("".join(f'    print(f"Hello, {i}!")\n' for i in range(60)))


def test_skipped_lines_neither_count_nor_break_a_run() -> None:
    assert guard_trips("    do_the_thing()\n}\n\n" * 4)


def test_off_means_off() -> None:
    assert not guard_trips('print("hello")\n' * 100, limit=0)
    guard = RepeatGuard(1)  # taken as 2: a line always comes once
    assert not guard.feed('print("hello")\n') and guard.feed('print("hello")\n')


# -- through the core, for any engine ----------------------------------------------------------------

def test_a_looping_answer_is_stopped_as_repeating_and_keeps_its_text() -> None:
    engine = Looping()
    comparison, events = run(engine)
    answer = comparison.answers[0]
    assert answer.status == "complete" and answer.finish_reason == REPEATING == "repeating"
    assert answer.text == 'def hello():\n' + '    print("hello")\n' * REPEAT_GUARD_DEFAULT
    assert "late piece" not in answer.text
    assert answer.prompt_tokens == 7  # reported as the engine wound down: kept
    assert answer.count == answer.tokens == 1 + engine.sent  # the text kept, not the engine's 999
    assert engine.saw_cancel.is_set(), "the engine was not told to stop"
    assert engine.finished.is_set(), "the engine's stream was not run to its end (drained)"
    assert engine.sent < 40, "generation went on after the guard tripped"
    endings = [e for e in events if isinstance(e, (Done, Failed))]
    assert endings == [Done(finish_reason="repeating")]  # exactly one ending
    assert events[-2:] == [Usage(prompt_tokens=7), endings[0]]
    assert answer.ended_at >= answer.last_at
    assert shown_status(answer.status, answer.finish_reason) == "stopped: repeating"
    assert summary(answer).startswith("stopped: repeating · ")
    assert blind_summary(answer).startswith("stopped: repeating · ")
    record = answer.as_dict()
    assert record["status"] == "complete" and record["finish_reason"] == "repeating"
    assert record["truncated"] is False and record["text"] == answer.text


def test_a_non_repeating_answer_is_untouched() -> None:
    text = "".join(f"line {i}: something different each time\n" for i in range(40)) + "}\n}\n}\n}\n\n\n\n"
    comparison, events = run(Scripted("base", text))
    answer = comparison.answers[0]
    assert answer.status == "complete" and answer.finish_reason == "stop"
    assert answer.text == text


def test_off_by_default_for_chat_models_on_for_completion_models() -> None:
    loop = "Sure! Here it is.\n" * 12
    chat, _ = run(Scripted("chat", loop, mode="chat"))
    assert chat.answers[0].finish_reason == "stop" and chat.answers[0].text == loop
    base, _ = run(Scripted("base", loop, mode="completion"))
    assert base.answers[0].finish_reason == "repeating"
    assert base.answers[0].text.startswith("Sure! Here it is.\n" * REPEAT_GUARD_DEFAULT)  # and the rest of
    assert base.answers[0].text.count("\n") == REPEAT_GUARD_DEFAULT  # the piece that ended the fourth line
    off, _ = run(Scripted("off", loop, mode="completion", guard=0))
    assert off.answers[0].finish_reason == "stop" and off.answers[0].text == loop
    on, _ = run(Scripted("on", loop, mode="chat", guard=3))
    assert on.answers[0].finish_reason == "repeating" and on.answers[0].text.count("\n") == 3


def test_the_engine_mode_and_guard_from_the_config_entry() -> None:
    class FromSpec(Engine):
        def __init__(self, spec: ModelSpec, mode: str) -> None:
            super().__init__(spec.name)
            self.spec, self._mode = spec, mode

        @property
        def mode(self) -> str:
            return self._mode

    assert Engine("plain").mode == "chat" and Engine("plain").repeat_guard == 0
    unset = ModelSpec(name="m", engine="replay", path="x")
    assert FromSpec(unset, "completion").repeat_guard == REPEAT_GUARD_DEFAULT == 4
    assert FromSpec(unset, "chat").repeat_guard == 0
    assert FromSpec(ModelSpec(name="m", engine="replay", path="x", repeat_guard=0), "completion").repeat_guard == 0
    assert FromSpec(ModelSpec(name="m", engine="replay", path="x", repeat_guard=6), "chat").repeat_guard == 6


def test_a_stop_and_a_regenerate_still_end_each_answer_once() -> None:
    """The guard's ending and a user's cancel or regenerate do not give an answer two endings."""
    endings: dict[str, list[Event]] = {}

    def on(answer, event):
        if isinstance(event, (Done, Failed)):
            endings.setdefault(answer.id, []).append(event)

    engine = Looping(pieces_per_line=1)
    comparison = Comparison([engine], Request("go"), [on]).start()
    comparison.cancel()  # may land before, during or after the guard trips
    again = comparison.regenerate(0)
    assert comparison.wait(15)
    assert again.finish_reason == "repeating"
    assert all(len(e) == 1 for e in endings.values()) and len(endings) == 2, endings


# -- the log and the exports ---------------------------------------------------------------------------

def test_a_repeating_answer_is_logged_and_exported_as_such(tmp_path: Path) -> None:
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    comparison = Comparison([Looping("looper"), Scripted("fine", "all good\n")], Request("go"), [recorder.on_event])
    recorder.record(comparison)
    comparison.start()
    assert comparison.wait(15)
    store.close()
    db = open_for_reading(tmp_path / "log.db")
    try:
        out = io.StringIO()
        jsonl.write(db, out)
        records = {r["model_name"]: r for r in map(json.loads, out.getvalue().splitlines())}
        assert records["looper"]["status"] == "complete" and records["looper"]["finish_reason"] == "repeating"
        assert records["looper"]["text"].count('print("hello")') == REPEAT_GUARD_DEFAULT
        assert records["looper"]["truncated"] is False
        assert records["fine"]["finish_reason"] == "stop"
        out = io.StringIO()
        csv_export.write(db, out)
        rows = {r["model_name"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
        assert rows["looper"]["finish_reason"] == "repeating"
        out = io.StringIO()
        markdown.write(db, out)
        assert "stopped: repeating" in out.getvalue()
    finally:
        db.conn.close()


def test_an_engine_object_without_the_new_properties_runs_unguarded() -> None:
    """Engines written before the guard (or duck-typed ones in tests) are left alone, not failed."""

    class Bare:
        name = "bare"

        def where(self) -> str:
            return "here"

        def identity(self):
            return None

        def stream(self, request, cancel):
            yield Token("Sure! Here it is.\n" * 6)
            yield Done(finish_reason="stop")

    comparison, _ = run(Bare())  # type: ignore[arg-type]
    assert comparison.answers[0].finish_reason == "stop"

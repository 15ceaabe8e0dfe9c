"""Quitting mid-answer: the stopped answers are logged as cancelled (with their text so far) before exit."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from workbench.core import Cancel, Comparison, Engine, Event, Request, Token
from workbench.engines.replay import ReplayEngine
from workbench.store import Store


class Deaf(Engine):
    """Streams two pieces, then ignores the cancel (a hosted request stuck in a read)."""

    kind = "replay"

    def __init__(self) -> None:
        super().__init__("deaf")
        self.release = threading.Event()

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        yield Token("half ")
        yield Token("an answer")
        self.release.wait(30)


def test_answers_stopped_by_a_quit_are_logged_cancelled_not_streaming(tmp_path: Path) -> None:
    """One answer that stops on the cancel and one that never does: both rows end `cancelled`, text kept."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    deaf = Deaf()
    slow = ReplayEngine("slow", "word " * 500, delays=[0.01] * 500)
    comparison = Comparison([slow, deaf], Request("q"), [recorder.on_event])
    recorder.record(comparison)
    comparison.start()
    while comparison.answers[1].tokens < 2 or comparison.answers[0].tokens < 5:
        threading.Event().wait(0.01)
    comparison.cancel()  # what quitting the app does
    recorder.close(wait_s=1.0)
    store.close()
    deaf.release.set()
    conn = sqlite3.connect(tmp_path / "log.db")
    try:
        rows = conn.execute("SELECT model_name, status, text FROM responses ORDER BY position").fetchall()
    finally:
        conn.close()
    assert [(m, s) for m, s, _ in rows] == [("slow", "cancelled"), ("deaf", "cancelled")]
    assert rows[0][2].startswith("word word") and rows[1][2] == "half an answer"

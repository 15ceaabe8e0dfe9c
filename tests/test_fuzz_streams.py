"""Hypothesis against the hosted engine: whatever an OpenAI-compatible server streams back, the answer
ends once, as complete or as failed with one line (no traceback, no hang, no key), and a log row that
was written before it is never changed.

The bytes come from the misbehaving server of tests/servers.py (its `script` mode) on 127.0.0.1,
through the real litellm client.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers import FAKE_KEY, KEY_ENV, assert_one_line
from workbench.config import ModelSpec
from workbench.core import Comparison, Request
from workbench.engines.remote import RemoteEngine
from workbench.store import Store

CHUNK = st.fixed_dictionaries({
    "id": st.just("chatcmpl-fuzz"),
    "object": st.sampled_from(["chat.completion.chunk", "chat.completion", "junk"]),
    "model": st.one_of(st.just("fake-model"), st.text(max_size=20)),
    "choices": st.lists(st.fixed_dictionaries({
        "index": st.integers(-1, 3),
        "delta": st.fixed_dictionaries({}, optional={
            "content": st.one_of(st.none(), st.text(max_size=30), st.integers()),
            "role": st.sampled_from(["assistant", "user", ""])}),
        "finish_reason": st.one_of(st.none(), st.sampled_from(["stop", "length", "weird"]))}), max_size=2),
}, optional={"usage": st.fixed_dictionaries({
    "prompt_tokens": st.one_of(st.integers(-5, 10**20), st.floats(allow_nan=True)),
    "completion_tokens": st.one_of(st.integers(-5, 10**20), st.floats(allow_nan=True))})})

PIECE = st.one_of(
    CHUNK.map(lambda c: b"data: " + json.dumps(c).encode() + b"\n\n"),
    st.just(b"data: [DONE]\n\n"),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: f"data: {t}\n\n".encode()),
    st.just(b": keep-alive\n\n"),
    st.just(f"data: {json.dumps({'error': {'message': f'echo Bearer {FAKE_KEY}'}})}\n\n".encode()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(PIECE, max_size=8))
def test_any_stream_ends_once_with_one_line_and_no_key(faulty_server, api_key, tmp_path: Path, script) -> None:
    """Any body a server streams: one ending, complete or failed (one line), no key, earlier rows untouched."""
    faulty_server.script = script
    log = tmp_path / f"fuzz-{time.monotonic_ns()}.db"
    store = Store(log)
    recorder = store.start_session("run")
    engine = RemoteEngine(ModelSpec(name="fuzz", engine="litellm", model="openai/fake-model",
                                    api_base=faulty_server.api_base("script"), api_key_env=KEY_ENV, timeout=5))
    endings = []
    earlier = Comparison([engine], Request("first", max_tokens=8), [recorder.on_event])
    recorder.record(earlier)
    faulty_server.script = [b"data: " + json.dumps({"id": "x", "object": "chat.completion.chunk", "model": "m",
                            "choices": [{"index": 0, "delta": {"content": "kept"}, "finish_reason": "stop"}]}).encode()
                            + b"\n\n", b"data: [DONE]\n\n"]
    earlier.start()
    assert earlier.wait(20)
    store.flush()
    before = sqlite3.connect(log).execute("SELECT * FROM responses").fetchall()

    faulty_server.script = script
    comparison = Comparison([engine], Request("hi", max_tokens=8),
                            [recorder.on_event, lambda a, e: endings.append(e) if a.finished else None])
    recorder.record(comparison)
    started = time.monotonic()
    comparison.start()
    assert comparison.wait(30), "the answer did not end"
    assert time.monotonic() - started < 30
    answer = comparison.answers[0]
    store.close()
    assert len(endings) == 1 and answer.status in ("complete", "failed"), (answer.status, endings)
    if answer.status == "failed":
        assert_one_line(answer.error, FAKE_KEY)
    assert FAKE_KEY not in answer.text
    conn = sqlite3.connect(log)
    try:
        rows = conn.execute("SELECT * FROM responses ORDER BY id").fetchall()
        statuses = [r[0] for r in conn.execute("SELECT status FROM responses ORDER BY id")]
    finally:
        conn.close()
    assert rows[0] == before[0], "an earlier row changed"
    assert statuses == ["complete", answer.status]

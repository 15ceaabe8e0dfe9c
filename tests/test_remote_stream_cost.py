"""What a hosted answer costs per streamed chunk: litellm makes the request, but does no work per chunk that
nobody uses (a logging thread's event loop, a rebuilt response object); usage is still reported."""

from __future__ import annotations

import json

import pytest

from servers import KEY_ENV, chunk
from workbench.config import ModelSpec
from workbench.core import Cancel, Done, Request, Token, Usage
from workbench.engines.remote import RemoteEngine, import_litellm

CHUNKS = 200


def script(usage: bool) -> list[bytes]:
    events = [chunk(f" w{i}") for i in range(CHUNKS)] + [chunk(finish="stop")]
    if usage:
        events.append({**chunk(), "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": CHUNKS,
                                                             "total_tokens": 9 + CHUNKS}})
    return [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


def stream(faulty_server, model: str = "openai/fake-model") -> list:
    engine = RemoteEngine(ModelSpec(name="cost", engine="litellm", model=model,
                                    api_base=faulty_server.api_base("script"), api_key_env=KEY_ENV, timeout=10))
    return list(engine.stream(Request("hi", max_tokens=CHUNKS + 10), Cancel()))


@pytest.fixture
def per_chunk_work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of litellm's per-chunk work: jobs for its logging threads, and chunks it rebuilt."""
    import_litellm()
    from litellm.litellm_core_utils import streaming_handler

    counts = {"logging_jobs": 0, "rebuilt_chunks": 0}
    submit = streaming_handler.executor.submit
    creator = streaming_handler.CustomStreamWrapper.chunk_creator

    def counted_submit(fn, *args, **kwargs):
        counts["logging_jobs"] += 1
        return submit(fn, *args, **kwargs)

    def counted_creator(self, *args, **kwargs):
        counts["rebuilt_chunks"] += 1
        return creator(self, *args, **kwargs)

    monkeypatch.setattr(streaming_handler.executor, "submit", counted_submit)
    monkeypatch.setattr(streaming_handler.CustomStreamWrapper, "chunk_creator", counted_creator)
    return counts


def test_a_hosted_stream_does_no_litellm_work_per_chunk(faulty_server, api_key, per_chunk_work) -> None:
    faulty_server.script = script(usage=True)
    events = stream(faulty_server)
    assert "".join(e.text for e in events if isinstance(e, Token)) == "".join(f" w{i}" for i in range(CHUNKS))
    assert [(u.prompt_tokens, u.completion_tokens) for u in events if isinstance(u, Usage)] == [(9, CHUNKS)]
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop" and events[-1].model_id == "fake-model"
    # Before: one logging job (an event loop on a `litellm-logging` thread) and one rebuilt chunk per chunk.
    assert per_chunk_work["logging_jobs"] <= 2, per_chunk_work
    assert per_chunk_work["rebuilt_chunks"] <= 2, per_chunk_work


def test_usage_is_counted_by_litellm_when_the_server_sends_none(faulty_server, api_key, per_chunk_work) -> None:
    faulty_server.script = script(usage=False)
    events = stream(faulty_server, "openai/gpt-4o-mini")
    usage = [u for u in events if isinstance(u, Usage)]
    assert len(usage) == 1 and usage[0].prompt_tokens > 0 and usage[0].completion_tokens >= CHUNKS
    assert usage[0].price is not None  # a listed model: priced from litellm's map
    assert isinstance(events[-1], Done) and events[-1].model_id == "gpt-4o-mini"
    assert per_chunk_work["rebuilt_chunks"] <= 2, per_chunk_work


def event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


USAGE = {**chunk(), "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
SCRIPTS = {
    "plain": [event(chunk("Hi")), event(chunk(" you")), event(chunk(finish="stop")), event(USAGE), b"data: [DONE]\n\n"],
    "no usage, no [DONE]": [event(chunk("Hi")), event(chunk(finish="length"))],
    "no finish": [event(chunk("Hi")), event(chunk(" you")), b"data: [DONE]\n\n"],
    "abort": [event(chunk("Hi")), event(chunk(finish="abort"))],
    "odd finish": [event(chunk("Hi")), event(chunk(finish="eos")), event(USAGE)],
    "error event": [event(chunk("Hi")), event({"error": {"message": "model crashed"}})],
    "named error event": [event(chunk("Hi")), b"event: error\n" + event({"error": {"message": "bad"}})],
    "huge usage after the end": [event(chunk("Hi")), event(chunk(finish="stop")),
                                 event({**USAGE, "usage": {"prompt_tokens": 1e30, "completion_tokens": 1e30}})],
    "huge usage before the end": [event(chunk("Hi")), event({**USAGE, "usage": {"prompt_tokens": 1e30}}),
                                  event(chunk(finish="stop"))],
    "no chunk": [],
    "not json": [b"data: {nonsense\n\n", event(chunk("Hi"))],
    "usage only": [event(USAGE)],
    "content not text": [event({**chunk(), "choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": None}]}),
                         event(chunk(finish="stop"))],
    "reasoning": [event({**chunk(), "choices": [{"index": 0, "delta": {"reasoning_content": "hmm, so"},
                                                 "finish_reason": None}]}),
                  event(chunk("Hi")), event(chunk(finish="stop"))],
    "keep-alive and fingerprint": [b": keep-alive\n\n", event({**chunk("Hi"), "system_fingerprint": "fp_1"}),
                                   event(chunk(finish="stop"))],
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_what_the_engine_reads_is_what_litellm_would_give(faulty_server, api_key, monkeypatch, name) -> None:
    """Each stream, read from under litellm's wrapper and through it: the same events, the same error."""
    import workbench.engines.remote as remote

    faulty_server.script = SCRIPTS[name]
    fast = [repr(e) for e in stream(faulty_server, "openai/gpt-4o-mini")]
    monkeypatch.setattr(remote, "_chunks", lambda litellm, response, messages: response)  # litellm's wrapper
    slow = [repr(e) for e in stream(faulty_server, "openai/gpt-4o-mini")]
    assert fast == slow

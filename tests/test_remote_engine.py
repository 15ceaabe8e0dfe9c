"""engines/remote.py through litellm: a real llama_cpp.server for answers, a faulty one for faults."""

from __future__ import annotations

import json
import time

import pytest

from servers import FAKE_KEY, KEY_ENV, assert_one_line, free_port
from workbench.core import Answer, Comparison
from workbench.config import ModelSpec
from workbench.core import Cancel, Done, Event, Failed, Request, Token, Usage
from workbench.engines.remote import RemoteEngine

LONG = "Count from 1 to 500, one number per line, and nothing else."


def spec(api_base: str, timeout: float = 30.0, key_env: str | None = KEY_ENV, name: str = "remote") -> ModelSpec:
    return ModelSpec(name=name, engine="litellm", model="openai/smollm2", api_base=api_base,
                     api_key_env=key_env, timeout=timeout)


def compare(engine: RemoteEngine, request: Request, limit_s: float = 60.0) -> tuple[Answer, list[Event], float]:
    """Run one engine through the headless core; (answer, events, seconds)."""
    events: list[Event] = []
    comparison = Comparison([engine], request, [lambda _a, e: events.append(e)])
    started = time.monotonic()
    comparison.start()
    assert comparison.wait(limit_s), f"still {comparison.answers[0].status} after {limit_s} s"
    return comparison.answers[0], events, time.monotonic() - started


def test_real_server_streams_an_answer(llama_server, api_key: str) -> None:
    engine = RemoteEngine(spec(llama_server.base_url))
    assert engine.where() == llama_server.base_url.split("//")[1].split("/")[0]
    answer, events, _ = compare(engine, Request("Write a Python function is_prime(n).", max_tokens=24,
                                                temperature=0, seed=7))
    assert answer.status == "complete", answer.error
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) >= 5  # streamed piece by piece, not in one lump
    assert answer.text == "".join(t.text for t in tokens)
    assert answer.text.strip()
    usages = [e for e in events if isinstance(e, Usage)]
    assert usages and 0 < usages[-1].completion_tokens <= 24
    assert usages[-1].prompt_tokens and usages[-1].prompt_tokens > 5
    assert isinstance(events[-1], Done) and not events[-1].cancelled
    assert answer.finish_reason in ("length", "stop")
    assert answer.completion_tokens == usages[-1].completion_tokens
    assert answer.ttft_ms is not None and answer.ttft_ms > 0
    assert answer.tokens_per_s is not None and answer.tokens_per_s > 0
    assert answer.model_id == "smollm2"


def test_system_prompt_and_parameters_reach_the_server(faulty_server, api_key: str) -> None:
    before = len(faulty_server.requests)
    engine = RemoteEngine(spec(faulty_server.api_base("500")))
    answer, _, _ = compare(engine, Request("hi", system="Be brief.", max_tokens=7, temperature=0.25, seed=3,
                                           top_p=0.5))
    assert answer.status == "failed"
    (_mode, path, headers, body), = faulty_server.requests[before:]
    assert path == "/500/v1/chat/completions"
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == f"Bearer {FAKE_KEY}"
    sent = json.loads(body)
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 7
    assert sent["temperature"] == 0.25 and sent["seed"] == 3 and sent["top_p"] == 0.5


def test_wrong_key_is_an_authentication_error(llama_server, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wb-wrong-key-also-not-real"
    monkeypatch.setenv(KEY_ENV, wrong)
    answer, events, _ = compare(RemoteEngine(spec(llama_server.base_url)), Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert isinstance(events[-1], Failed)
    assert_one_line(answer.error, wrong, FAKE_KEY)
    assert "authentication" in answer.error.lower()
    assert KEY_ENV in answer.error  # tells the user which variable to fix


def test_unset_key_variable_fails_before_any_request(faulty_server) -> None:
    before = len(faulty_server.requests)
    events = list(RemoteEngine(spec(faulty_server.api_base("500"), key_env="WB_NOT_SET_ANYWHERE"))
                  .stream(Request("Hello"), Cancel()))
    assert events == [Failed("key variable WB_NOT_SET_ANYWHERE is unset")]
    assert len(faulty_server.requests) == before


def test_connection_refused_is_one_line(api_key: str) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    answer, _, elapsed = compare(RemoteEngine(spec(base, timeout=10)), Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)
    assert "connect" in answer.error.lower()
    assert base in answer.error
    assert "HTTP 500" not in answer.error  # nothing answered: no HTTP status to speak of
    assert elapsed < 10


def test_no_answer_times_out_quickly(faulty_server, api_key: str) -> None:
    engine = RemoteEngine(spec(faulty_server.api_base("hang"), timeout=1.5))
    answer, _, elapsed = compare(engine, Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)
    assert "did not answer within 1.5 s" in answer.error
    assert 1.0 < elapsed < 6


def test_stream_that_stalls_times_out_and_keeps_the_text(faulty_server, api_key: str) -> None:
    engine = RemoteEngine(spec(faulty_server.api_base("stall"), timeout=1.5))
    answer, _, elapsed = compare(engine, Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert answer.text == "Hello there"
    assert_one_line(answer.error, FAKE_KEY)
    assert "did not answer within 1.5 s" in answer.error
    assert elapsed < 6


def test_rate_limit_429(faulty_server, api_key: str) -> None:
    before = len(faulty_server.requests)
    answer, _, _ = compare(RemoteEngine(spec(faulty_server.api_base("429"))), Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)
    assert "rate limited" in answer.error and "429" in answer.error
    assert len(faulty_server.requests) == before + 1  # no silent retries


def test_server_error_5xx(faulty_server, api_key: str) -> None:
    answer, _, _ = compare(RemoteEngine(spec(faulty_server.api_base("500"))), Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)
    assert "HTTP 500" in answer.error
    assert "The server had an error" in answer.error


def test_dropped_stream_fails_and_keeps_the_partial_text(faulty_server, api_key: str) -> None:
    answer, events, _ = compare(RemoteEngine(spec(faulty_server.api_base("drop"))), Request("Hello", max_tokens=8))
    assert [e.text for e in events if isinstance(e, Token)] == ["Hello", " there"]
    assert answer.status == "failed"  # not "complete": the answer was cut short
    assert answer.text == "Hello there"
    assert_one_line(answer.error, FAKE_KEY)
    assert "Original exception" not in answer.error
    assert "HTTP 500" not in answer.error  # the server said 200; the connection broke
    assert "connection" in answer.error.lower()


def test_error_event_mid_stream(faulty_server, api_key: str) -> None:
    answer, _, _ = compare(RemoteEngine(spec(faulty_server.api_base("error"))), Request("Hello", max_tokens=8))
    assert answer.status == "failed"
    assert answer.text == "Hello there"
    assert_one_line(answer.error, FAKE_KEY)
    assert "upstream model crashed mid-answer" in answer.error
    assert "Original exception" not in answer.error


def _cancel_after_tokens(comparison: Comparison, n: int, limit_s: float = 60.0) -> float:
    """Start, wait for `n` tokens, cancel; the time the cancel was asked for."""
    comparison.start()
    deadline = time.monotonic() + limit_s
    while comparison.answers[0].tokens < n:
        assert not comparison.finished, comparison.answers[0].error
        assert time.monotonic() < deadline, "no tokens arrived"
        time.sleep(0.01)
    asked = time.monotonic()
    comparison.cancel()
    return asked


def test_cancel_on_the_real_server_ends_quickly(llama_server, api_key: str) -> None:
    comparison = Comparison([RemoteEngine(spec(llama_server.base_url))], Request(LONG, max_tokens=1500))
    asked = _cancel_after_tokens(comparison, 3)
    assert comparison.wait(5)
    answer = comparison.answers[0]
    assert answer.status == "cancelled"
    assert answer.finish_reason == "cancelled"
    assert answer.ended_at - asked < 2.0
    assert 3 <= answer.tokens < 1500


def test_cancel_closes_the_http_stream(faulty_server, api_key: str) -> None:
    comparison = Comparison([RemoteEngine(spec(faulty_server.api_base("endless")))], Request("Hello"))
    asked = _cancel_after_tokens(comparison, 4)
    assert comparison.wait(5)
    assert comparison.answers[0].status == "cancelled"
    deadline = time.monotonic() + 3
    while not [t for t in faulty_server.disconnects if t >= asked] and time.monotonic() < deadline:
        time.sleep(0.02)
    gone = [t for t in faulty_server.disconnects if t >= asked]
    assert gone, "the server kept streaming to a cancelled answer"
    assert gone[0] - asked < 2.0


def test_cancel_while_the_stream_is_silent(faulty_server, api_key: str) -> None:
    """A cancel must not wait for the next chunk (or the timeout) to take effect."""
    comparison = Comparison([RemoteEngine(spec(faulty_server.api_base("stall"), timeout=30))], Request("Hello"))
    asked = _cancel_after_tokens(comparison, 2)
    assert comparison.wait(5), "the cancel waited for the server"
    answer = comparison.answers[0]
    assert answer.status == "cancelled"
    assert answer.text == "Hello there"
    assert answer.ended_at - asked < 2.0


def test_one_failing_model_does_not_stop_another(llama_server, faulty_server, api_key: str) -> None:
    engines = [RemoteEngine(spec(faulty_server.api_base("drop"), name="bad")),
               RemoteEngine(spec(llama_server.base_url, name="good"))]
    comparison = Comparison(engines, Request("Say hello.", max_tokens=12)).start()
    assert comparison.wait(60)
    bad, good = comparison.answers
    assert bad.status == "failed"
    assert good.status == "complete" and good.text.strip()


def test_key_is_read_for_each_request(llama_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixing the variable is enough: the engine does not hold on to the old key."""
    engine = RemoteEngine(spec(llama_server.base_url))
    monkeypatch.setenv(KEY_ENV, "wb-wrong-key-also-not-real")
    assert compare(engine, Request("Hello", max_tokens=4))[0].status == "failed"
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    assert compare(engine, Request("Hello", max_tokens=4))[0].status == "complete"


def test_a_local_server_needs_no_key_and_gets_none_of_ours(faulty_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """`api_base` with no `api_key_env`: the request is sent with a placeholder, never OPENAI_API_KEY."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider-key-must-not-travel")
    before = len(faulty_server.requests)
    answer, _, _ = compare(RemoteEngine(spec(faulty_server.api_base("ok"), key_env=None)), Request("Hi", max_tokens=8))
    assert answer.status == "complete", answer.error
    (_mode, _path, headers, _body), = faulty_server.requests[before:]
    sent = {k.lower(): v for k, v in headers.items()}
    assert sent.get("authorization") == "Bearer no-key", sent

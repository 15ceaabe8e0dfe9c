"""A model with several `api_base`s: replicas served by litellm's Router, against loopback fake servers.

Spread (both replicas answer), failover (a replica that answers 503 or refuses connections is cooled
down and the batch completes on the other), each replica's concurrency cap, retries on 429, keys
kept out of answers and errors, cancelling, the log's record of which replica answered, and a single
`api_base` string going the old way (no Router).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from servers import FAKE_KEY, KEY_ENV, FaultyServer, assert_one_line, free_port
from workbench.batch import Batch, Item
from workbench.cli import main
from workbench.config import ConfigError, ModelSpec, load_settings
from workbench.core import Comparison, Request
from workbench.engines.remote import RemoteEngine, api_host

# litellm's async path reads pydantic attributes the old way and builds ReadOnly TypedDicts: not ours.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm"),
              pytest.mark.filterwarnings("ignore:Items .* are using the `ReadOnly` qualifier:UserWarning")]


@pytest.fixture
def pair():
    """Two fault servers: the replicas of one model."""
    with FaultyServer() as a, FaultyServer() as b:
        yield a, b


def pool_spec(*bases: str, cap: int = 4, key_env: str | None = None, timeout: float = 20.0) -> ModelSpec:
    return ModelSpec(name="pool", engine="litellm", model="openai/fake", api_base=tuple(bases), max_parallel=cap,
                     api_key_env=key_env, timeout=timeout)


def run(engine: RemoteEngine, n: int, parallel: int, max_tokens: int = 8) -> list:
    """n distinct prompts through `Batch`, as `workbench run --parallel` sends them; the answers."""
    items = [Item(f"p{i}", f"p{i}", Request(f"question {i}", max_tokens=max_tokens)) for i in range(n)]
    return [r.answer for r in Batch(items, [engine], parallel=parallel, verify=False).run()]


def host(server: FaultyServer) -> str:
    return api_host(server.url)


def test_requests_are_spread_over_the_replicas_and_the_log_says_which_answered(pair) -> None:
    a, b = pair
    for server in pair:
        server.latency, server.capacity = 0.2, 1
    engine = RemoteEngine(pool_spec(a.api_base("paced"), b.api_base("paced"), cap=1))
    assert engine.where() == f"{host(a)} +1"
    answers = run(engine, 8, parallel=4)
    assert [x.status for x in answers] == ["complete"] * 8, [x.error for x in answers]
    assert all(x.text == "Short answer." for x in answers)
    assert len(a.requests) >= 2 and len(b.requests) >= 2  # least-busy: both take a share
    answered = [x.identity.fields["api_host"] for x in answers]
    assert set(answered) == {host(a), host(b)}
    assert answered.count(host(a)) == len(a.requests) and answered.count(host(b)) == len(b.requests)
    assert all(x.completion_tokens == 3 for x in answers)  # the usage chunk comes through the Router
    assert engine.cooling() == []


@pytest.mark.parametrize("fault", ["503", "refused"])
def test_a_failing_replica_is_cooled_down_and_the_batch_completes(pair, fault: str) -> None:
    a, b = pair
    a.latency = 0.05
    if fault == "503":
        b.fail_with = 503
        bad = b.api_base("paced")
    else:
        bad = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the connection is refused
    engine = RemoteEngine(pool_spec(a.api_base("paced"), bad, cap=2))
    answers = run(engine, 10, parallel=4)
    assert [x.status for x in answers] == ["complete"] * 10, [x.error for x in answers]
    assert {x.identity.fields["api_host"] for x in answers} == {host(a)}
    assert engine.cooling() == [api_host(bad)]
    if fault == "503":
        assert 1 <= len(b.requests) <= 3  # tried, then left alone while it cools down


def test_each_replica_is_held_to_its_cap(pair) -> None:
    a, b = pair
    for server in pair:
        server.latency = 0.3  # no `capacity`: the server would take every request at once
    engine = RemoteEngine(pool_spec(a.api_base("paced"), b.api_base("paced"), cap=2))
    answers = run(engine, 16, parallel=8)  # more in flight than the pool takes (2 + 2)
    assert [x.status for x in answers] == ["complete"] * 16, [x.error for x in answers]
    assert a.max_in_flight <= 2 and b.max_in_flight <= 2
    assert a.max_in_flight + b.max_in_flight >= 3  # and the pool was used, not one request at a time


def test_the_cap_holds_while_a_replica_is_down(pair) -> None:
    """With one replica cooling down, the other gets its cap and no more: the rest wait their turn."""
    a, _ = pair
    a.latency = 0.1
    engine = RemoteEngine(pool_spec(a.api_base("paced"), f"http://127.0.0.1:{free_port()}/v1", cap=1))
    answers = run(engine, 6, parallel=4)
    assert [x.status for x in answers] == ["complete"] * 6, [x.error for x in answers]
    assert a.max_in_flight == 1


def test_429_and_5xx_are_retried_on_another_replica(pair) -> None:
    a, b = pair
    a.inject.append(429)
    b.inject.append(500)
    engine = RemoteEngine(pool_spec(a.api_base("ok"), b.api_base("ok"), cap=1))
    answers = run(engine, 4, parallel=2)
    assert [x.status for x in answers] == ["complete"] * 4, [x.error for x in answers]
    assert len(a.requests) + len(b.requests) == 6  # two failed attempts, each retried


def test_every_replica_down_is_one_line(pair) -> None:
    a, b = pair
    a.fail_with = b.fail_with = 503
    engine = RemoteEngine(pool_spec(a.api_base("ok"), b.api_base("ok"), cap=1))
    answers = run(engine, 3, parallel=1)
    assert all(x.status == "failed" for x in answers)
    for x in answers:
        assert_one_line(x.error)
    assert answers[0].identity.fields["api_host"] == f"{host(a)},{host(b)}"  # no replica answered


def test_keys_are_cut_out_of_answers_and_errors(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    a, b = pair
    engine = RemoteEngine(pool_spec(a.api_base("echokey"), b.api_base("echokey"), key_env=KEY_ENV))
    answers = run(engine, 4, parallel=4)
    assert [x.status for x in answers] == ["complete"] * 4, [x.error for x in answers]
    for x in answers:
        assert FAKE_KEY not in x.text and "keep it safe" in x.text
    sent = [{k.lower(): v for k, v in req[2].items()}.get("authorization") for req in a.requests + b.requests]
    assert sent == [f"Bearer {FAKE_KEY}"] * 4  # the key goes to every replica (and is cut from what comes back)
    failing = RemoteEngine(pool_spec(a.api_base("echo400"), b.api_base("echo400"), key_env=KEY_ENV))
    (answer,) = run(failing, 1, parallel=1)
    assert answer.status == "failed"
    assert_one_line(answer.error, FAKE_KEY)


def test_cancel_stops_a_pool_stream_and_frees_the_replica(pair) -> None:
    a, b = pair
    engine = RemoteEngine(pool_spec(a.api_base("endless"), b.api_base("endless"), cap=1))
    comparison = Comparison([engine], Request("go on", max_tokens=5000))
    comparison.start()
    deadline = time.monotonic() + 20
    while not comparison.answers[0].text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert comparison.answers[0].text
    cancelled_at = time.monotonic()
    comparison.cancel()
    assert comparison.wait(5)
    assert comparison.answers[0].status == "cancelled"
    assert time.monotonic() - cancelled_at < 2
    deadline = time.monotonic() + 5
    while len(a.disconnects) + len(b.disconnects) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(a.disconnects) + len(b.disconnects) == 1  # the server saw the client go
    # Both replicas are free again: two more answers run at once, one each (cap 1).
    for server in pair:
        server.latency = 0.1
    again = RemoteEngine(pool_spec(a.api_base("paced"), b.api_base("paced"), cap=1))
    assert [x.status for x in run(again, 2, parallel=2)] == ["complete"] * 2


def test_a_single_api_base_goes_the_old_way(faulty_server) -> None:
    spec = ModelSpec(name="one", engine="litellm", model="openai/fake", api_base=faulty_server.api_base("ok"))
    engine = RemoteEngine(spec)
    assert engine.where() == host(faulty_server)
    (answer,) = run(engine, 1, parallel=1)
    assert answer.status == "complete" and answer.text == "Short answer."
    assert answer.identity.fields["api_host"] == host(faulty_server)
    assert engine._pool is None  # no Router: litellm.completion, as before
    assert engine.cooling() == []


def _config(home: Path, body: str) -> Path:
    path = home / "config.toml"
    path.write_text(body)
    return path


def test_config_lists_replicas(workbench_home: Path) -> None:
    path = _config(workbench_home, """
[[models]]
name = "pool"
engine = "litellm"
model = "openai/x"
api_base = ["http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"]
max_parallel = 2

[[models]]
name = "one-in-a-list"
engine = "litellm"
model = "openai/x"
api_base = ["http://127.0.0.1:8001/v1"]

[[models]]
name = "one"
engine = "litellm"
model = "openai/x"
api_base = "http://127.0.0.1:8001/v1"
""")
    pool, listed_once, one = load_settings(path).models
    assert pool.api_base == ("http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1")
    assert listed_once.api_base == one.api_base == "http://127.0.0.1:8001/v1"
    assert RemoteEngine(pool)._slots._value == 4  # the sum of the replicas' caps
    assert RemoteEngine(one)._slots._value == 4


@pytest.mark.parametrize("value, expected", [
    ("[]", "must list at least one URL"),
    ('["http://a/v1", 3]', "must be a URL string"),
    ('["http://a/v1", ""]', "must be a URL string"),
    ('["http://a/v1", "http://a/v1"]', "lists 'http://a/v1' twice"),
    ("3", "'api_base' must be str or list"),
])
def test_bad_replica_lists_are_one_line(workbench_home: Path, value: str, expected: str) -> None:
    path = _config(workbench_home, f"""
[[models]]
name = "pool"
engine = "litellm"
model = "openai/x"
api_base = {value}
""")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert expected in str(err.value)
    assert_one_line(str(err.value))


def test_workbench_run_parallel_uses_the_whole_pool(pair, workbench_home: Path) -> None:
    a, b = pair
    for server in pair:
        server.latency, server.capacity = 0.2, 1
    _config(workbench_home, f"""
[[models]]
name = "pool"
engine = "litellm"
model = "openai/fake"
api_base = ["{a.api_base('paced')}", "{b.api_base('paced')}"]
max_parallel = 1
""")
    db = workbench_home / "log.db"
    prompts = [f"question {i}" for i in range(6)]
    result = CliRunner().invoke(main, ["run", *prompts, "-m", "pool", "--parallel", "4", "--max-tokens", "8",
                                       "--json", "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["complete"] * 6
    assert a.max_in_flight == 1 and b.max_in_flight == 1 and len(a.requests) >= 2 and len(b.requests) >= 2
    with sqlite3.connect(db) as con:
        hosts = dict(con.execute("SELECT m.api_host, count(*) FROM responses r JOIN models m ON m.id = r.model_id "
                                 "GROUP BY m.api_host").fetchall())
    assert hosts == {host(a): len(a.requests), host(b): len(b.requests)}


def test_a_replica_that_breaks_off_mid_answer_is_named(pair) -> None:
    a, b = pair
    engine = RemoteEngine(pool_spec(a.api_base("drop"), b.api_base("drop"), cap=1))
    (answer,) = run(engine, 1, parallel=1)
    assert answer.status == "failed" and answer.text == "Hello there"  # what came before the break stays
    replica = answer.identity.fields["api_host"]
    assert replica in (host(a), host(b))
    assert answer.error == f"connection to pool's replica {replica} broke off mid-answer"


def test_replicas_on_one_host_get_distinct_ids() -> None:
    from workbench.engines.remote import _replica_ids

    assert _replica_ids(("http://h:1/a/v1", "http://h:1/b/v1", "http://g:2/v1")) == ["h:1#1", "h:1#2", "g:2"]

"""Bundles and replays (issue 13): evidence anyone can re-run, with nothing secret in it, read as a hostile file.

The demo models run for real: a batch (greedy and seeded) and a two-turn conversation are bundled,
replayed in a fresh WORKBENCH_HOME (every answer must come back byte for byte), then replayed again
from a copy with one parameter changed (that answer differs, with a diff).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from workbench.cli import main

PROMPT = """---
title: {title}
tags: [evidence]
language: python
{params}
max_tokens: 24
---
Write a Python function add(a, b) that returns the sum of a and b.

## Tests
```python
def test_add():
    assert add(2, 3) == 5
```
"""


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def members(path: Path) -> dict[str, dict]:
    with zipfile.ZipFile(path) as zf:
        return {name: json.loads(zf.read(name)) for name in zf.namelist()}


def rewrite(src: Path, dst: Path, change, keep: set[str]) -> None:
    """A copy of a bundle with only the answers in `keep`, and `change(name, obj)` applied to each member's JSON."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            if name != "manifest.json" and name not in keep:
                continue
            obj = json.loads(zin.read(name))
            if name == "manifest.json":
                obj["answers"] = [n for n in obj["answers"] if n in keep]
            change(name, obj)
            zout.writestr(name, json.dumps(obj))


def make_session(home: Path) -> None:
    """A batch of two library prompts (greedy, seeded) × both demo models, then a two-turn conversation
    and a blind vote, all tagged `evidence`."""
    from workbench import catalog
    from workbench.config import load_settings
    from workbench.core import Comparison, Request
    from workbench.engines import make_engine
    from workbench.store import Store

    (home / "prompts").mkdir()
    (home / "prompts" / "add-greedy.md").write_text(PROMPT.format(title="Add (greedy)", params="temperature: 0"))
    (home / "prompts" / "add-seeded.md").write_text(PROMPT.format(title="Add (seeded)",
                                                                  params="temperature: 0.8\nseed: 42"))
    run = cli("run", "add-greedy", "add-seeded", "-m", "smollm2", "-m", "gemma3-270m", "--json")
    assert run.exit_code == 0, run.output
    assert all(r["status"] == "complete" for r in json.loads(run.stdout))
    settings = load_settings()
    spec = replace({e.spec.name: e.spec for e in catalog.discover(settings)}["smollm2"], n_threads=1)
    engine = make_engine(spec, 1)
    store = Store(settings.db_path)
    try:
        recorder = store.start_session("app")
        chat = Comparison([engine], Request("Say hello.", system="Be brief.", max_tokens=12, temperature=0),
                          [recorder.on_event])
        recorder.record(chat, tags=["evidence"]).result(10)
        chat.start().wait()
        chat.follow_up("Now say it in French.")
        recorder.record(chat, tags=["evidence"]).result(10)
        chat.start().wait()
        assert all(t.answers[0].status == "complete" for t in chat.turns)
        recorder.vote(1, "winner", [1, 2], winner=1, blind=True).result(10)  # the batch's greedy prompt
        recorder.close()
    finally:
        engine.close()
        store.close()


def test_a_bundle_replays_byte_for_byte_and_a_changed_parameter_differs(tmp_path, monkeypatch, workbench_home):
    make_session(workbench_home)
    bundle = tmp_path / "evidence.zip"
    made = cli("bundle", "--tag", "evidence", "-o", str(bundle))
    assert made.exit_code == 0, made.output
    assert "Wrote 6 answers of 4 prompts, 2 models and 1 vote" in made.stderr

    files = members(bundle)
    manifest = files["manifest.json"]
    answers = [files[name] for name in manifest["answers"]]
    models = {m["name"]: m for m in manifest["models"].values()}
    software = manifest["software"]
    assert software["llama_cpp_python"] and software["python"] and software["os"] and software["cpu"]["flags"]
    # The effective chat template: SmolLM2's own, read from its GGUF; Gemma 3 270M (a base model) has none.
    assert "<|im_start|>" in models["smollm2"]["chat_template"]["text"]
    assert models["gemma3-270m"]["chat_template"]["text"] is None
    assert "base model" in models["gemma3-270m"]["chat_template"]["note"]
    assert all(len(m["sha256"]) == 64 and m["file_name"].endswith(".gguf") for m in models.values())
    # Each answer carries its request as sent: the follow-up's history is the model's own first turn.
    french = next(a for a in answers if a["request"]["prompt"] == "Now say it in French.")
    hello = next(a for a in answers if a["request"]["prompt"] == "Say hello.")
    assert french["request"]["history"] == [{"role": "user", "content": "Say hello."},
                                            {"role": "assistant", "content": hello["text"]}]
    assert french["request"]["system"] == "Be brief." and french["parent_response_id"] == hello["id"]
    assert all(a["reproducible"]["expected"] and a["run_settings"]["n_threads"] == 1 for a in answers)
    # What each model was given (the parity record): SmolLM2's rendered template holds the prompt; the demo
    # models' cutoffs travel with their answers.
    smol = next(a for a in answers if a["model_name"] == "smollm2" and a["request"]["prompt"] == "Say hello.")
    assert "<|im_start|>user\nSay hello.<|im_end|>" in smol["received"]["prompt_text"], smol["received"]
    assert all(a["cutoff"] for a in answers) and all(a["stale"] is False for a in answers)
    assert {p["tests"]["code"].strip() for p in manifest["prompts"] if p["tests"]} == {
        "def test_add():\n    assert add(2, 3) == 5"}
    assert manifest["votes"][0]["blind"] is True and manifest["votes"][0]["winner_response_id"] == 1

    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(fresh))
    again = cli("replay", str(bundle), "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert [a["status"] for a in report["answers"]] == ["identical"] * 6, report["answers"]
    tested = [a["tests"] for a in report["answers"] if a["tests"]]
    assert len(tested) == 4 and all(t["same"] for t in tested)
    assert report["worker"]["n_batch"] == 512 and all(a["settings"]["n_threads"] == 1 for a in report["answers"])

    # One parameter changed in the bundle: that answer differs, with a unified diff; the other is identical.
    # (The copy keeps the greedy prompt's two answers only, to keep the test short.)
    changed = tmp_path / "changed.zip"
    target = next(a for a in answers if a["model_name"] == "gemma3-270m" and a["request"]["temperature"] == 0)
    other = next(a for a in answers if a["prompt_id"] == target["prompt_id"] and a is not target)
    assert target["finish_reason"] == "length"  # it used all 24 tokens, so 10 must cut it short

    def fewer_tokens(name, obj):
        if name == f"answers/{target['id']}.json":
            obj["request"]["max_tokens"] = 10

    rewrite(bundle, changed, fewer_tokens, keep={f"answers/{target['id']}.json", f"answers/{other['id']}.json"})
    diff = cli("replay", str(changed), "--import")
    assert diff.exit_code == 1, diff.output
    lines = diff.stdout.splitlines()
    assert any(ln.startswith(f"answer {other['id']} ") and ": identical" in ln for ln in lines), lines
    flagged = next(i for i, ln in enumerate(lines) if ln.startswith(f"answer {target['id']} ") and ": differs" in ln)
    assert lines[flagged + 1].strip() == "--- bundle" and lines[flagged + 2].strip() == "+++ replay"
    assert any(ln.startswith("    -") for ln in lines[flagged:]) and "2 answers: 1 identical, 1 differs" in diff.stdout
    # --import logged the re-run answers as a new session of the fresh home's log.
    sessions = json.loads(cli("sessions", "--json").stdout)
    assert [(s["source"], s["answers"]) for s in sessions] == [("replay", 2)]

    # A GGUF of another SHA-256 is another model: nothing is run in its stead.
    unknown = tmp_path / "unknown.zip"

    def other_weights(name, obj):
        if name == "manifest.json":
            for model in obj["models"].values():
                model["sha256"] = "0" * 64

    rewrite(bundle, unknown, other_weights, keep={f"answers/{other['id']}.json"})
    (tmp_path / "more-models").mkdir()
    gone = cli("replay", str(unknown), "--models", str(tmp_path / "more-models"), "--json")
    assert gone.exit_code == 1
    (missing,) = json.loads(gone.stdout)["answers"]
    assert missing["status"] == "model missing" and "no GGUF with SHA-256 0000000000000000" in missing["why"]

    # The leaderboard from the bundle's votes alone.
    board = cli("leaderboard", "--bundle", str(bundle), "--min-votes", "1", "--rounds", "20", "--json")
    assert board.exit_code == 0, board.output
    assert {s["model"] for s in json.loads(board.stdout)["standings"]} == {"smollm2", "gemma3-270m"}
    # --fresh from the bundle alone: its prompts' dates and its answers' recorded cutoffs (typed prompts are dated
    # the day they were sent, after both demo models' cutoffs).
    voted = next(p for p in manifest["prompts"] if p["id"] == manifest["votes"][0]["prompt_id"])
    fresh = cli("leaderboard", "--bundle", str(bundle), "--fresh", "--min-votes", "1", "--rounds", "20", "--json")
    # The vote is on a library prompt with no `created`: nothing to judge it fresh by, and --fresh says so.
    assert voted["created"] is None and fresh.exit_code == 1, fresh.output
    assert "1 on prompts with no created date" in fresh.output, fresh.output
    typed = [p for p in manifest["prompts"] if p["key"] is None or p["key"].startswith("adhoc-")]
    assert typed and all(p["created"] for p in typed)  # a typed prompt is dated the day it was sent


def test_no_key_private_host_or_environment_value_gets_in(tmp_path, monkeypatch, workbench_home):
    from workbench.config import load_settings
    from workbench.core import Comparison, Done, Request, Token
    from workbench.engines.remote import RemoteEngine
    from workbench.store import Store

    key, default_key, password = "sk-canary-key-5f1e2d3c4b", "sk-canary-openai-0a9b8c7d", "canary-pass-4242"
    host, env_value, env_host = "canary-private-host.corp.example", "canary-env-value-7e6d5c", "canary-env.corp.example"
    monkeypatch.setenv("CANARY_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", default_key)
    monkeypatch.setenv("WORKBENCH_CANARY_VAR", env_value)
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://{env_host}/v1")
    (workbench_home / "config.toml").write_text(f"""
[[models]]
name = "private"
engine = "litellm"
model = "openai/canary-model"
api_base = "http://svc-canary-user:{password}@{host}:8443/v1"
api_key_env = "CANARY_KEY"
""")
    leak = f"key {key} and {default_key}, host {host}:8443 and {env_host}, env {env_value}, pass {password}"

    class Leaky(RemoteEngine):
        """The configured hosted model, answering (without a network) with everything it should not."""

        def stream(self, request, cancel):
            yield Token(f"I was sent: {leak}")
            yield Done(finish_reason="stop")

    settings = load_settings()
    engine = Leaky(settings.models[0])
    store = Store(settings.db_path)
    try:
        recorder = store.start_session("app", name=f"session with {env_value}")
        chat = Comparison([engine], Request(f"Use {key} at {host}.", system=f"env {env_value}", seed=7),
                          [recorder.on_event])
        prompt_id = recorder.record(chat).result(10)
        chat.start().wait()
        recorder.vote(prompt_id, "both_bad", [1], note=f"note with {key}").result(10)
        recorder.close()
    finally:
        store.close()
    bundle = tmp_path / "leaky.zip"
    made = cli("bundle", "--session", "1", "-o", str(bundle))
    assert made.exit_code == 0, made.output

    raw = bundle.read_bytes()
    with zipfile.ZipFile(bundle) as zf:
        contents = [zf.read(name).decode() for name in zf.namelist()]
    canaries = [key, default_key, password, host, env_value, env_host, "svc-canary-user", "WORKBENCH_CANARY_VAR"]
    hostname = socket.gethostname()
    canaries += [hostname] if len(hostname) >= 8 else []
    for canary in canaries:
        assert canary.encode() not in raw, canary
        assert not any(canary in text for text in contents), canary
    files = members(bundle)
    manifest = files["manifest.json"]
    answer = files[manifest["answers"][0]]
    model = next(iter(manifest["models"].values()))
    assert model["api_host"] == "private-host.invalid" and answer["where_run"] == "private-host.invalid"
    assert "[redacted]" in answer["text"] and "private-host.invalid" in answer["request"]["prompt"]
    assert set(answer["redacted"]) == {"request", "text"} and not answer["reproducible"]["expected"]
    assert "host" not in manifest["sessions"][0] and all(manifest["redactions"].values())
    # A redacted request is never sent again: the replay says why, and runs nothing.
    replayed = json.loads(cli("replay", str(bundle), "--hosted", "--json").stdout)
    assert replayed["answers"][0]["status"] == "not reproducible"
    assert "cut from its request" in replayed["answers"][0]["why"]


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _manifest(**more) -> bytes:
    return json.dumps({"format": "workbench-bundle", "version": 1, "models": {}, "prompts": [], "votes": [],
                       "answers": [], **more}).encode()


def test_hostile_bundles_are_one_line_and_exit_1(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:  # 64 MiB of spaces in about 64 KiB
        zf.writestr("manifest.json", b"{" + b" " * (64 << 20) + b"}")
    lying = _zip(tmp_path / "lying.zip", {"manifest.json": _manifest() + b" " * 5000})
    data = bytearray(lying.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 50)  # the headers claim 50 bytes unpacked
    struct.pack_into("<I", data, central + 24, 50)
    lying.write_bytes(bytes(data))
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    cases = {
        "not a zip": (tmp_path / "text.zip", "not a zip file"),
        "bomb": (bomb, "unpacked (at most"),
        "lying sizes": (lying, "cannot be unpacked"),
        "traversal": (_zip(tmp_path / "slip.zip", {"manifest.json": _manifest(), "../../evil.json": b"{}"}),
                      "unexpected member '../../evil.json'"),
        "absolute": (_zip(tmp_path / "abs.zip", {"manifest.json": _manifest(), "/etc/cron.d/x": b"{}"}),
                     "unexpected member"),
        "dotdot in answers": (_zip(tmp_path / "dots.zip", {"manifest.json": _manifest(),
                                                           "answers/../../x.json": b"{}"}), "unexpected member"),
        "deep nesting": (_zip(tmp_path / "deep.zip", {"manifest.json": b"[" * 200_000}), "nested too deeply"),
        "huge answer list": (_zip(tmp_path / "many.zip", {"manifest.json": _manifest(
            answers=[f"answers/{i}.json" for i in range(1, 60_001)])}), "lists 60000 answers"),
        "bad request": (_zip(tmp_path / "req.zip", {
            "manifest.json": _manifest(prompts=[{"id": 1, "text": "hi"}], answers=["answers/1.json"]),
            "answers/1.json": json.dumps({"id": 1, "prompt_id": 1, "model_name": "m", "status": "complete",
                                          "text": "", "request": {"prompt": "hi", "max_tokens": 10**12}}).encode()}),
                        "'max_tokens' is 1000000000000"),
        "no manifest": (_zip(tmp_path / "empty.zip", {"answers/1.json": b"{}"}), "no manifest.json"),
        "a FIFO": (fifo, "not a regular file"),
        "a folder": (tmp_path, "not a regular file"),
        "missing": (tmp_path / "nope.zip", "cannot read"),
    }
    (tmp_path / "text.zip").write_text("just text, not a zip\n")
    for what, (path, expected) in cases.items():
        result = cli("replay", str(path))
        assert result.exit_code == 1, (what, result.output)
        line = one_line(result)
        assert line.startswith("workbench: error: ") and str(path) in line and expected in line, (what, line)
    board = cli("leaderboard", "--bundle", str(tmp_path / "text.zip"))
    assert board.exit_code == 2 and "not a zip file" in one_line(board)


def test_bundle_needs_a_selection_and_a_session_that_exists(tmp_path, workbench_home):
    from workbench.config import load_settings
    from workbench.core import Comparison, Request
    from workbench.engines.replay import ReplayEngine
    from workbench.store import Store

    assert "choose what to bundle" in one_line(cli("bundle"))
    store = Store(load_settings().db_path)
    try:
        recorder = store.start_session("app")
        chat = Comparison([ReplayEngine("stored", "a stored answer")], Request("hello"), [recorder.on_event])
        recorder.record(chat).result(10)
        chat.start().wait()
        recorder.close()
    finally:
        store.close()
    missing = cli("bundle", "--session", "9")
    assert missing.exit_code == 2 and "no session 9" in one_line(missing)
    nothing = cli("bundle", "--tag", "no-such-tag", "-o", str(tmp_path / "x.zip"))
    assert nothing.exit_code == 1 and "no answers in the tag 'no-such-tag'" in one_line(nothing)
    assert not (tmp_path / "x.zip").exists()
    # A stored answer (engine replay) is no model: nothing to re-run, and that is not a failure.
    made = cli("bundle", "--session", "1", "-o", str(tmp_path / "stored.zip"))
    assert made.exit_code == 0 and "0 of 1 answers should come back identical" in made.stderr
    again = cli("replay", str(tmp_path / "stored.zip"))
    assert again.exit_code == 0, again.output
    assert "not reproducible (a stored answer (engine replay), not a model)" in again.stdout


def test_a_hosted_answer_is_re_run_only_with_hosted_and_a_seed(tmp_path, monkeypatch, workbench_home, llama_server):
    from servers import FAKE_KEY, KEY_ENV

    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    config = (f'[[models]]\nname = "served"\nengine = "litellm"\nmodel = "openai/smollm2"\n'
              f'api_base = "{llama_server.base_url}"\napi_key_env = "{KEY_ENV}"\ntimeout = 30\n')
    (workbench_home / "config.toml").write_text(config)
    for seed in ("--seed=5", None):
        run = cli("run", "Say hello.", "-m", "served", "--temperature", "0", "--max-tokens", "8", "--json",
                  *([seed] if seed else []))
        assert run.exit_code == 0, run.output
    bundle = tmp_path / "hosted.zip"
    assert cli("bundle", "--session", "1", "-o", str(bundle)).exit_code == 0
    assert cli("bundle", "--session", "2", "-o", str(tmp_path / "unseeded.zip")).exit_code == 0
    files = members(bundle)
    answer = files["answers/1.json"]
    port = llama_server.base_url.split(":")[2].split("/")[0]
    assert answer["where_run"] == "private-host.invalid" and port not in json.dumps(files)  # 127.0.0.1:port
    assert FAKE_KEY not in json.dumps(files)

    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    (fresh / "config.toml").write_text(config)  # the same model, by name (the bundle hides its host)
    monkeypatch.setenv("WORKBENCH_HOME", str(fresh))
    skipped = json.loads(cli("replay", str(bundle), "--json").stdout)["answers"][0]
    assert skipped["status"] == "skipped" and "--hosted" in skipped["why"]
    rerun = cli("replay", str(bundle), "--hosted", "--json")
    (again,) = json.loads(rerun.stdout)["answers"]
    # llama_cpp.server is greedy here, but it reuses a cached prompt prefix, so the bytes are not promised.
    assert again["status"] in ("identical", "differs") and again["settings"]["engine"] == "litellm", again
    assert rerun.exit_code == (0 if again["status"] == "identical" else 1)
    unseeded = json.loads(cli("replay", "--hosted", str(tmp_path / "unseeded.zip"), "--json").stdout)["answers"][0]
    assert unseeded["status"] == "not reproducible" and unseeded["why"] == "hosted without a fixed seed"

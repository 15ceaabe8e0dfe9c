"""Parameter parity: what each model received (the rendered template or completion text, the parameters as
applied, those dropped, context, stops), in the log, on the `i` screen and in the exports."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from pilot import send_prompt, wait_for

from workbench import catalog, export
from workbench.config import ModelSpec, load_settings
from workbench.core import Comparison, Received, Request
from workbench.engines.local import LocalEngine
from workbench.engines.pool import EnginePool
from workbench.engines.remote import RemoteEngine
from workbench.engines.replay import ReplayEngine
from workbench.parity import LIMIT, bounded, differing, rows
from workbench.store import Store, open_db
from workbench.ui.app import build_app
from workbench.ui.screens.parity import ParityScreen

FIXTURE = Path(__file__).parent / "data" / "schema_v1.db"
HOSTILE = "<script>alert('x')</script>\x1b]0;pwned\x07 and \x1b[31mred"


def run(engines, request: Request, limit_s: float = 120.0) -> list:
    comparison = Comparison(engines, request).start()
    assert comparison.wait(limit_s), [a.status for a in comparison.answers]
    return comparison.answers


class Tuned(ReplayEngine):
    """A replay that says its engine applied other values than the request's (as a provider default would)."""

    def __init__(self, name: str, text: str, **applied) -> None:
        super().__init__(name, text)
        self.applied = applied

    def received(self, request: Request) -> dict:
        record = super().received(request)
        record["params"] = {**record["params"], **self.applied}
        record["defaults"] = sorted(self.applied)
        return record


# -- what engines report ------------------------------------------------------

def test_a_local_chat_model_records_its_rendered_chat_template(smollm2: ModelSpec) -> None:
    engine = LocalEngine(smollm2, n_threads=1)
    try:
        (answer,) = run([engine], Request("Say hi to ZEBRA.", system="Be brief.", max_tokens=8, temperature=0))
    finally:
        engine.close()
    assert answer.status == "complete", answer.error
    record = answer.received
    assert record["engine"] == "llama" and record["mode"] == "chat" and record["template"] == "gguf"
    # SmolLM2's own template (ChatML), rendered with the system prompt and the prompt in it.
    assert "<|im_start|>system\nBe brief.<|im_end|>" in record["prompt_text"]
    assert "<|im_start|>user\nSay hi to ZEBRA.<|im_end|>" in record["prompt_text"]
    assert record["prompt_text"].endswith("<|im_start|>assistant\n")
    params = record["params"]
    assert params["temperature"] == 0 and params["max_tokens"] == 8  # the request's, as applied
    assert params["top_k"] == 40 and params["min_p"] == 0.05 and params["repeat_penalty"] == 1.0  # llama.cpp's
    assert {"top_k", "min_p", "seed"} <= set(record["defaults"]) and "temperature" not in record["defaults"]
    assert record["n_ctx"] == engine.info["n_ctx"] == smollm2.n_ctx
    assert record["stop"] == ["<|im_end|>"]
    assert record["repeat_guard"] == 0 and record["n_threads"] == 1


def test_a_base_model_records_its_completion_text(gemma: ModelSpec) -> None:
    engine = LocalEngine(gemma, n_threads=1)
    try:
        (answer,) = run([engine], Request("def is_prime(n):", system="Python.", max_tokens=6, temperature=0, seed=3))
    finally:
        engine.close()
    assert answer.status == "complete", answer.error
    record = answer.received
    assert record["mode"] == "completion" and record["template"] is None
    assert record["prompt_text"] == "Python.\n\ndef is_prime(n):"  # no template: the text, as continued
    assert record["add_bos"] is True
    assert record["params"]["seed"] == 3 and "seed" not in record["defaults"]
    assert record["stop"] == [] and record["repeat_guard"] == 4  # the loop guard is on for base models


def test_a_hosted_answer_records_what_litellm_sent_and_what_it_dropped(faulty_server) -> None:
    # litellm says perplexity takes no `seed`: it drops it (drop_params) and the record must say so.
    spec = ModelSpec(name="hosted", engine="litellm", model="perplexity/sonar", api_base=faulty_server.api_base("ok"),
                     timeout=20)
    before = len(faulty_server.requests)
    (answer,) = run([RemoteEngine(spec)], Request("hi", system="Be brief.", max_tokens=7, temperature=0.25, seed=3,
                                                 top_p=0.5), limit_s=60)
    assert answer.status == "complete", answer.error
    sent = json.loads(faulty_server.requests[before][3])
    assert "seed" not in sent and sent["temperature"] == 0.25  # what the server really got
    record = answer.received
    assert record["engine"] == "litellm"
    assert record["sent_from"].startswith("litellm's request body")
    assert record["params"] == {"temperature": 0.25, "top_p": 0.5, "max_tokens": 7}
    assert record["ignored"] == ["seed"]
    assert record["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert "seed" in differing([record, {**record, "ignored": [], "params": {**record["params"], "seed": 3}}])


# -- the record's bounds and the comparison of records --------------------------

def test_a_long_prompt_text_is_cut_to_the_limit_and_marked() -> None:
    text = "HEAD " + "x" * (3 * LIMIT) + " TAIL"
    record = bounded({"engine": "llama", "prompt_text": text, "params": {"temperature": 0}})
    assert len(json.dumps(record, ensure_ascii=False).encode()) <= LIMIT
    assert record["truncated"] == ["prompt_text"]
    assert record["prompt_text"].startswith("HEAD ") and record["prompt_text"].endswith(" TAIL")
    assert "characters cut" in record["prompt_text"]
    small = {"engine": "llama", "prompt_text": "short"}
    assert bounded(small) == small


def test_rows_mark_the_differing_parameters_only() -> None:
    a = {"engine": "llama", "params": {"temperature": 0.8, "top_k": 40, "max_tokens": 8}, "defaults": ["temperature"],
         "n_ctx": 2048, "stop": []}
    b = {"engine": "llama", "params": {"temperature": 0.2, "top_k": 40, "max_tokens": 8}, "defaults": [],
         "n_ctx": 2048, "stop": []}
    marked = {row.name: row for row in rows([a, b])}
    assert marked["temperature"].differs and marked["temperature"].values == ("0.8 (default)", "0.2")
    assert not marked["top_k"].differs and not marked["max_tokens"].differs and not marked["context size"].differs
    assert differing([a, None]) == []  # a pane that did not report is neither same nor different


# -- the log --------------------------------------------------------------------

def test_the_log_keeps_each_answers_record_and_an_old_log_still_opens(tmp_path: Path) -> None:
    old = tmp_path / "v1.db"
    shutil.copy(FIXTURE, old)
    store = Store(old)  # migrates the first schema's log
    recorder = store.start_session("run")
    comparison = Comparison([Tuned("a", "one", top_k=40), ReplayEngine("b", "two")],
                            Request("hi", system=HOSTILE, max_tokens=9), [recorder.on_event])
    recorder.record(comparison).result(10)
    comparison.start()
    assert comparison.wait(10)
    recorder.close()
    store.close()
    db = open_db(old)
    assert "received" in db["responses"].columns_dict
    stored = [json.loads(r) if r else None for (r,) in db.execute("SELECT received FROM responses ORDER BY id")]
    assert stored[:-2] == [None] * (len(stored) - 2)  # the old log's answers: nothing was recorded then
    assert stored[-2]["params"]["top_k"] == 40 and stored[-1]["system"] == HOSTILE
    assert stored[-1]["messages"][-1] == {"role": "user", "content": "hi"}

    out = io.StringIO()
    export.write("jsonl", db, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["received"] is None and lines[-2]["received"]["params"]["top_k"] == 40

    out = io.StringIO()
    export.write("markdown", db, out)
    md = out.getvalue()
    assert "**Parameter parity**" in md
    assert "| ≠ | top\\_k | 40 (default) | – |" in md

    out = io.StringIO()
    export.write("html", db, out)
    html = out.getvalue()
    assert "Parameter parity — " in html and "<tr class=\"differs\">" in html and "top_k" in html
    assert "<script>alert('x')</script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


# -- the screen -----------------------------------------------------------------

def _app(engines, **kwargs):
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    by_name = {e.name: e for e in engines}
    return build_app(load_settings(), [catalog.Entry(s) for s in specs], [s.name for s in specs],
                     pool_factory=lambda chosen: EnginePool([by_name[s.name] for s in chosen]), **kwargs)


async def test_i_shows_what_each_pane_received_with_the_difference_marked() -> None:
    app = _app([Tuned("alpha", "one two", temperature=0.8), ReplayEngine("beta", "three four")],
               request_defaults={"max_tokens": 32, "temperature": 0.2})
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "Say hi")
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ParityScreen))
        text = app.screen.parity_text()
        assert "Not like-for-like: 1 difference (temperature)" in text
        assert "≠ temperature: 0.8 (default) | 0.2" in text
        assert "  max_tokens: 32 | 32" in text  # the same: not marked
        assert "A · alpha" in text and "B · beta" in text and "[user]\nSay hi" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ParityScreen))
        assert "parity" in [action.split("(")[0] for _g, _k, _w, action in screen.key_rows()]


async def test_in_a_blind_round_the_screen_names_no_model_until_the_vote() -> None:
    app = _app([Tuned("alpha", "one two", temperature=0.8), ReplayEngine("beta", "three four")],
               request_defaults={"max_tokens": 32, "temperature": 0.2}, blind=True)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await send_prompt(pilot, "Say hi")
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ParityScreen))
        text = app.screen.parity_text()
        assert "alpha" not in text and "beta" not in text
        assert "≠ temperature: differs | differs" in text  # the difference shows, not the values
        assert "[user]" not in text and "after your vote" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ParityScreen))
        await pilot.press("1")
        await wait_for(pilot, lambda: screen.round.revealed)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ParityScreen))
        text = app.screen.parity_text()
        assert "alpha" in text and "beta" in text and "[user]\nSay hi" in text


def test_the_replay_engine_reports_the_request_as_given() -> None:
    events = list(ReplayEngine("r", "x").stream(Request("q", max_tokens=5, seed=1), __import__(
        "workbench.core", fromlist=["Cancel"]).Cancel()))
    assert isinstance(events[0], Received)
    assert events[0].record["params"] == {"max_tokens": 5, "seed": 1} and events[0].record["engine"] == "replay"


@pytest.mark.parametrize("hidden", [False, True])
def test_the_screen_strips_terminal_escapes_from_what_it_prints(hidden: bool) -> None:
    record = {"engine": "replay", "system": HOSTILE, "messages": [{"role": "user", "content": HOSTILE}],
              "params": {}, "prompt_source": "x"}
    text = ParityScreen([("A", None if hidden else "m\x1b[2J", record)], hidden=hidden).parity_text()
    assert "\x1b" not in text and "\x07" not in text


def test_a_model_name_with_brackets_is_shown_as_written():
    """A name is text, never markup: `qwen[/]-7b` must not stop the app (a GGUF's file name can hold anything)."""
    from rich.console import Console

    from workbench.ui.screens.parity import ParityScreen

    record = {"v": 1, "engine": "llama", "mode": "chat", "params": {"temperature": 0.2}}
    screen = ParityScreen([("A", "qwen[/]-7b", record), ("B", "llama[bold]x", record)])
    console = Console(width=120, record=True)
    console.print(screen._table())
    shown = console.export_text()
    assert "qwen[/]-7b" in shown and "llama[bold]x" in shown

"""Batch runs: every prompt × repeat × model, parallel, stop and resume, a failing model counted."""

from __future__ import annotations

import json
import threading
import time

import sqlite_utils

from workbench.batch import Batch, Item, summary
from workbench.core import Done, Failed, Request, Token
from workbench.engines.replay import ReplayEngine
from workbench.store import Store


class Counting(ReplayEngine):
    """A replay that records how many of its streams ran at once."""

    def __init__(self, name, text, delay=0.0):
        super().__init__(name, text, delays=[delay] * 1000)
        self.live = 0
        self.peak = 0
        self.lock = threading.Lock()

    def stream(self, request, cancel):
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
        try:
            yield from super().stream(request, cancel)
        finally:
            with self.lock:
                self.live -= 1


class Broken:
    """An engine whose every answer fails, as a model with a bad key would."""

    name = "broken"

    def where(self):
        return "nowhere"

    def stream(self, request, cancel):
        yield Token("partial ")
        yield Failed("authentication failed at example: check KEY")

    def close(self):
        pass


def _items(n):
    return [Item(f"p{i}", f"Prompt {i}", Request(f"question {i}", max_tokens=8), ("t",)) for i in range(n)]


def test_every_prompt_repeat_and_model_is_run_and_logged(tmp_path):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("run", args={"prompts": ["p0", "p1", "p2"]})
    engines = [ReplayEngine("a", "one two three"), ReplayEngine("b", "four five")]
    batch = Batch(_items(3), engines, repeat=2, recorder=recorder)
    results = batch.run()
    store.close()
    assert len(results) == 12 and batch.tally.done == 12 and batch.tally.failed == 0
    db = sqlite_utils.Database(tmp_path / "log.db")
    prompts = list(db.query("SELECT prompt_key, repeat FROM prompts ORDER BY prompt_key, repeat"))
    assert [(p["prompt_key"], p["repeat"]) for p in prompts] == [(f"p{i}", r) for i in range(3) for r in range(2)]
    assert db.execute("SELECT count(*) FROM responses WHERE status = 'complete'").fetchone()[0] == 12
    rows = {r["model"]: r for r in summary(results)}
    assert rows["a"]["answers"] == 6 and rows["a"]["failures"] == 0 and rows["a"]["median_tokens_per_s"]


def test_a_failing_model_is_counted_and_the_batch_goes_on():
    batch = Batch(_items(2), [ReplayEngine("a", "fine"), Broken()])
    results = batch.run()
    assert batch.tally.done == 4 and batch.tally.failed == 2
    assert {r.answer.status for r in results if r.answer.model == "a"} == {"complete"}
    rows = {r["model"]: r for r in summary(results)}
    assert rows["broken"]["failures"] == 2


def test_parallel_runs_prompts_at_once():
    engine = Counting("slow", "a b c d e f", delay=0.02)
    Batch(_items(6), [engine], parallel=3).run()
    assert engine.peak == 3
    serial = Counting("slow", "a b c", delay=0.01)
    Batch(_items(3), [serial], parallel=1).run()
    assert serial.peak == 1


def test_stop_keeps_what_is_done_and_resume_runs_only_what_is_missing(tmp_path):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("run")
    slow = ReplayEngine("a", "w " * 200, delays=[0.005] * 200)
    batch = Batch(_items(4), [slow], recorder=recorder)
    runner = threading.Thread(target=batch.run)
    runner.start()
    while batch.tally.done < 1:
        time.sleep(0.01)
    batch.stop()
    runner.join(10)
    assert not runner.is_alive() and batch.stopped
    done_first = {r.item.key for r in batch.results if r.answer.status == "complete"}
    assert 1 <= len(done_first) < 4
    store.flush()
    db = sqlite_utils.Database(tmp_path / "log.db")
    skip = {(k, r, m) for k, r, m in db.execute(
        "SELECT p.prompt_key, p.repeat, r.model_name FROM responses r JOIN prompts p ON p.id = r.prompt_id "
        "WHERE r.status = 'complete'").fetchall()}
    ids = {(k, r): i for i, k, r in db.execute("SELECT id, prompt_key, repeat FROM prompts").fetchall()}
    again = Batch(_items(4), [ReplayEngine("a", "quick")], recorder=store.continue_session(recorder.session_id),
                  skip=skip, prompt_ids=ids)
    assert again.tally.total == 4 - len(done_first)
    again.run()
    store.close()
    complete = db.execute("SELECT count(DISTINCT p.prompt_key) FROM responses r JOIN prompts p "
                          "ON p.id = r.prompt_id WHERE r.status = 'complete'").fetchone()[0]
    assert complete == 4
    assert db.execute("SELECT count(*) FROM prompts").fetchone()[0] == 4, "a resumed answer joins its prompt"


def test_done_event_is_the_last_word():
    events = list(ReplayEngine("a", "x y").stream(Request("q"), __import__("workbench.core",
                                                                          fromlist=["Cancel"]).Cancel()))
    assert isinstance(events[-1], Done)


def test_pass_at_k_matches_the_estimator():
    from workbench.batch import pass_at_k

    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 2) == 1.0
    assert abs(pass_at_k(4, 1, 1) - 0.25) < 1e-12
    assert abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12  # 1 - C(3,2)/C(4,2) = 1 - 3/6


def test_answers_to_prompts_with_tests_are_verified_and_summarised(tmp_path):
    from workbench.prompts import library_dirs, load_library

    library, _ = load_library(library_dirs(tmp_path))
    prompt = library["merge-intervals"]
    from answers import MERGE_INTERVALS

    right = f"```python{MERGE_INTERVALS}```\n"
    wrong = "```python\ndef merge_intervals(xs):\n    return xs\n```\n"
    item = Item("merge-intervals", prompt.title, Request("merge", max_tokens=8), tuple(prompt.tags), prompt)
    store = Store(tmp_path / "log.db")
    batch = Batch([item], [ReplayEngine("good", right), ReplayEngine("bad", wrong)], repeat=2,
                  recorder=store.start_session("run"))
    results = batch.run()
    store.close()
    assert all(r.verdict is not None for r in results)
    rows = {r["model"]: r for r in summary(results, k=2)}
    assert rows["good"]["tests_passed"] == 2 and rows["good"]["pass@1"] == 1.0 and rows["good"]["pass@2"] == 1.0
    assert rows["bad"]["tests_passed"] == 0 and rows["bad"]["pass@1"] == 0.0
    db = sqlite_utils.Database(tmp_path / "log.db")
    assert db.execute("SELECT count(*) FROM verifications").fetchone()[0] == 4


def test_resume_judges_answers_whose_test_run_was_killed(tmp_path, workbench_home):
    """Complete answers with no verification (the process died while testing them) are judged by --resume."""
    from click.testing import CliRunner

    from answers import MERGE_INTERVALS
    from workbench.cli import main

    answer = tmp_path / "right.md"
    answer.write_text(f"```python{MERGE_INTERVALS}```\n", encoding="utf-8")
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "ref"\nengine = "replay"\npath = "{answer}"\n', encoding="utf-8")
    log = tmp_path / "log.db"
    first = CliRunner().invoke(main, ["run", "merge-intervals", "-m", "ref", "--repeat", "2", "--db", str(log)],
                               catch_exceptions=False)
    assert first.exit_code == 0, first.output
    db = sqlite_utils.Database(log)
    assert db.execute("SELECT count(*) FROM verifications").fetchone()[0] == 2
    # What a kill -9 between an answer's end and its test run leaves: complete rows, no verification.
    db.execute("DELETE FROM verifications")
    db.conn.commit()
    db.conn.close()
    again = CliRunner().invoke(main, ["run", "--resume", "1", "--db", str(log)], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    db = sqlite_utils.Database(log)
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 2, "no answer was asked again"
    assert db.execute("SELECT outcome, passed, total FROM verifications").fetchall() == [("pass", 7, 7)] * 2
    assert "2/2" in again.output, again.output


def test_a_single_run_says_how_its_code_did(tmp_path, workbench_home):
    """`workbench run merge-intervals` prints each answer's test verdict, and `--json` carries it."""
    from click.testing import CliRunner

    from answers import MERGE_INTERVALS
    from workbench.cli import main

    answer = tmp_path / "right.md"
    answer.write_text(f"```python{MERGE_INTERVALS}```\n", encoding="utf-8")
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "ref"\nengine = "replay"\npath = "{answer}"\n', encoding="utf-8")
    plain = CliRunner().invoke(main, ["run", "merge-intervals", "-m", "ref", "--db", str(tmp_path / "a.db")],
                               catch_exceptions=False)
    assert plain.exit_code == 0, plain.output
    assert "tests: pass 7/7 tests" in plain.stdout, plain.stdout
    as_json = CliRunner().invoke(main, ["run", "merge-intervals", "-m", "ref", "--json", "--db", str(tmp_path / "b.db")],
                                 catch_exceptions=False)
    (record,) = json.loads(as_json.stdout)
    assert record["verification"]["outcome"] == "pass" and record["verification"]["passed"] == 7

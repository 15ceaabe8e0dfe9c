"""`workbench export --format battles`: the log's votes in the arena format, readable by the leaderboard."""

from __future__ import annotations

import json

from click.testing import CliRunner

from workbench.arena import leaderboard, read_battles
from workbench.cli import main
from workbench.core import Comparison
from workbench.core import Request
from workbench.engines.replay import ReplayEngine
from workbench.store import Store


def _vote(recorder, models, outcome, winner=None):
    comparison = Comparison([ReplayEngine(m, "answer") for m in models], Request("q"),
                            subscribers=[recorder.on_event])
    recorder.record(comparison, tags=["physics"])
    comparison.start().wait()
    recorder.cast(comparison, outcome, winner).result(10)


def test_votes_export_as_battles_and_rank(tmp_path):
    db = tmp_path / "log.db"
    store = Store(db)
    recorder = store.start_session("app")
    _vote(recorder, ["a", "b"], "winner", 0)
    _vote(recorder, ["a", "b", "c"], "winner", 2)  # c beats a and c beats b
    _vote(recorder, ["b", "c"], "both_bad")
    _vote(recorder, ["a", "c"], "tie")
    comparison = Comparison([ReplayEngine("a", "x"), ReplayEngine("b", "y")], Request("q"),
                            subscribers=[recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait()
    recorder.cast(comparison, "winner", 1).result(10)
    recorder.undo(comparison).result(10)  # withdrawn: not a battle
    store.close()
    out = tmp_path / "battles.jsonl"
    result = CliRunner().invoke(main, ["export", "--format", "battles", "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(b["model_a"], b["model_b"], b["winner"]) for b in lines] == [
        ("a", "b", "model_a"), ("c", "a", "model_a"), ("c", "b", "model_a"),
        ("b", "c", "tie (bothbad)"), ("a", "c", "tie"),
    ]
    assert all(b["tags"] == ["physics"] for b in lines)
    board = leaderboard(read_battles(out), rounds=0)
    assert board.battles == 5 and {s.model for s in board.standings} == {"a", "b", "c"}


def test_leaderboard_shows_pass_rates_next_to_ratings(tmp_path):
    from workbench.verify import Verdict

    db = tmp_path / "log.db"
    store = Store(db)
    recorder = store.start_session("app")
    comparison = Comparison([ReplayEngine("a", "x"), ReplayEngine("b", "y")], Request("q"),
                            subscribers=[recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait()
    recorder.cast(comparison, "winner", 0).result(10)
    recorder.verified(comparison.answers[0], Verdict(outcome="pass", passed=3, total=3)).result(10)
    recorder.verified(comparison.answers[1], Verdict(outcome="fail", passed=1, total=3)).result(10)
    store.close()
    text = CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--rounds", "10", "--min-votes", "1"]).stdout
    assert "tests passed" in text
    table = text.split("Pairwise")[0]
    lines = {line.split()[1]: line for line in table.splitlines() if line.strip()[:1].isdigit()}
    assert lines["a"].rstrip().endswith("1/1") and lines["b"].rstrip().endswith("0/1")
    data = json.loads(CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--json", "--rounds", "5", "--min-votes", "1"]).stdout)
    assert data["tests"]["a"] == {"run": 1, "passed": 1, "pass_rate": 1.0}

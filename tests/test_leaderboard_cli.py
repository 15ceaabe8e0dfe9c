"""`workbench leaderboard` over a real log and arena-format files, and the leaderboard screen in the app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.config import load_settings
from workbench.store import open_db

# (session, tags, blind, created_at, models shown, outcome, winner's index or None, retracted)
VOTES = [
    (1, ["physics"], True, "2026-01-10T10:00:00.000+00:00", ["alpha", "beta"], "winner", 0, False),
    (1, [], False, "2026-01-11T09:00:00.000+00:00", ["alpha", "beta"], "winner", 1, False),
    (1, None, False, "2026-01-12T23:59:59.000+00:00", ["alpha", "beta"], "tie", None, False),
    (1, ["refactor"], False, "2026-01-13T08:00:00.000+00:00", ["alpha", "beta"], "winner", 1, True),  # undone…
    (1, ["refactor"], False, "2026-01-13T08:00:05.000+00:00", ["alpha", "beta"], "winner", 0, False),  # …recast
    (2, ["physics", "code"], True, "2026-02-01T12:00:00.000+00:00", ["alpha", "beta", "gamma"], "winner", 2, False),
    (2, [], False, "2026-02-02T12:00:00.000+00:00", ["alpha", "gamma"], "both_bad", None, False),
]


def make_log(path: Path, votes=VOTES) -> Path:
    """A log as the app writes it: sessions → prompts → responses → votes (a retracted vote stays, marked)."""
    db = open_db(path)
    for sid in sorted({v[0] for v in votes}):
        db["sessions"].insert({"id": sid, "source": "app", "started_at": "2026-01-01T00:00:00.000+00:00"})
    retracted_prompt = None
    for session, tags, blind, when, shown, outcome, winner, retracted in votes:
        if retracted_prompt is not None:  # the recast vote is on the same prompt and answers
            prompt_id, ids, retracted_prompt = retracted_prompt
        else:
            prompt_id = db["prompts"].insert({"session_id": session, "text": "q", "created_at": when,
                                              "tags": None if tags is None else json.dumps(tags)}).last_pk
            ids = [db["responses"].insert({"prompt_id": prompt_id, "model_name": m, "position": i, "label": "ABC"[i],
                                           "blind": int(blind), "attempt": 0, "status": "complete",
                                           "text": "a"}).last_pk
                   for i, m in enumerate(shown)]
            if retracted:
                retracted_prompt = (prompt_id, ids, None)
        db["votes"].insert({"prompt_id": prompt_id, "created_at": when, "outcome": outcome,
                            "winner_response_id": ids[winner] if winner is not None else None,
                            "response_ids": json.dumps(ids), "scores": "{}", "blind": int(blind),
                            "retracted_at": when if retracted else None})
    db.conn.commit()
    db.conn.close()
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def board(*args: str, min_votes: str | None = "1") -> dict:
    """`leaderboard --json` with these arguments, parsed.

    The fixture log's 7 votes are below the default minimum for ranking; the tests using this helper are about
    counting, filtering and anchoring, so they rank every model (`--min-votes 1`) unless told otherwise.
    """
    result = invoke(*args, *(("--min-votes", min_votes) if min_votes else ()), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def standings(data: dict) -> dict:
    return {s["model"]: s for s in data["standings"]}


def error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), result.stderr
    return lines[0]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return make_log(tmp_path / "log.db")


def write_battles(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ARENA = [
    {"model_a": "alpha", "model_b": "gpt-public", "winner": "model_b"},
    {"model_a": "gpt-public", "model_b": "beta", "winner": "model_a"},
    {"model_a": "gpt-public", "model_b": "gamma", "winner": "tie"},
]


# -- the log --------------------------------------------------------------------

def test_json_counts_every_active_vote_and_no_retracted_one(log: Path):
    data = board("--db", str(log), "leaderboard", "--rounds", "30")
    assert data["battles"] == 7  # the three-pane vote is two battles; the retracted one is none
    assert data["bootstrap_rounds"] == 30
    s = standings(data)
    assert (s["alpha"]["votes"], s["alpha"]["wins"], s["alpha"]["losses"], s["alpha"]["ties"]) == (6, 2, 2, 2)
    assert (s["beta"]["votes"], s["beta"]["wins"], s["beta"]["losses"], s["beta"]["ties"]) == (5, 1, 3, 1)
    assert (s["gamma"]["votes"], s["gamma"]["wins"], s["gamma"]["losses"], s["gamma"]["ties"]) == (3, 2, 0, 1)
    assert data["win_rate_matrix"]["alpha"]["beta"] == pytest.approx(2.5 / 4)
    assert data["win_rate_matrix"]["gamma"]["alpha"] == 0.75  # a win and a both-bad
    for row in data["standings"]:
        assert row["lower"] <= row["rating"] <= row["upper"]


def test_the_db_option_also_goes_after_the_command(log: Path):
    assert board("leaderboard", "--db", str(log))["battles"] == 7


def test_the_text_table_and_matrix(log: Path):
    result = invoke("--db", str(log), "leaderboard", "--min-votes", "1")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("7 pairwise votes from the log ") and "mean rating 1000" in lines[0]
    header = lines[2].split()
    assert header[:3] == ["rank", "model", "rating"] and "interval" in lines[2] and "win rate" in lines[2]
    rows = {line.split()[1]: line.split() for line in lines[3:6]}
    assert set(rows) == {"alpha", "beta", "gamma"}
    data = standings(board("--db", str(log), "leaderboard"))  # same seed: the same figures
    for model, cells in rows.items():
        assert cells[0] == str(data[model]["rank"])
        assert cells[2] == f"{data[model]['rating']:.1f}"
        assert cells[3:6] == [f"{data[model]['lower']:.1f}", "–", f"{data[model]['upper']:.1f}"]
        assert cells[6] == str(data[model]["votes"])
        assert cells[7] == f"{data[model]['win_rate']:.1%}"
    assert any(line.startswith("Pairwise win rate") for line in lines)
    alpha_row = next(line for line in lines[7:] if " alpha " in f" {line} ")
    assert "–" in alpha_row and "62%" in alpha_row  # alpha against beta: 2.5 of 4


def test_filter_by_tag(log: Path):
    data = board("--db", str(log), "leaderboard", "--tag", "physics")
    assert data["battles"] == 3  # the first vote, and the three-pane one (two battles)
    assert board("--db", str(log), "leaderboard", "--tag", "refactor")["battles"] == 1  # only the recast vote


def test_blind_only(log: Path):
    data = board("--db", str(log), "leaderboard", "--blind-only")
    assert data["battles"] == 3
    assert standings(data)["gamma"]["wins"] == 2


def test_filter_by_session(log: Path):
    assert board("--db", str(log), "leaderboard", "--session", "2")["battles"] == 3
    assert "no session 9 in" in error_line(invoke("--db", str(log), "leaderboard", "--session", "9"))


def test_filter_by_date(log: Path):
    assert board("--db", str(log), "leaderboard", "--since", "2026-02-01")["battles"] == 3
    assert board("--db", str(log), "leaderboard", "--until", "2026-01-11")["battles"] == 2  # the whole day
    assert board("--db", str(log), "leaderboard", "--since", "2026-01-11", "--until", "2026-01-12")["battles"] == 2
    assert board("--db", str(log), "leaderboard", "--until", "2026-01-12T23:59:59")["battles"] == 2  # a time: before it
    assert board("--db", str(log), "leaderboard", "--since", "2026-01-13T09:00:00+01:00")["battles"] == 4
    assert "--since: not a date: 'yesterday'" in error_line(
        invoke("--db", str(log), "leaderboard", "--since", "yesterday"))


def test_anchor_and_anchor_model(log: Path):
    mean = standings(board("--db", str(log), "leaderboard", "--anchor", "1500", "--rounds", "0"))
    assert sum(s["rating"] for s in mean.values()) / 3 == pytest.approx(1500, abs=0.1)
    pinned = standings(board("--db", str(log), "leaderboard", "--anchor-model", "beta", "--rounds", "20"))
    assert pinned["beta"]["rating"] == pinned["beta"]["lower"] == pinned["beta"]["upper"] == 1000.0
    assert pinned["alpha"]["rating"] - pinned["beta"]["rating"] == pytest.approx(
        mean["alpha"]["rating"] - mean["beta"]["rating"], abs=0.2)
    assert "--anchor-model: anchor model 'zeta' has no votes" in error_line(
        invoke("--db", str(log), "leaderboard", "--anchor-model", "zeta"))


def test_no_votes_says_so_and_exits_1(tmp_path: Path):
    empty = tmp_path / "empty.db"
    open_db(empty).conn.close()
    for db in (empty, tmp_path / "never-made.db"):
        result = invoke("--db", str(db), "leaderboard")
        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr.startswith("no votes to rank in the log ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "never-made.db").exists(), "a read command must not create a log"
    log = make_log(tmp_path / "log.db")
    result = invoke("--db", str(log), "leaderboard", "--tag", "nothing-has-it", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert "no votes to rank" in result.stderr and "matching the filters" in result.stderr


# -- arena-format files -----------------------------------------------------------

def test_battles_file_alone(tmp_path: Path):
    path = write_battles(tmp_path / "arena.jsonl", ARENA)
    data = board("--db", str(tmp_path / "unused.db"), "leaderboard", "--battles", str(path), "--no-log")
    assert data["battles"] == 3
    assert standings(data)["gpt-public"]["wins"] == 2
    assert not (tmp_path / "unused.db").exists()


def test_battles_file_beside_the_log(log: Path, tmp_path: Path):
    path = write_battles(tmp_path / "arena.jsonl", ARENA)
    listed = tmp_path / "more.json"
    listed.write_text(json.dumps(ARENA[:1]), encoding="utf-8")
    data = board("--db", str(log), "leaderboard", "--battles", str(path), "--battles", str(listed))
    assert data["battles"] == 7 + 3 + 1
    s = standings(data)
    assert s["alpha"]["votes"] == 6 + 2 and s["gpt-public"]["votes"] == 4
    result = invoke("--db", str(log), "leaderboard", "--battles", str(path), "--min-votes", "1")
    assert f"from the log {log} (7), {path} (3)" in result.stdout.splitlines()[0]


def test_an_arena_file_ranks_correctly(tmp_path: Path):
    rows = ([{"model_a": "strong", "model_b": "middling", "winner": "model_a"}] * 40
            + [{"model_a": "middling", "model_b": "strong", "winner": "model_a"}] * 10
            + [{"model_a": "middling", "model_b": "weak", "winner": "model_a"}] * 40
            + [{"model_a": "weak", "model_b": "middling", "winner": "tie (bothbad)"}] * 10
            + [{"model_a": "weak", "model_b": "strong", "winner": "model_b"}] * 30)
    path = write_battles(tmp_path / "arena.jsonl", rows)
    data = board("leaderboard", "--battles", str(path), "--no-log", min_votes=None)  # 70+ votes each: the default
    assert [(s["model"], s["rank"]) for s in data["standings"]] == [("strong", 1), ("middling", 2), ("weak", 3)]
    assert data["warnings"] == [] and all(s["ranked"] and s["set_by_prior"] is None for s in data["standings"])


@pytest.mark.parametrize("row, message", [
    ({"model_a": "a", "model_b": "b", "winner": "alpha"}, "unknown winner 'alpha'"),
    ({"model_a": "a", "winner": "tie"}, "missing or empty 'model_b'"),
    ({"model_a": "a", "model_b": "a", "winner": "tie"}, "paired with itself"),
])
def test_a_bad_battles_file_is_one_line_naming_the_line(tmp_path: Path, row: dict, message: str):
    path = write_battles(tmp_path / "arena.jsonl", [ARENA[0], row, ARENA[1]])
    line = error_line(invoke("leaderboard", "--battles", str(path), "--no-log"))
    assert f"{path}:2: " in line and message in line


def test_bad_json_and_a_missing_file(tmp_path: Path):
    path = tmp_path / "arena.jsonl"
    path.write_text(json.dumps(ARENA[0]) + "\n{not json\n", encoding="utf-8")
    assert f"{path}:2: not valid JSON" in error_line(invoke("leaderboard", "--battles", str(path), "--no-log"))
    assert "cannot read" in error_line(invoke("leaderboard", "--battles", str(tmp_path / "nope.jsonl")))


def test_no_log_needs_a_file_and_takes_no_log_filters(tmp_path: Path):
    assert "--no-log needs" in error_line(invoke("leaderboard", "--no-log"))
    path = write_battles(tmp_path / "arena.jsonl", ARENA)
    assert "drop --no-log" in error_line(invoke("leaderboard", "--battles", str(path), "--no-log", "--tag", "x"))


def test_a_damaged_log_is_one_line(tmp_path: Path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    assert str(bad) in error_line(invoke("--db", str(bad), "leaderboard"))


# -- the screen -----------------------------------------------------------------------

async def test_the_leaderboard_screen_draws_a_bar_per_model(tmp_path: Path):
    from textual.widgets import DataTable

    from workbench.ui.app import build_app
    from workbench.ui.screens.leaderboard import LeaderboardScreen
    from workbench.ui.widgets.rating_bars import INTERVAL, MARKER, RatingBars

    two = [v for v in VOTES if set(v[4]) == {"alpha", "beta"}]
    log = make_log(tmp_path / "log.db", two)
    app = build_app(load_settings(), [], [])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LeaderboardScreen(log, min_votes=1)  # 4 votes: ranked only on request
        await app.push_screen(screen)
        end = time.monotonic() + 30
        while screen.board is None and time.monotonic() < end:
            await pilot.pause(0.05)
        await pilot.pause()
        assert screen.board is not None
        bars = screen.query_one(RatingBars)
        drawn = bars.render().plain.splitlines()
        assert len(drawn) == 1 + 2 + 2  # a header, a row per model, the scale's ticks and labels
        rows = drawn[1:3]
        assert all(row.count(MARKER) == 1 for row in rows)
        assert {row.split()[1] for row in rows} == {"alpha", "beta"}
        for row, s in zip(rows, screen.board.standings):
            assert row.split()[1] == s.model
            assert INTERVAL in row and f"{s.rating:.1f}" in row and f"{s.votes} votes" in row
            assert f"{s.upper - s.rating:+.0f}/{s.lower - s.rating:+.0f}" in row
        # The bars share one scale: the better model's marker sits further right.
        assert rows[0].index(MARKER) > rows[1].index(MARKER)
        table = screen.query_one("#win-rates", DataTable)
        assert table.row_count == 2 and len(table.columns) == 3
        assert "4 pairwise votes" in str(screen.query_one("#leaderboard-title").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LeaderboardScreen)


async def test_the_leaderboard_screen_without_votes(tmp_path: Path):
    from workbench.ui.app import build_app
    from workbench.ui.screens.leaderboard import LeaderboardScreen
    from workbench.ui.widgets.rating_bars import RatingBars

    log = make_log(tmp_path / "log.db")
    app = build_app(load_settings(), [], [])
    async with app.run_test(size=(100, 30)) as pilot:
        screen = LeaderboardScreen(log, tag="no-such-tag")
        await app.push_screen(screen)
        message = screen.query_one("#leaderboard-message")
        end = time.monotonic() + 30
        while "No votes yet" not in str(message.render()) and time.monotonic() < end:
            await pilot.pause(0.05)
        assert "No votes yet on prompts tagged no-such-tag" in str(message.render())
        assert not screen.query(RatingBars), "no bars without votes"


async def test_rating_bars_share_one_scale():
    from textual.app import App, ComposeResult

    from workbench.arena import Leaderboard, Standing
    from workbench.ui.widgets.rating_bars import INTERVAL, LEFT_HALF, MARKER, RIGHT_HALF, RatingBars

    class One(App):
        def compose(self) -> ComposeResult:
            yield RatingBars()

    app = One()
    async with app.run_test(size=(100, 12)) as pilot:
        bars = app.query_one(RatingBars)
        assert bars.render().plain == "No votes yet."
        bars.leaderboard = Leaderboard([Standing("wide-high", 1200.0, 1100.0, 1300.0, 1, 50, 40, 10, 0),
                                        Standing("narrow-low", 900.0, 880.0, 920.0, 2, 50, 10, 40, 0)], {}, 50, 100)
        await pilot.pause()
        drawn = bars.render().plain.splitlines()
        assert bars.size.height == 5
        high, low = drawn[1], drawn[2]

        def extent(row: str) -> tuple[int, int]:
            cells = [i for i, ch in enumerate(row) if ch in INTERVAL + LEFT_HALF + RIGHT_HALF + MARKER]
            return cells[0], cells[-1]

        (h0, h1), (l0, l1) = extent(high), extent(low)
        assert l1 < h0, "disjoint intervals do not overlap on the shared scale"
        assert 4 <= (h1 - h0) / (l1 - l0) <= 6.5  # 200 points wide against 40, give or take a cell
        assert abs(high.index(MARKER) - (h0 + h1) / 2) <= 1  # the rating sits mid-interval
        assert "1200.0 +100/-100" in high and "900.0 +20/-20" in low
        assert "1000" in drawn[-1] and "1200" in drawn[-1]  # the scale's labels


# -- bounded work and bounded input -------------------------------------------------------------------

def test_too_many_bootstrap_rounds_is_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import workbench.arena

    def never(*_args, **_kwargs):
        raise AssertionError("the bootstrap must not start")

    monkeypatch.setattr(workbench.arena, "leaderboard", never)  # 10^8 rounds once ran for days
    battles = write_battles(tmp_path / "votes.jsonl", ARENA)
    line = error_line(invoke("leaderboard", "--no-log", "--battles", str(battles), "--rounds", "100000000"))
    assert "--rounds" in line and "10000" in line


def test_the_most_rounds_allowed_still_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import workbench.arena

    asked = []
    real = workbench.arena.leaderboard

    def quick(votes, rounds, **kwargs):  # 10000 real rounds take seconds: record the request, run a few
        asked.append(rounds)
        return real(votes, rounds=3, **kwargs)

    monkeypatch.setattr(workbench.arena, "leaderboard", quick)
    battles = write_battles(tmp_path / "votes.jsonl", ARENA)
    board("leaderboard", "--no-log", "--battles", str(battles), "--rounds", "10000")
    assert asked == [10000]


def test_a_battles_file_that_is_not_a_regular_file_is_refused(tmp_path: Path):
    import os

    from bounded import cli, one_error_line

    fifo = tmp_path / "votes.jsonl"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        line = one_error_line(cli("leaderboard", "--no-log", "--battles", path, timeout=20))
        assert path in line and "not a regular file" in line


# -- what the votes cannot tell ---------------------------------------------------------------

def pairs_of(a: str, b: str, a_wins: int = 0, b_wins: int = 0, ties: int = 0) -> list[dict]:
    """Arena-format rows: a run of votes between two models."""
    return ([{"model_a": a, "model_b": b, "winner": "model_a"}] * a_wins
            + [{"model_a": a, "model_b": b, "winner": "model_b"}] * b_wins
            + [{"model_a": a, "model_b": b, "winner": "tie"}] * ties)


def log_of(path: Path, *runs: tuple[str, str, int, int]) -> Path:
    """A log holding runs of (a, b, a's wins, b's wins) votes."""
    rows = []
    for a, b, a_wins, b_wins in runs:
        for k in range(a_wins + b_wins):
            when = f"2026-01-{1 + len(rows) // 50:02d}T10:{len(rows) % 50:02d}:00.000+00:00"
            rows.append((1, [], False, when, [a, b], "winner", 0 if k < a_wins else 1, False))
    return make_log(path, rows)


def test_one_vote_says_so_in_one_line_instead_of_ranking(tmp_path: Path):
    log = log_of(tmp_path / "log.db", ("alpha", "beta", 1, 0))
    result = invoke("--db", str(log), "leaderboard")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("Too few votes to rank: 1 pairwise vote so far, and a model needs 10 to be ranked "
                             "(alpha 1, beta 1). --min-votes N ranks with fewer.\n")


def test_min_votes_ranks_with_fewer_and_marks_what_the_prior_set(tmp_path: Path):
    log = log_of(tmp_path / "log.db", ("alpha", "beta", 1, 0))
    result = invoke("--db", str(log), "leaderboard", "--min-votes", "1")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("; mean rating 1000; models ranked from 1 vote")
    rows = {line.split()[1]: line.split() for line in lines[3:5]}
    assert rows["alpha"][2].endswith("*") and rows["beta"][2].endswith("*")  # the rating is marked
    assert "* alpha won every battle: its rating is set by the prior, not measured." in lines
    assert "* beta lost every battle: its rating is set by the prior, not measured." in lines
    assert "--min-votes must be 1 or more, not 0" in error_line(invoke("--db", str(log), "leaderboard",
                                                                       "--min-votes", "0"))


def test_too_few_votes_as_json_still_carries_the_facts(tmp_path: Path):
    log = log_of(tmp_path / "log.db", ("alpha", "beta", 2, 1))
    result = invoke("--db", str(log), "leaderboard", "--json", "--rounds", "5")
    assert result.exit_code == 1  # no leaderboard, as in text
    data = json.loads(result.stdout)
    assert data["battles"] == 3 and data["min_votes"] == 10
    assert [(s["model"], s["rank"], s["ranked"]) for s in data["standings"]] == [("alpha", None, False),
                                                                              ("beta", None, False)]
    assert [w["kind"] for w in data["warnings"]] == ["too_few_votes"]
    assert "needs 10 to be ranked" in data["warnings"][0]["message"]
    assert data["fit"]["prior"] == 0.1 and data["fit"]["scale"] == 400 and data["fit"]["anchor"] == 1000


def test_a_model_with_too_few_votes_is_listed_not_ranked(tmp_path: Path):
    rows = pairs_of("alpha", "beta", 7, 6, 1) + pairs_of("beta", "gamma", 2, 1)
    path = write_battles(tmp_path / "arena.jsonl", rows)
    result = invoke("leaderboard", "--no-log", "--battles", str(path))
    assert result.exit_code == 0, result.stderr
    table = result.stdout.split("Pairwise")[0]
    assert [line.split()[1] for line in table.splitlines()[3:] if line[:4].strip().isdigit()] == ["alpha", "beta"]
    assert "Not ranked yet, with fewer than 10 votes: gamma (3)." in table.splitlines()
    data = standings(board("leaderboard", "--no-log", "--battles", str(path), min_votes=None))
    assert (data["gamma"]["rank"], data["gamma"]["ranked"], data["alpha"]["ranked"]) == (None, False, True)


def test_groups_that_never_met_are_ranked_apart(tmp_path: Path):
    log = log_of(tmp_path / "log.db", ("alpha", "beta", 11, 1), ("gamma", "delta", 7, 5))
    result = invoke("--db", str(log), "leaderboard")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2] == ("The models fall into 2 groups that never met, directly or through others: ratings "
                        "compare only within a group, and each group is ranked on its own.")
    one, two = lines.index("Group 1 of 2 (2 models, 12 votes)"), lines.index("Group 2 of 2 (2 models, 12 votes)")
    assert [line.split()[:2] for line in lines[one + 2:one + 4]] == [["1", "alpha"], ["2", "beta"]]
    assert [line.split()[:2] for line in lines[two + 2:two + 4]] == [["1", "gamma"], ["1", "delta"]]
    data = board("--db", str(log), "leaderboard", min_votes=None)
    assert data["groups"] == [["alpha", "beta"], ["gamma", "delta"]]
    assert {s["model"]: s["group"] for s in data["standings"]} == {"alpha": 1, "beta": 1, "gamma": 2, "delta": 2}
    assert [w["kind"] for w in data["warnings"]] == ["groups"]


def test_an_unbeaten_model_is_marked_in_text_and_json(tmp_path: Path):
    path = write_battles(tmp_path / "arena.jsonl", pairs_of("alpha", "beta", 12) + pairs_of("beta", "gamma", 6, 5, 1))
    result = invoke("leaderboard", "--no-log", "--battles", str(path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    alpha = next(line for line in lines if line.split()[1:2] == ["alpha"])
    assert alpha.split()[2].endswith("*")
    assert "* alpha won every battle: its rating is set by the prior, not measured." in lines
    data = board("leaderboard", "--no-log", "--battles", str(path), min_votes=None)
    assert standings(data)["alpha"]["set_by_prior"] == "won_all"
    assert {"kind": "won_all", "models": ["alpha"],
            "message": "alpha won every battle: its rating is set by the prior, not measured."} in data["warnings"]


def test_enough_votes_rank_with_no_warning(tmp_path: Path):
    log = log_of(tmp_path / "log.db", ("alpha", "beta", 8, 4), ("beta", "gamma", 6, 5), ("gamma", "alpha", 3, 7))
    result = invoke("--db", str(log), "leaderboard")
    assert result.exit_code == 0, result.stderr
    assert "*" not in result.stdout and "Not ranked" not in result.stdout and "Group" not in result.stdout
    assert board("--db", str(log), "leaderboard", min_votes=None)["warnings"] == []


def test_help_says_what_the_fit_assumes():
    text = " ".join(invoke("leaderboard", "--help").stdout.split())
    for phrase in ("LM Arena", "400 × log10-odds", "--anchor", "0.1 of a game won and 0.1 lost", "--min-votes",
                   "never met", "set by the prior, not measured", "warnings"):
        assert phrase in text, phrase


def test_the_commands_default_is_the_arenas():
    from workbench.arena import DEFAULT_MIN_VOTES
    from workbench.commands import leaderboard

    assert leaderboard.DEFAULT_MIN_VOTES == DEFAULT_MIN_VOTES


async def open_screen(app, pilot, screen):
    await app.push_screen(screen)
    end = time.monotonic() + 30
    while screen.board is None and time.monotonic() < end:
        await pilot.pause(0.05)
    await pilot.pause()
    assert screen.board is not None


def verify(log: Path, outcomes: dict[str, str]) -> None:
    """Record one verification per model: its first answer's outcome."""
    db = open_db(log)
    for model, outcome in outcomes.items():
        rid = db.execute("SELECT min(id) FROM responses WHERE model_name = ?", [model]).fetchone()[0]
        db["verifications"].insert({"response_id": rid, "created_at": "2026-01-01T00:00:00.000+00:00",
                                    "outcome": outcome, "passed": 3 if outcome == "pass" else 1, "total": 3})
    db.conn.commit()
    db.conn.close()


async def test_the_screen_shows_tests_passed_and_marks_a_sweep(tmp_path: Path):
    from textual.widgets import DataTable, Static

    from workbench.ui.app import build_app
    from workbench.ui.screens.leaderboard import LeaderboardScreen

    log = log_of(tmp_path / "log.db", ("alpha", "beta", 12, 0), ("beta", "gamma", 6, 5), ("beta", "[b]gamma", 1, 0))
    verify(log, {"alpha": "pass", "beta": "fail"})
    app = build_app(load_settings(), [], [])
    async with app.run_test(size=(140, 50)) as pilot:
        screen = LeaderboardScreen(log)
        await open_screen(app, pilot, screen)
        [table] = screen.query(".standings").results(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["rank", "model", "rating", "95% interval",
                                                                  "votes", "win rate", "tests passed"]
        rows = {str(table.get_row(key)[1]): [str(c) for c in table.get_row(key)] for key in table.rows}
        assert set(rows) == {"alpha", "beta", "gamma"}  # [b]gamma has one vote: not ranked
        assert rows["alpha"][-1] == "1/1" and rows["beta"][-1] == "0/1" and rows["gamma"][-1] == "–"
        assert rows["alpha"][2].endswith("*") and not rows["gamma"][2].endswith("*")
        notes = str(screen.query_one("#leaderboard-notes", Static).render())
        assert "* alpha won every battle: its rating is set by the prior, not measured." in notes
        assert "Not ranked yet, with fewer than 10 votes: [b]gamma (1)." in notes  # a name is not markup
        assert not screen.query_one("#leaderboard-message").display
        assert "ranked from 10 votes" in str(screen.query_one("#leaderboard-title").render())


async def test_the_screen_says_too_few_votes_and_shows_groups(tmp_path: Path):
    from workbench.ui.app import build_app
    from workbench.ui.screens.leaderboard import LeaderboardScreen
    from workbench.ui.widgets.rating_bars import RatingBars

    few = log_of(tmp_path / "few.db", ("alpha", "beta", 2, 1))
    apart = log_of(tmp_path / "apart.db", ("alpha", "beta", 7, 5), ("gamma", "delta", 7, 5))
    app = build_app(load_settings(), [], [])
    async with app.run_test(size=(140, 50)) as pilot:
        screen = LeaderboardScreen(few)
        await open_screen(app, pilot, screen)
        message = str(screen.query_one("#leaderboard-message").render())
        assert message == "Too few votes to rank: 3 pairwise votes so far, and a model needs 10 to be ranked " \
                          "(alpha 3, beta 3)."
        assert not screen.query(RatingBars) and screen.query_one("#win-rates").display  # the votes, unranked
        app.pop_screen()
        screen = LeaderboardScreen(apart)
        await open_screen(app, pilot, screen)
        assert "2 groups that never met" in str(screen.query_one("#leaderboard-message").render())
        headings = [str(s.render()) for s in screen.query("GroupStandings .section")]
        assert headings == ["Group 1 of 2 (2 models, 12 votes)", "Group 2 of 2 (2 models, 12 votes)"]
        bars = list(screen.query(RatingBars))
        assert [[s.model for s in b.leaderboard.standings] for b in bars] == [["alpha", "beta"], ["gamma", "delta"]]
        assert [s.rank for b in bars for s in b.leaderboard.standings] == [1, 1, 1, 1]


# -- style control ----------------------------------------------------------------

def styled_log(path: Path, runs: list[tuple[str, str, str, str, int, int]]) -> Path:
    """A log of runs (model a, its answer, model b, its answer, a's wins, b's wins), one prompt per vote."""
    db = open_db(path)
    db["sessions"].insert({"id": 1, "source": "app", "started_at": "2026-01-01T00:00:00.000+00:00"})
    for a, text_a, b, text_b, a_wins, b_wins in runs:
        for k in range(a_wins + b_wins):
            prompt_id = db["prompts"].insert({"session_id": 1, "text": "q",
                                              "created_at": "2026-01-05T10:00:00.000+00:00"}).last_pk
            ids = [db["responses"].insert({"prompt_id": prompt_id, "model_name": m, "position": i, "label": "AB"[i],
                                           "blind": 1, "attempt": 0, "status": "complete", "text": t}).last_pk
                   for i, (m, t) in enumerate(((a, text_a), (b, text_b)))]
            db["votes"].insert({"prompt_id": prompt_id, "created_at": "2026-01-05T10:00:00.000+00:00",
                                "outcome": "winner", "winner_response_id": ids[0 if k < a_wins else 1],
                                "response_ids": json.dumps(ids), "scores": "{}", "blind": 1})
    db.conn.commit()
    db.conn.close()
    return path


LONG = "# Answer\n\n" + "\n".join(f"- **point {i}**: " + "word " * 30 for i in range(8))
SHORT = "A short answer in one line."


def test_style_control_shows_both_ranks_and_the_coefficients(tmp_path: Path):
    """Long markdown answers from `wordy` win more often than its strength alone would say: the plain board has
    it first, the style-controlled one does not, and the coefficients block names the four covariates."""
    log = styled_log(tmp_path / "log.db", [
        ("wordy", LONG, "plain", SHORT, 14, 6), ("wordy", SHORT, "plain", SHORT, 4, 8),
        ("plain", SHORT, "third", SHORT, 8, 6), ("wordy", LONG, "third", SHORT, 12, 4),
        ("plain", LONG, "third", SHORT, 9, 3), ("third", LONG, "wordy", SHORT, 7, 5)])
    result = invoke("--db", str(log), "leaderboard", "--style-control", "--rounds", "30")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "style control: answer length and markdown (headers, lists, bold) held equal" in out.splitlines()[0]
    head = next(line for line in out.splitlines() if line.startswith("rank"))
    assert head.split()[:4] == ["rank", "plain", "model", "rating"] and "plain rating" in head
    assert "Style coefficients" in out
    for label in ("length (tokens)", "headers", "list items", "bold spans"):
        assert any(line.strip().startswith(label) for line in out.splitlines()), label
    data = board("--db", str(log), "leaderboard", "--style-control", "--rounds", "30")
    rows = standings(data)
    assert rows["wordy"]["rating"] > rows["plain"]["rating"]
    assert rows["wordy"]["controlled"]["rating"] < rows["wordy"]["rating"]
    assert data["style_control"]["coefficients"][0]["coef"] > 0
    plain = invoke("--db", str(log), "leaderboard", "--rounds", "30").stdout
    assert "Style coefficients" not in plain and "style control" not in plain


def test_style_control_on_an_arena_file_needs_conv_metadata(tmp_path: Path):
    bare = write_battles(tmp_path / "bare.jsonl", pairs_of("x", "y", 6, 5))
    line = error_line(invoke("leaderboard", "--no-log", "--battles", str(bare), "--style-control"))
    assert str(bare) in line and "11 of 11 battles have no conv_metadata" in line
    assert "style control needs the answers' lengths and markdown counts" in line and "the log" in line
    meta = {"sum_assistant_a_tokens": 300, "sum_assistant_b_tokens": 100, "header_count_a": 2, "header_count_b": 0,
            "list_count_a": 4, "list_count_b": 1, "bold_count_a": 1, "bold_count_b": 0}
    rows = [dict(r, conv_metadata=dict(meta, sum_assistant_b_tokens=100 + 20 * i))
            for i, r in enumerate(pairs_of("x", "y", 6, 5))]
    data = board("leaderboard", "--no-log", "--battles", str(write_battles(tmp_path / "meta.jsonl", rows)), "--style-control",
                 "--rounds", "10")
    assert set(standings(data)["x"]["controlled"]) == {"rating", "lower", "upper", "rank"}


# -- fresh prompts -----------------------------------------------------------------

def dated_log(path: Path, rows: list[tuple[str | None, str, str, str, int]]) -> Path:
    """A log of votes (prompt key or None for typed text, the day it was sent, model a, model b, winner index)."""
    db = open_db(path)
    db["sessions"].insert({"id": 1, "source": "app", "started_at": "2026-01-01T00:00:00.000+00:00"})
    for key, day, a, b, winner in rows:
        when = f"{day}T10:00:00.000+00:00"
        prompt_id = db["prompts"].insert({"session_id": 1, "text": "q", "created_at": when, "prompt_key": key}).last_pk
        ids = [db["responses"].insert({"prompt_id": prompt_id, "model_name": m, "position": i, "label": "AB"[i],
                                       "blind": 1, "attempt": 0, "status": "complete", "text": "a"}).last_pk
               for i, m in enumerate((a, b))]
        db["votes"].insert({"prompt_id": prompt_id, "created_at": when, "outcome": "winner",
                            "winner_response_id": ids[winner], "response_ids": json.dumps(ids), "scores": "{}",
                            "blind": 1})
    db.conn.commit()
    db.conn.close()
    return path


def prompt_file(home: Path, name: str, created: str | None) -> None:
    folder = home / "prompts"
    folder.mkdir(exist_ok=True)
    front = f"---\ncreated: {created}\n---\n" if created else ""
    (folder / f"{name}.md").write_text(front + f"The {name} question.\n")


CONFIG = """
[[models]]
name = "old"
engine = "replay"
path = "x.txt"
cutoff = "2024-06"

[[models]]
name = "new"
engine = "replay"
path = "y.txt"
cutoff = "2025-03"

[[models]]
name = "nodate"
engine = "replay"
path = "z.txt"
"""


def test_fresh_keeps_votes_on_prompts_created_after_every_rated_models_cutoff(tmp_path: Path, workbench_home: Path):
    (workbench_home / "config.toml").write_text(CONFIG)
    prompt_file(workbench_home, "recent", "2025-06-01")     # after both cutoffs
    prompt_file(workbench_home, "between", "2024-12-01")    # after old's, before new's
    prompt_file(workbench_home, "edge", "2025-03-31")       # the last day new's cutoff covers
    prompt_file(workbench_home, "undated", None)
    rows = ([("recent", "2026-01-02", "old", "new", 0)] * 3 + [("between", "2026-01-02", "old", "new", 1)] * 4
            + [("edge", "2026-01-02", "new", "old", 0)] * 2 + [("undated", "2026-01-02", "old", "new", 1)] * 2
            + [(None, "2026-01-03", "new", "old", 1)] * 5       # typed in the app in 2026: fresh
            + [(None, "2026-01-03", "old", "nodate", 0)] * 2     # a model with no cutoff: left out
            + [("gone", "2026-01-03", "old", "new", 0)])        # a prompt file no longer in the library
    log = dated_log(tmp_path / "log.db", rows)
    data = board("--db", str(log), "leaderboard", "--fresh")
    assert data["battles"] == 8
    assert data["fresh"] == {"after": "2025-03-31", "latest_cutoff": {"new": "2025-03"}, "kept": 8, "total": 19,
                             "created_by_then": 6, "no_prompt_date": 3,
                             "no_cutoff": {"votes": 2, "models": ["nodate"]}}
    assert (standings(data)["old"]["wins"], standings(data)["new"]["wins"]) == (8, 0)
    result = invoke("--db", str(log), "leaderboard", "--fresh", "--min-votes", "1")
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == ("--fresh: 8 of 19 votes are on prompts created after 2025-03-31, the latest cutoff of the "
                     "rated models (new 2025-03); left out: 6 on prompts created by then, 3 on prompts with no "
                     "created date, 2 with models that have no cutoff (nodate: set cutoff = \"YYYY-MM\" on its "
                     "[[models]] entry)")
    assert result.stdout.splitlines()[1].startswith("8 pairwise votes (of 19, --fresh) from the log")
    everything = board("--db", str(log), "leaderboard")
    assert everything["battles"] == 19 and "fresh" not in everything


def test_fresh_with_nothing_left_says_why(tmp_path: Path, workbench_home: Path):
    (workbench_home / "config.toml").write_text(CONFIG)
    prompt_file(workbench_home, "between", "2024-12-01")
    log = dated_log(tmp_path / "log.db", [("between", "2026-01-02", "old", "new", 1)] * 3)
    result = invoke("--db", str(log), "leaderboard", "--fresh")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "--fresh: 0 of 3 votes are on prompts created after 2025-03-31, the latest cutoff of the rated models "
        "(new 2025-03); left out: 3 on prompts created by then",
        "no votes to rank in the log " + str(log) + " with --fresh"]


def test_the_demo_models_have_their_cards_cutoffs(tmp_path: Path):
    from workbench.commands.leaderboard import DEMO_CUTOFFS

    assert DEMO_CUTOFFS == {"gemma3-270m": "2024-08", "smollm2": "2024-11"}
    log = dated_log(tmp_path / "log.db", [(None, "2024-10-15", "gemma3-270m", "smollm2", 0)] * 2
                    + [(None, "2024-12-01", "gemma3-270m", "smollm2", 1)] * 3)
    data = board("--db", str(log), "leaderboard", "--fresh")
    assert data["fresh"]["after"] == "2024-11-30" and data["battles"] == 3

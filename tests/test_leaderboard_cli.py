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


def board(*args: str) -> dict:
    """`leaderboard --json` with these arguments, parsed."""
    result = invoke(*args, "--json")
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
    result = invoke("--db", str(log), "leaderboard")
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
    result = invoke("--db", str(log), "leaderboard", "--battles", str(path))
    assert f"from the log {log} (7), {path} (3)" in result.stdout.splitlines()[0]


def test_an_arena_file_ranks_correctly(tmp_path: Path):
    rows = ([{"model_a": "strong", "model_b": "middling", "winner": "model_a"}] * 40
            + [{"model_a": "middling", "model_b": "strong", "winner": "model_a"}] * 10
            + [{"model_a": "middling", "model_b": "weak", "winner": "model_a"}] * 40
            + [{"model_a": "weak", "model_b": "middling", "winner": "tie (bothbad)"}] * 10
            + [{"model_a": "weak", "model_b": "strong", "winner": "model_b"}] * 30)
    path = write_battles(tmp_path / "arena.jsonl", rows)
    data = board("leaderboard", "--battles", str(path), "--no-log")
    assert [(s["model"], s["rank"]) for s in data["standings"]] == [("strong", 1), ("middling", 2), ("weak", 3)]


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
        screen = LeaderboardScreen(log)
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
        assert not screen.query_one(RatingBars).display


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

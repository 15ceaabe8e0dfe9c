"""Votes → ratings: hand-checked cases, synthetic votes from known strengths, the rank rule, battles files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from workbench import arena
from workbench.arena import Battle, BattleError, leaderboard, read_battles

ELO = 400 / math.log(10)  # rating points per unit of natural-log strength


def votes(a: str, b: str, a_wins: int = 0, b_wins: int = 0, ties: int = 0, both_bad: int = 0) -> list[Battle]:
    """A run of votes between two models."""
    return ([Battle(a, b, "model_a")] * a_wins + [Battle(a, b, "model_b")] * b_wins
            + [Battle(a, b, "tie")] * ties + [Battle(a, b, "tie (bothbad)")] * both_bad)


def by_model(board) -> dict:
    return {s.model: s for s in board.standings}


# -- hand-checked small cases -------------------------------------------------

def test_two_wins_in_three_is_400_log10_2_apart():
    board = by_model(leaderboard(votes("A", "B", a_wins=2, b_wins=1), rounds=0, prior=0))
    assert board["A"].rating - board["B"].rating == pytest.approx(400 * math.log10(2), abs=0.11)  # 120.4
    assert board["A"].rating == pytest.approx(1000 + 200 * math.log10(2), abs=0.06)  # mean pinned at 1000
    assert board["B"].rating == pytest.approx(1000 - 200 * math.log10(2), abs=0.06)


def test_the_b_side_winning_counts_the_same_as_the_a_side():
    one = by_model(leaderboard(votes("A", "B", a_wins=2, b_wins=1), rounds=0, prior=0))
    other = by_model(leaderboard(votes("B", "A", a_wins=1, b_wins=2), rounds=0, prior=0))
    assert one["A"].rating == other["A"].rating and one["B"].rating == other["B"].rating


def test_a_tie_is_half_a_win_for_each_side():
    # A: one win and one tie in two = 1.5 of 2, odds 3:1.
    board = by_model(leaderboard(votes("A", "B", a_wins=1, ties=1), rounds=0, prior=0))
    assert board["A"].rating - board["B"].rating == pytest.approx(400 * math.log10(3), abs=0.11)  # 190.8
    assert (board["A"].wins, board["A"].ties, board["A"].losses) == (1, 1, 0)
    assert board["A"].win_rate == 0.75 and board["B"].win_rate == 0.25


def test_both_bad_counts_as_a_tie():
    tie = leaderboard(votes("A", "B", a_wins=3, b_wins=1, ties=2), rounds=20, seed=3)
    both_bad = leaderboard(votes("A", "B", a_wins=3, b_wins=1, both_bad=2), rounds=20, seed=3)
    assert tie.as_dict() == both_bad.as_dict()


def test_only_ties_rates_everyone_alike():
    board = leaderboard(votes("A", "B", ties=5) + votes("B", "C", both_bad=4), rounds=10)
    assert {s.rating for s in board.standings} == {1000.0}


def test_anchor_sets_the_mean_or_pins_one_model():
    data = votes("A", "B", a_wins=2, b_wins=1)
    moved = by_model(leaderboard(data, rounds=0, prior=0, anchor=1500))
    assert moved["A"].rating + moved["B"].rating == pytest.approx(3000, abs=0.11)
    pinned = by_model(leaderboard(data, rounds=50, prior=0, anchor=1200, anchor_model="B"))
    assert pinned["B"].rating == 1200.0
    assert pinned["A"].rating == pytest.approx(1200 + 400 * math.log10(2), abs=0.11)
    # Each bootstrap round is pinned the same way, so the anchor's own interval is a point.
    assert pinned["B"].lower == pinned["B"].upper == 1200.0
    assert pinned["A"].lower < pinned["A"].rating < pinned["A"].upper


def test_an_anchor_model_without_votes_is_refused():
    with pytest.raises(ValueError, match="'C' has no votes"):
        leaderboard(votes("A", "B", a_wins=1), anchor_model="C")


def test_no_votes_is_an_error():
    with pytest.raises(ValueError, match="no votes to rank"):
        leaderboard([])


def test_a_cycle_rates_everyone_alike():
    board = leaderboard(votes("A", "B", a_wins=1) + votes("B", "C", a_wins=1) + votes("C", "A", a_wins=1),
                        rounds=0, prior=0)
    assert {s.rating for s in board.standings} == {1000.0}


def test_a_perfect_record_still_gets_a_finite_rating():
    board = by_model(leaderboard(votes("A", "B", a_wins=10), rounds=30))
    assert 1000 < board["A"].rating < 2000 and 0 < board["B"].rating < 1000
    assert all(math.isfinite(x) for s in board.values() for x in (s.lower, s.upper))


def test_the_fit_is_the_posterior_mode_not_a_rescaled_one():
    """With the prior (a game won and lost against a player of strength 1), the fitted strengths must make
    the log-posterior flat. The votes fix only ratios, so the mode's scale s solves, for every model i,
    prior·(1 − 2σ(θᵢ + s)) = −gᵢ, gᵢ being the votes' gradient: the s each model implies must agree."""
    wins = np.array([[0, 10, 3], [2, 0, 5], [1, 5, 0]], dtype=float)
    games = wins + wins.T
    for prior in (0.1, 1.0):
        theta = arena._fit(wins, games, prior) * math.log(10)
        p = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        g = wins.sum(axis=1) - (games * p).sum(axis=1)
        q = (1 + g / prior) / 2
        implied = np.log(q / (1 - q)) - theta
        assert np.ptp(implied) < 1e-6, (prior, implied)


def test_a_long_chain_of_neighbours_converges():
    """Models that meet only their neighbours (an arena pairing similar models) are slow for MM iterations,
    which stopped at their cap short of the maximum (here by 4.6 points end to end); the fit must reach it."""
    won = 585  # of 1,000 against the next model down: 400·log10(585/415) ≈ 59.6 points apart
    data = []
    for i in range(29):
        data += votes(f"m{i + 1:02d}", f"m{i:02d}", a_wins=won, b_wins=1000 - won)
    board = by_model(leaderboard(data, rounds=0, prior=0, anchor=0))
    fitted = np.array([board[f"m{i:02d}"].rating for i in range(30)])
    link = 400 * math.log10(won / (1000 - won))
    assert np.max(np.abs(np.diff(fitted) - link)) < 0.11  # ratings are rounded to 0.1
    assert fitted[-1] - fitted[0] == pytest.approx(29 * link, abs=0.11)


# -- what the standings report ----------------------------------------------

def test_counts_win_rate_and_matrix():
    data = (votes("A", "B", a_wins=2, b_wins=1, ties=1) + votes("C", "A", a_wins=1, both_bad=1)
            + votes("B", "D", b_wins=3))
    board = leaderboard(data, rounds=10)
    s = by_model(board)
    assert (s["A"].votes, s["A"].wins, s["A"].losses, s["A"].ties) == (6, 2, 2, 2)
    assert s["A"].win_rate == pytest.approx(3 / 6)
    assert (s["D"].votes, s["D"].wins, s["D"].losses, s["D"].ties) == (3, 3, 0, 0)
    m = board.matrix
    assert m["A"]["B"] == pytest.approx(2.5 / 4) and m["B"]["A"] == pytest.approx(1.5 / 4)
    assert m["C"]["A"] == 0.75 and m["A"]["C"] == 0.25
    assert m["D"]["B"] == 1.0 and m["B"]["D"] == 0.0
    assert m["A"]["D"] is None and m["C"]["B"] is None  # never met
    assert "A" not in m["A"]
    assert board.battles == len(data) == 9
    assert [x.model for x in board.standings] == sorted(s, key=lambda k: -s[k].rating)


def test_as_dict_is_json_with_everything_the_cli_prints():
    board = leaderboard(votes("A", "B", a_wins=3, b_wins=1), rounds=10)
    data = json.loads(json.dumps(board.as_dict()))
    assert data["battles"] == 4 and data["bootstrap_rounds"] == 10
    row = data["standings"][0]
    assert set(row) >= {"model", "rating", "lower", "upper", "rank", "votes", "wins", "losses", "ties", "win_rate"}
    assert row["model"] == "A" and row["win_rate"] == 0.75
    assert data["win_rate_matrix"]["A"]["B"] == 0.75


def test_same_seed_same_intervals():
    data = votes("A", "B", a_wins=30, b_wins=20, ties=5) + votes("B", "C", a_wins=25, b_wins=25)
    assert leaderboard(data, seed=7).as_dict() == leaderboard(data, seed=7).as_dict()
    assert leaderboard(data, seed=7).as_dict() != leaderboard(data, seed=8).as_dict()


def test_rank_is_one_plus_the_models_whose_interval_is_wholly_above():
    data = (votes("top", "mid1", a_wins=90, b_wins=10) + votes("top", "mid2", a_wins=90, b_wins=10)
            + votes("mid1", "mid2", a_wins=50, b_wins=50)
            + votes("mid1", "low", a_wins=90, b_wins=10) + votes("mid2", "low", a_wins=90, b_wins=10))
    board = leaderboard(data, rounds=100)
    ranks = {s.model: s.rank for s in board.standings}
    assert ranks == {"top": 1, "mid1": 2, "mid2": 2, "low": 4}
    for s in board.standings:
        assert s.rank == 1 + sum(o.lower > s.upper for o in board.standings)


def test_overlapping_intervals_share_a_rank():
    board = leaderboard(votes("A", "B", a_wins=6, b_wins=4), rounds=100)
    assert [s.rank for s in board.standings] == [1, 1]


# -- synthetic votes from known strengths -------------------------------------

def draw(true: np.ndarray, n_votes: int, rng: np.random.Generator) -> list[Battle]:
    """Bradley–Terry votes between models m0, m1, … whose true ratings are `true`."""
    k = len(true)
    a = rng.integers(0, k, n_votes)
    b = (a + rng.integers(1, k, n_votes)) % k
    a_wins = rng.random(n_votes) < 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
    return [Battle(f"m{x}", f"m{y}", "model_a" if w else "model_b") for x, y, w in zip(a, b, a_wins)]


def test_the_fit_recovers_the_order_and_the_spacing():
    true = np.array([-200.0, -120.0, -40.0, 40.0, 120.0, 200.0])
    board = leaderboard(draw(true, 30_000, np.random.default_rng(11)), rounds=50, anchor=0)
    assert [s.model for s in board.standings] == ["m5", "m4", "m3", "m2", "m1", "m0"]
    fitted = np.array([by_model(board)[f"m{i}"].rating for i in range(6)])
    assert np.max(np.abs(fitted - true)) < 15
    assert [s.rank for s in board.standings] == [1, 2, 3, 4, 5, 6]


def test_the_95_percent_intervals_cover_the_truth_at_about_their_rate():
    true = np.array([-150.0, -60.0, 0.0, 70.0, 140.0])
    centred = true - true.mean()  # ratings are reported with their mean at the anchor
    covered = []
    for rep in range(40):
        rng = np.random.default_rng(1000 + rep)
        board = by_model(leaderboard(draw(true, 1000, rng), rounds=100, anchor=0, seed=rep))
        covered += [board[f"m{i}"].lower <= centred[i] <= board[f"m{i}"].upper for i in range(5)]
    rate = sum(covered) / len(covered)
    assert 0.85 <= rate <= 1.0, rate


# -- battles files ------------------------------------------------------------

ROWS = [
    {"model_a": "gpt", "model_b": "llama", "winner": "model_a", "turn": 1},
    {"model_a": "llama", "model_b": "gpt", "winner": "tie (bothbad)"},
    {"model_a": "gpt", "model_b": "qwen", "winner": "tie"},
    {"model_a": "qwen", "model_b": "llama", "winner": "model_b"},
]
EXPECTED = [Battle("gpt", "llama", "model_a"), Battle("llama", "gpt", "tie (bothbad)"),
            Battle("gpt", "qwen", "tie"), Battle("qwen", "llama", "model_b")]


def test_reads_a_json_list_and_jsonl_alike(tmp_path):
    listed = tmp_path / "battles.json"
    listed.write_text(json.dumps(ROWS, indent=2), encoding="utf-8")
    lines = tmp_path / "battles.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    assert read_battles(listed) == EXPECTED
    assert read_battles(lines) == EXPECTED
    compact = tmp_path / "compact.json"
    compact.write_text("\ufeff" + json.dumps(ROWS), encoding="utf-8")  # one line, with a byte-order mark
    assert read_battles(compact) == EXPECTED
    empty = tmp_path / "empty.json"
    empty.write_text(" [ ]\n", encoding="utf-8")
    assert read_battles(empty) == []


BAD = [
    ({"model_a": "a", "model_b": "b", "winner": "a"}, "unknown winner 'a'"),
    ({"model_a": "a", "winner": "tie"}, "missing or empty 'model_b'"),
    ({"model_a": "a", "model_b": "", "winner": "tie"}, "missing or empty 'model_b'"),
    ({"model_a": "a", "model_b": "b"}, "missing or empty 'winner'"),
    ({"model_a": "a", "model_b": "a", "winner": "tie"}, "model 'a' is paired with itself"),
    (["a", "b", "tie"], "expected an object"),
]


@pytest.mark.parametrize("row, message", BAD)
def test_a_bad_jsonl_row_names_its_line(tmp_path, row, message):
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n" + json.dumps(ROWS[1]) + "\n" + json.dumps(row) + "\n",
                    encoding="utf-8")
    with pytest.raises(BattleError) as caught:
        read_battles(path)
    assert str(caught.value).startswith(f"{path}:4: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("row, message", BAD)
def test_a_bad_item_in_a_json_list_names_its_line(tmp_path, row, message):
    path = tmp_path / "votes.json"
    path.write_text(f"[\n  {json.dumps(ROWS[0])},\n  {json.dumps(ROWS[1])},\n\n  {json.dumps(row)}\n]\n",
                    encoding="utf-8")
    with pytest.raises(BattleError) as caught:
        read_battles(path)
    assert str(caught.value).startswith(f"{path}:5 (item 3): ")
    assert message in str(caught.value)


def test_bad_json_names_its_line(tmp_path):
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + '{"model_a": "a", "model_b": "b", "winner": "tie"\n', encoding="utf-8")
    with pytest.raises(BattleError, match=r"votes\.jsonl:2: not valid JSON"):
        read_battles(path)
    listed = tmp_path / "votes.json"
    listed.write_text('[\n  {"model_a": "a", "model_b": "b", "winner": "tie"},\n  {"model_a": "a" "model_b"}\n]\n',
                      encoding="utf-8")
    with pytest.raises(BattleError, match=r"votes\.json:3: not valid JSON"):
        read_battles(listed)
    trailing = tmp_path / "trailing.json"
    trailing.write_text('[{"model_a": "a", "model_b": "b", "winner": "tie"}]\n]\n', encoding="utf-8")
    with pytest.raises(BattleError, match=r"trailing\.json:2: not valid JSON: extra data"):
        read_battles(trailing)


def test_a_missing_file_is_a_battle_error(tmp_path):
    with pytest.raises(BattleError, match="cannot read"):
        read_battles(tmp_path / "nope.jsonl")


def test_a_file_ranks_like_the_same_votes_given_directly(tmp_path):
    data = draw(np.array([0.0, 100.0, 200.0]), 600, np.random.default_rng(5))
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(b.__dict__) + "\n" for b in data), encoding="utf-8")
    assert leaderboard(read_battles(path)).as_dict() == leaderboard(data).as_dict()
    assert [s.model for s in leaderboard(data).standings] == ["m2", "m1", "m0"]

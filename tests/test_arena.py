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


# -- what the votes cannot tell ------------------------------------------------

def test_one_vote_is_not_ranked_and_says_how_many_are_needed():
    board = leaderboard(votes("A", "B", a_wins=1), rounds=20)
    assert not board.ranked and board.min_votes == arena.DEFAULT_MIN_VOTES == 10
    assert [(s.model, s.rank, s.ranked) for s in board.standings] == [("A", None, False), ("B", None, False)]
    [note] = board.warnings
    assert note["kind"] == "too_few_votes" and note["models"] == ["A", "B"]
    assert note["message"] == ("Too few votes to rank: 1 pairwise vote so far, and a model needs 10 to be ranked "
                               "(A 1, B 1).")


def test_a_model_below_the_minimum_is_fitted_but_not_ranked():
    data = votes("A", "B", a_wins=6, b_wins=5) + votes("B", "C", a_wins=2, b_wins=1)
    board = by_model(leaderboard(data, rounds=20, min_votes=10))
    assert (board["A"].ranked, board["B"].ranked, board["C"].ranked) == (True, True, False)
    assert board["C"].rank is None and board["A"].rank == board["B"].rank == 1
    assert board["C"].votes == 3 and math.isfinite(board["C"].rating)  # its votes still inform B's rating
    unranked = leaderboard(data, rounds=20, min_votes=10).warnings
    assert unranked == [{"kind": "unranked", "models": ["C"],
                         "message": "Not ranked yet, with fewer than 10 votes: C (3)."}]
    assert all(s.ranked for s in leaderboard(data, rounds=0, min_votes=1).standings)


def test_models_that_never_met_form_groups_ranked_on_their_own():
    # A crushes B; C and D are even. Ranked together, C and D would sit below A's interval (rank 2): they
    # never met A or B, so nothing says so.
    data = votes("A", "B", a_wins=90, b_wins=10) + votes("C", "D", a_wins=24, b_wins=24, ties=2)
    board = leaderboard(data, rounds=50)
    assert board.groups == [["A", "B"], ["C", "D"]]  # the group with more votes first
    s = by_model(board)
    assert (s["A"].group, s["B"].group, s["C"].group, s["D"].group) == (1, 1, 2, 2)
    assert s["A"].lower > s["C"].upper  # the single ranking this replaces put C at rank 2
    assert (s["A"].rank, s["B"].rank, s["C"].rank, s["D"].rank) == (1, 2, 1, 1)
    [note] = board.warnings
    assert note["kind"] == "groups" and note["groups"] == [["A", "B"], ["C", "D"]]
    assert "2 groups that never met" in note["message"] and "each group is ranked on its own" in note["message"]
    assert [x.model for x in board.standings] == ["A", "B", "C", "D"]  # group by group
    joined = leaderboard(data + votes("B", "C", ties=1), rounds=0)  # one vote between them joins the groups
    assert [sorted(g) for g in joined.groups] == [["A", "B", "C", "D"]] and joined.warnings == []


def test_a_clean_sweep_is_marked_as_set_by_the_prior():
    board = leaderboard(votes("A", "B", a_wins=12) + votes("B", "C", a_wins=6, b_wins=6), rounds=20)
    s = by_model(board)
    assert (s["A"].set_by_prior, s["B"].set_by_prior, s["C"].set_by_prior) == ("won_all", "lost_all", "lost_all")
    assert board.warnings == [
        {"kind": "won_all", "models": ["A"],
         "message": "A won every battle: its rating is set by the prior, not measured."},
        {"kind": "lost_all", "models": ["B", "C"],
         "message": "B and C lost every battle against the other models: how far below them they are is set by "
                    "the prior, not measured."},
    ]
    one = leaderboard(votes("A", "B", a_wins=1), rounds=0, min_votes=1)
    assert [(x.model, x.set_by_prior) for x in one.standings] == [("A", "won_all"), ("B", "lost_all")]
    assert [w["message"] for w in one.warnings] == [
        "A won every battle: its rating is set by the prior, not measured.",
        "B lost every battle: its rating is set by the prior, not measured."]


def test_no_sweep_mark_when_every_gap_is_measured():
    # A never lost, but tied B, and B lost to C: A, B and C each scored against the rest, so every gap is measured.
    data = votes("A", "B", a_wins=5, ties=5) + votes("B", "C", a_wins=5, b_wins=5) + votes("C", "A", a_wins=0, b_wins=5)
    board = leaderboard(data, rounds=0)
    assert board.warnings == [] and {s.set_by_prior for s in board.standings} == {None}
    tie_only = leaderboard(votes("A", "B", ties=12), rounds=0)
    assert tie_only.warnings == []


def test_as_dict_carries_the_warnings_and_the_fit_and_keeps_its_keys():
    data = json.loads(json.dumps(leaderboard(votes("A", "B", a_wins=3), rounds=5).as_dict()))
    assert {"battles", "bootstrap_rounds", "standings", "win_rate_matrix"} <= set(data)
    assert data["min_votes"] == 10 and data["groups"] == [["A", "B"]]
    assert [w["kind"] for w in data["warnings"]] == ["too_few_votes"]
    assert data["fit"] == {"model": "Bradley-Terry", "scale": 400, "anchor": 1000.0, "anchor_model": None,
                           "prior": 0.1, "ties": "half a win each"}
    row = data["standings"][0]
    assert (row["rank"], row["ranked"], row["group"], row["set_by_prior"]) == (None, False, 1, "won_all")


# -- parity with LM Arena ------------------------------------------------------

def fastchat_loss_and_grad(ratings: np.ndarray, battles: list[Battle], models: list[str]):
    """FastChat's `bt_loss_and_grad` (fastchat/serve/monitor/elo_analysis.py), restated with numpy alone: ratings
    in log10 units (alpha = ln 10), a tie is outcome 0.5, each battle weighs 1."""
    alpha = math.log(10)
    index = {m: i for i, m in enumerate(models)}
    pairs = np.array([[index[b.model_a], index[b.model_b]] for b in battles])
    outcome = np.array([1.0 if b.winner == "model_a" else 0.0 if b.winner == "model_b" else 0.5 for b in battles])
    logits = alpha * (ratings[pairs[:, 0]] - ratings[pairs[:, 1]])
    probs = 1 / (1 + np.exp(-logits))
    loss = -(np.log(probs) * outcome + np.log(1 - probs) * (1 - outcome)).sum()
    grad = np.zeros_like(ratings)
    np.add.at(grad, pairs[:, 0], -alpha * (outcome - probs))
    np.add.at(grad, pairs[:, 1], alpha * (outcome - probs))
    return loss, grad


def test_without_the_prior_the_ratings_are_lm_arenas():
    """LM Arena's ratings are the minimum of FastChat's loss, scaled by 400 from 1000 (its L-BFGS starts at zero and
    every gradient sums to zero, so their mean stays at 1000, as ours). Ours, with prior 0, must be that minimum;
    with the default prior, within a point once models have a few hundred votes each."""
    data = draw(np.array([-150.0, -60.0, 0.0, 70.0, 140.0]), 2000, np.random.default_rng(21))
    data += [Battle("m0", "m4", "tie"), Battle("m2", "m3", "tie (bothbad)")] * 20
    models = sorted({b.model_a for b in data} | {b.model_b for b in data})
    cats, counts = arena._counts(models, data)
    theirs = arena._fit(*arena._matrices(len(models), cats, counts), prior=0)  # log10 strengths, unrounded
    loss, grad = fastchat_loss_and_grad(theirs, data, models)
    assert np.max(np.abs(grad)) < 1e-6
    for i in range(len(models)):  # a point off either way costs likelihood: a minimum, not a saddle
        for step in (1 / 400, -1 / 400):
            assert fastchat_loss_and_grad(theirs + step * np.eye(len(models))[i], data, models)[0] > loss
    exact = by_model(leaderboard(data, rounds=0, prior=0))
    assert [exact[m].rating for m in models] == [round(1000 + 400 * float(t), 1) for t in theirs]
    default = by_model(leaderboard(data, rounds=0))
    assert max(abs(default[m].rating - exact[m].rating) for m in models) < 1.0


def test_the_rank_rule_is_lm_arenas():
    """FastChat's `recompute_final_ranking`: 1 + the models whose 2.5% bound is above this model's 97.5% bound."""
    data = draw(np.array([-100.0, -90.0, 0.0, 10.0, 120.0]), 1500, np.random.default_rng(4))
    board = leaderboard(data, rounds=60)
    for s in board.standings:
        assert s.rank == 1 + sum(o.model != s.model and o.lower > s.upper for o in board.standings)


# -- robustness ------------------------------------------------------------------

def test_a_resample_that_leaves_a_model_out_still_fits():
    """30 sparse votes among 10 models (a pool's first draws): one bootstrap round holds no vote of m2, whose
    only anchor is then the prior. Newton's first step for it overshot so far that P(beats the reference)
    rounded to exactly 0 or 1, the curvature to 0, and the solve raised 'Singular matrix'."""
    code = ("34b 69a 78a 12a 05b 23b 67b 45b 57b 18b 39b 01a 68b 58a 04b 13a 48b 19b 09b 49b 58a 57a 23b 13b "
            "03b 69b 89b 46b 79b 59b")
    data = [Battle(f"m{c[0]}", f"m{c[1]}", "model_a" if c[2] == "a" else "model_b") for c in code.split()]
    board = leaderboard(data, rounds=50, min_votes=1, seed=0)
    assert all(math.isfinite(x) for s in board.standings for x in (s.rating, s.lower, s.upper))


# -- style control -------------------------------------------------------------

def test_style_counts_length_headers_lists_and_bold_outside_code():
    text = ("# Title\n\nSome **bold** and __more__ words.\n\n## Steps\n1. first\n2. second\n- a bullet\n"
            "* another\n\n```python\n# not a heading\n- not a list\nx = '**not bold**'\n```\nEnd.")
    style = arena.style_of(text)
    assert (style.headers, style.lists, style.bold) == (2, 4, 2)
    assert style.tokens == len(arena._TOKEN.findall(text)) > 30
    assert arena.style_of("") == arena.style_of(None) == arena.Style(0, 0, 0, 0)
    assert arena.style_of("**x** is not a list item\n*  * neither is a rule?").lists == 1  # '*  *': a bullet


def styled(true: dict[str, float], verbose: dict[str, float], n_votes: int, rng: np.random.Generator,
           bias: float) -> list[Battle]:
    """Votes from known strengths (rating points) where voters also prefer the longer answer: the log-odds
    that A wins gain `bias` × the normalised length difference (a − b) / (a + b + 1). Each model's answers
    run about `verbose[model]` tokens; headers, lists and bold are drawn at random and sway no one."""
    models = list(true)
    out = []
    for _ in range(n_votes):
        a, b = rng.choice(len(models), 2, replace=False)
        ma, mb = models[a], models[b]
        la, lb = (int(verbose[m] * rng.lognormal(0, 0.3)) for m in (ma, mb))
        diff = (la - lb) / (la + lb + 1)
        logit = (true[ma] - true[mb]) * math.log(10) / 400 + bias * diff
        won = rng.random() < 1 / (1 + math.exp(-logit))
        sa, sb = (arena.Style(n, *(int(x) for x in rng.poisson(2, 3))) for n in (la, lb))
        out.append(Battle(ma, mb, "model_a" if won else "model_b", sa, sb))
    return out


def test_style_control_recovers_the_true_order_that_a_length_bias_hides():
    """A planted preference for longer answers: the two weakest models write three times as much, and the
    plain ranking puts them on top. With style control the order is the true one, the ratings are near the
    truth, and only the length coefficient is told apart from zero."""
    true = {"terse-best": 120.0, "terse-good": 60.0, "mid": 0.0, "wordy-weak": -60.0, "wordy-worst": -120.0}
    verbose = {"terse-best": 150, "terse-good": 150, "mid": 300, "wordy-weak": 600, "wordy-worst": 600}
    data = styled(true, verbose, 4000, np.random.default_rng(3), bias=2.5)
    board = leaderboard(data, rounds=30, style_control=True)
    plain = [s.model for s in sorted(board.standings, key=lambda s: -s.rating)]
    controlled = [s.model for s in sorted(board.standings, key=lambda s: -s.controlled.rating)]
    truth = sorted(true, key=lambda m: -true[m])
    assert plain[:2] == ["wordy-weak", "wordy-worst"] and plain != truth
    assert controlled == truth
    rated = by_model(board)
    for m in true:
        assert abs(rated[m].controlled.rating - 1000 - true[m]) < 30, (m, rated[m].controlled)
        assert rated[m].controlled.lower < rated[m].controlled.rating < rated[m].controlled.upper
    coefs = {c["feature"]: c for c in board.style["coefficients"]}
    assert coefs["length"]["lower"] > 0.3
    for feature in ("headers", "lists", "bold"):
        assert coefs[feature]["lower"] < 0 < coefs[feature]["upper"], coefs[feature]
    assert coefs["length"]["points"] == round(coefs["length"]["coef"] * 400 / math.log(10), 1)
    assert rated["terse-best"].controlled.rank == 1 and rated["wordy-worst"].controlled.rank == 5


def test_without_a_style_effect_style_control_changes_little():
    true = {"a": 80.0, "b": 0.0, "c": -80.0}
    data = styled(true, {"a": 200, "b": 400, "c": 800}, 3000, np.random.default_rng(5), bias=0.0)
    board = leaderboard(data, rounds=20, style_control=True)
    for s in board.standings:
        assert abs(s.controlled.rating - s.rating) < 25
    length = board.style["coefficients"][0]
    assert length["feature"] == "length" and length["lower"] < 0 < length["upper"]


def test_style_control_needs_every_answers_style():
    data = votes("A", "B", a_wins=5, b_wins=5)
    with pytest.raises(ValueError, match="style control needs both answers' length and markdown counts; 10 of 10"):
        leaderboard(data, style_control=True)
    assert "style_control" not in leaderboard(data, rounds=5).as_dict()
    assert "controlled" not in leaderboard(data, rounds=5).as_dict()["standings"][0]


def test_a_style_that_never_differs_is_left_out():
    same = arena.Style(100, 0, 0, 0)
    data = [Battle("A", "B", w, same, same) for w in ["model_a"] * 7 + ["model_b"] * 3]
    board = leaderboard(data, rounds=5, style_control=True)
    assert [c["coef"] for c in board.style["coefficients"]] == [None] * 4
    plain = by_model(leaderboard(data, rounds=5))
    assert [s.controlled.rating for s in board.standings] == [plain[s.model].rating for s in board.standings]


def test_style_as_json_names_the_coefficients():
    data = styled({"a": 50.0, "b": -50.0}, {"a": 100, "b": 300}, 400, np.random.default_rng(1), bias=1.0)
    out = json.loads(json.dumps(leaderboard(data, rounds=5, style_control=True).as_dict()))
    assert [c["feature"] for c in out["style_control"]["coefficients"]] == ["length", "headers", "lists", "bold"]
    assert set(out["standings"][0]["controlled"]) == {"rating", "lower", "upper", "rank"}


def test_an_arena_file_with_conv_metadata_carries_the_style(tmp_path):
    meta = {"sum_assistant_a_tokens": 120, "sum_assistant_b_tokens": 40, "header_count_a": {"h1": 1, "h2": 2},
            "header_count_b": {"h1": 0}, "list_count_a": {"ordered": 3, "unordered": 4},
            "list_count_b": {"ordered": 0, "unordered": 1}, "bold_count_a": {"**": 2, "__": 0},
            "bold_count_b": 0, "sum_user_tokens": 9, "turns": 1}
    rows = [{"model_a": "x", "model_b": "y", "winner": "tie", "conv_metadata": meta},
            {"model_a": "x", "model_b": "y", "winner": "tie", "conv_metadata": {"turns": 1}},
            {"model_a": "x", "model_b": "y", "winner": "tie"}]
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    first, partial, bare = read_battles(path)
    assert (first.style_a, first.style_b) == (arena.Style(120, 3, 7, 2), arena.Style(40, 0, 1, 0))
    assert partial.style_a is partial.style_b is bare.style_a is None
    path.write_text(json.dumps({**rows[0], "conv_metadata": {**meta, "list_count_b": {"x": -1}}}))
    with pytest.raises(BattleError, match=r"b.jsonl:1: conv_metadata.list_count_b must be a count"):
        read_battles(path)


def test_style_control_does_not_depend_on_which_answer_is_side_a():
    """The log lists each vote's winner as model_a. Swapping the sides of any battle (and its winner) must not
    move a rating or a coefficient: subtracting the covariates' mean, as LM Arena's standardisation does (its
    sides are random, the mean about zero), would turn a length effect into a bonus for side A."""
    data = styled({"a": 60.0, "b": 0.0, "c": -60.0}, {"a": 150, "b": 300, "c": 600}, 1500,
                  np.random.default_rng(8), bias=2.0)
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}
    winner_first = [b if b.winner != "model_b" else Battle(b.model_b, b.model_a, "model_a", b.style_b, b.style_a)
                    for b in data]
    swapped = [Battle(b.model_b, b.model_a, flip[b.winner], b.style_b, b.style_a) for b in data]
    boards = [leaderboard(d, rounds=0, style_control=True) for d in (data, winner_first, swapped)]
    for other in boards[1:]:
        assert [s.controlled.rating for s in other.standings] == [s.controlled.rating for s in boards[0].standings]
        assert [c["coef"] for c in other.style["coefficients"]] == [c["coef"] for c in boards[0].style["coefficients"]]
    assert boards[0].style["coefficients"][0]["coef"] > 0.5

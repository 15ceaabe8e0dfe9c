"""Rating from the keyboard on the compare screen: a winner, a tie, both bad, undo, scores, tags.

Each rating is shown at once and handed to the recorder; "saved" is said only once the log has
committed it, and a failed write puts the screen back as it was (the error names the log).
"""

from __future__ import annotations

from textual import work

from workbench.blind import LABELS, outcome_text


def vote_mark(outcome: str | None, winner: int | None, index: int) -> str:
    """A pane's part in a vote, for its border: '★ winner', '= tie', '✗ both bad' or nothing."""
    if outcome == "winner":
        return "★ winner" if index == winner else ""
    return {"tie": "= tie", "both_bad": "✗ both bad"}.get(outcome or "", "")


class VotingMixin:
    """Vote actions for `CompareScreen`; the state they change lives in the screen's `Round`."""

    def _can_vote(self) -> bool:
        return self.round is not None

    def action_vote(self, index: int) -> None:
        """The pane at `index` (0 = A) wins over every other pane."""
        if not self._can_vote():
            return
        if index >= len(self.comparison.answers):
            self.notify(f"There is no pane {LABELS[index]}.", severity="warning", timeout=2)
            return
        self._cast("winner", index)

    def action_tie(self) -> None:
        """The answers are as good as each other."""
        if self._can_vote():
            self._cast("tie", None)

    def action_both_bad(self) -> None:
        """Every answer is bad (counted as a tie in the ratings)."""
        if self._can_vote():
            self._cast("both_bad", None)

    def _cast(self, outcome: str, winner: int | None) -> None:
        round_ = self.round
        comparison = round_.comparison
        shown = {
            "order": [a.model for a in comparison.answers],
            "labels": {LABELS[i]: a.model for i, a in enumerate(comparison.answers)},
            "blind": round_.blind,
            "revealed_before_vote": round_.revealed,
        }
        round_.vote = (outcome, winner)
        was_hidden = round_.hidden
        round_.revealed = True
        self._show_vote()
        self.refresh_bindings()
        text = outcome_text(outcome, LABELS[winner] if winner is not None else None)
        if was_hidden:
            names = ", ".join(f"{LABELS[i]} = {a.model}" for i, a in enumerate(comparison.answers))
            text += f" — revealed: {names}"
        if self.recorder is None:
            self.notify(f"Vote (not logged): {text}", timeout=4)
            return
        future = self.recorder.cast(comparison, outcome, winner, blind=round_.blind, shown=shown)
        self._settle_vote(round_, future, f"Vote saved: {text}", (outcome, winner))

    @work(group="votes")
    async def _settle_vote(self, round_, future, saved: str, vote: tuple) -> None:
        """Say "saved" once committed; on a failed write, show the vote the log holds (the reveal stays)."""
        if await self.confirm(future, saved):
            round_.saved_vote = vote  # the writer commits in order: the last success is what the log holds
            self._count_pair_vote(round_, vote)
            return
        self._restore_vote(round_)

    def _count_pair_vote(self, round_, vote: tuple | None) -> None:
        """Keep the pool's pair counts and outcomes as the log now holds them, for the next draw: this round's
        saved vote counts once (a changed vote replaces what it added, a withdrawn one takes it back)."""
        if not self.draw_from:
            return
        from workbench.blind import pair_points
        from workbench.store.queries import vote_pairs

        votes, wins = round_.pair_counted
        for key, n in votes.items():
            self._pair_votes[key] = self._pair_votes.get(key, 0) - n
        for key, points in wins.items():
            self._pair_wins[key] = self._pair_wins.get(key, 0) - points
        votes, wins = {}, {}
        if vote is not None:  # the battles the log reads from this vote (`battles`), by pane index
            answers = round_.comparison.answers
            names = {i: a.model for i, a in enumerate(answers)}
            for a, b, result in vote_pairs(vote[0], vote[1], list(names), names):
                key = tuple(sorted((a, b)))
                votes[key] = votes.get(key, 0) + 1
                for x, y, points in pair_points(a, b, result):
                    wins[(x, y)] = wins.get((x, y), 0) + points
        for key, n in votes.items():
            self._pair_votes[key] = self._pair_votes.get(key, 0) + n
        for key, points in wins.items():
            self._pair_wins[key] = self._pair_wins.get(key, 0) + points
        round_.pair_counted = (votes, wins)

    def _show_vote(self) -> None:
        round_ = self.round
        outcome, winner = round_.vote or (None, None)
        for i, pane in enumerate(self.panes):
            mark = vote_mark(outcome, winner, i)
            if round_.blind:
                pane.hidden_identity = round_.hidden
            pane.set_vote_mark(mark)
        if round_.blind and round_.revealed:
            from workbench.ui.widgets.prompt_bar import PromptBar

            self.query_one(PromptBar).set_mode(follow_up=False)  # the vote ended this blind round
        self._paint(force=True)

    def action_undo(self) -> None:
        """Withdraw the vote on this prompt (names stay revealed)."""
        round_ = self.round
        if round_ is None or round_.vote is None:
            return
        round_.vote = None
        self._show_vote()
        self.refresh_bindings()
        if self.recorder is None:
            return
        self._settle_undo(round_, self.recorder.undo(round_.comparison))

    @work(group="votes")
    async def _settle_undo(self, round_, future) -> None:
        if await self.confirm(future, "Vote withdrawn."):
            round_.saved_vote = None
            self._count_pair_vote(round_, None)
        else:
            self._restore_vote(round_)

    def _restore_vote(self, round_) -> None:
        """After a failed write: show the vote the log holds (the names stay revealed: they were seen)."""
        if round_ is self.round:
            round_.vote = round_.saved_vote
            self._show_vote()
            self.refresh_bindings()

    def action_score(self) -> None:
        """Scores 1–5 per answer and a note."""
        round_ = self.round
        if round_ is None:
            return
        from workbench.ui.screens.rating import ScoreDialog

        labels = [LABELS[i] for i in range(len(round_.comparison.answers))]

        def save(result) -> None:
            if result is None:
                return
            round_.scores, round_.note = result
            if self.recorder is not None:
                self._settle(self.recorder.score(round_.comparison, round_.scores, round_.note), "Scores saved.")

        self.app.push_screen(ScoreDialog(labels, round_.scores, round_.note), save)

    def action_tags(self) -> None:
        """Tag the prompt (physics, refactor…) for the leaderboard's --tag."""
        round_ = self.round
        if round_ is None:
            return
        from workbench.ui.screens.rating import TagDialog

        def save(tags) -> None:
            if tags is None:
                return
            round_.tags = tags
            if self.recorder is not None:
                self._settle(self.recorder.tag(round_.comparison, tags), f"Tags saved: {', '.join(tags) or 'none'}")

        self.app.push_screen(TagDialog(round_.tags), save)

    @work(group="saves")
    async def _settle(self, future, saved: str) -> None:
        await self.confirm(future, saved)

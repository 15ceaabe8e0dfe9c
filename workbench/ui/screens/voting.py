"""Rating from the keyboard on the compare screen: a winner, a tie, both bad, undo, scores, tags."""

from __future__ import annotations

from workbench.blind import LABELS, outcome_text


class VotingMixin:
    """Vote actions for `CompareScreen`; every vote is handed to the recorder at once."""

    def _can_vote(self) -> bool:
        return self.comparison is not None

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
        comparison = self.comparison
        shown = {
            "order": [a.model for a in comparison.answers],
            "labels": {LABELS[i]: a.model for i, a in enumerate(comparison.answers)},
            "blind": self.blind_now,
            "revealed_before_vote": self.revealed,
        }
        if self.recorder is not None:
            self.recorder.cast(comparison, outcome, winner, blind=self.blind_now, shown=shown)
        if self.vote is None and self.draw_from:
            # Keep the pool's pair counts current, so the next draw goes to pairs with fewer votes.
            models = sorted({a.model for a in comparison.answers})
            for k, a in enumerate(models):
                for b in models[k + 1:]:
                    self._pair_votes[(a, b)] = self._pair_votes.get((a, b), 0) + 1
        self.vote = (outcome, winner)
        was_hidden = self.blind_now and not self.revealed
        self.revealed = True
        self._show_vote()
        label = LABELS[winner] if winner is not None else None
        text = outcome_text(outcome, label)
        if was_hidden:
            names = ", ".join(f"{LABELS[i]} = {a.model}" for i, a in enumerate(comparison.answers))
            text += f" — revealed: {names}"
        self.notify(f"Vote saved: {text}", timeout=4)
        self.refresh_bindings()

    def _show_vote(self) -> None:
        outcome, winner = self.vote or (None, None)
        for i, pane in enumerate(self.panes):
            if outcome == "winner":
                mark = "★ winner" if i == winner else ""
            else:
                mark = {"tie": "= tie", "both_bad": "✗ both bad"}.get(outcome or "", "")
            if self.blind_now:
                pane.hidden_identity = not self.revealed
            pane.set_vote_mark(mark)
        self._paint(force=True)

    def action_undo(self) -> None:
        """Withdraw the vote on this prompt (names stay revealed)."""
        if self.comparison is None or self.vote is None:
            return
        if self.recorder is not None:
            self.recorder.undo(self.comparison)
        self.vote = None
        self._show_vote()
        self.notify("Vote withdrawn.", timeout=2)
        self.refresh_bindings()

    def action_score(self) -> None:
        """Scores 1–5 per answer and a note."""
        if self.comparison is None:
            return
        from workbench.ui.screens.rating import ScoreDialog

        labels = [LABELS[i] for i in range(len(self.comparison.answers))]
        comparison = self.comparison

        def save(result) -> None:
            if result is None:
                return
            self.scores, self.note = result
            if self.recorder is not None:
                self.recorder.score(comparison, self.scores, self.note)
            self.notify("Scores saved.", timeout=2)

        self.app.push_screen(ScoreDialog(labels, self.scores, self.note), save)

    def action_tags(self) -> None:
        """Tag the prompt (physics, refactor…) for the leaderboard's --tag."""
        if self.comparison is None:
            return
        from workbench.ui.screens.rating import TagDialog

        comparison = self.comparison

        def save(tags) -> None:
            if tags is None:
                return
            self.tags = tags
            if self.recorder is not None:
                self.recorder.tag(comparison, tags)
            self.notify(f"Tags: {', '.join(tags) or 'none'}", timeout=2)

        self.app.push_screen(TagDialog(self.tags), save)

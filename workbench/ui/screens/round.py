"""What the compare screen knows about the prompt on screen: one object, made anew for each prompt."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core import Comparison


@dataclass(eq=False)
class Round:
    """The comparison on screen and the screen's state about it (votes, badges, what is painted).

    A new prompt makes a new round, so nothing of the last prompt can leak into the next one.
    """

    comparison: Comparison
    blind: bool = False
    """The panes were shuffled and their names hidden when this prompt was sent."""
    revealed: bool = True
    """The names are on screen (always, unless blind and not yet voted)."""
    prompt_file: object = None
    """The library prompt it came from (its tests are what `v` runs), or None."""
    tags: list[str] = field(default_factory=list)
    vote: tuple[str, int | None] | None = None
    """(outcome, winning pane) as on screen, or None."""
    saved_vote: tuple[str, int | None] | None = None
    """The vote the log holds (what a failed write puts back on screen)."""
    scores: dict[int, int] = field(default_factory=dict)
    note: str = ""
    verdicts: dict[int, object] = field(default_factory=dict)
    """Pane index → the verdict of its latest run."""
    painted: dict[int, tuple[str, int]] = field(default_factory=dict)
    """Pane index → (answer id, pieces painted so far): a regenerated answer starts over."""
    figures: dict[int, tuple[str, float]] = field(default_factory=dict)
    """Pane index → (status, when) its figures line was last drawn."""
    pair_counted: tuple[dict, dict] = field(default_factory=lambda: ({}, {}))
    """What this round's saved vote added to the pool's pair counts and outcomes (taken back if it changes)."""

    @property
    def hidden(self) -> bool:
        """Whether names (and telling figures) must stay off the screen."""
        return self.blind and not self.revealed

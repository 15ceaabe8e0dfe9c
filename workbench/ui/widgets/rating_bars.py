"""The leaderboard drawn: a bar per model spanning its 95% interval, on one shared scale."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:
    from workbench.arena import Leaderboard

INTERVAL, LEFT_HALF, RIGHT_HALF, TRACK, MARKER, TICK = "━", "╸", "╺", "─", "●", "┬"
MIN_BAR = 10
NAME_MAX = 32


def _ticks(lo: float, hi: float, cells: int) -> list[float]:
    """Round rating values between lo and hi, about one per ten cells."""
    want = max(2, cells // 10)
    steps = sorted(b * 10**p for b in (1, 2, 2.5, 5) for p in range(-1, 6))
    step = next((st for st in steps if (hi - lo) / st <= want), steps[-1])
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) // step) + 1)]


class RatingBars(Widget):
    """Per model: rank, name, a bar over its 95% interval with a marker at its rating, rating ± and votes.

    Set `leaderboard` (an `arena.Leaderboard`, or None) and it redraws; it does no I/O.
    """

    COMPONENT_CLASSES = {
        "rating-bars--rank",
        "rating-bars--name",
        "rating-bars--track",
        "rating-bars--interval",
        "rating-bars--marker",
        "rating-bars--figures",
        "rating-bars--axis",
    }
    DEFAULT_CSS = """
    RatingBars { height: auto; padding: 0 1; }
    RatingBars > .rating-bars--rank { color: $text-muted; }
    RatingBars > .rating-bars--name { color: $text; text-style: bold; }
    RatingBars > .rating-bars--track { color: $panel-lighten-2; }
    RatingBars > .rating-bars--interval { color: $primary; }
    RatingBars > .rating-bars--marker { color: $accent; text-style: bold; }
    RatingBars > .rating-bars--figures { color: $text; }
    RatingBars > .rating-bars--axis { color: $text-muted; }
    """

    leaderboard: reactive[Leaderboard | None] = reactive(None, layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        board = self.leaderboard
        return 1 if board is None else len(board.standings) + 3  # header, rows, tick line, labels

    def render(self) -> Text:
        board = self.leaderboard
        if board is None or not board.standings:
            return Text("No votes yet.", style=self.get_component_rich_style("rating-bars--axis"))
        return self.draw(board, self.content_size.width or 80)

    def draw(self, board: Leaderboard, width: int) -> Text:
        """The whole drawing as text, `width` cells wide."""
        style = self.get_component_rich_style
        rows = board.standings
        names = [s.model if len(s.model) <= NAME_MAX else s.model[: NAME_MAX - 1] + "…" for s in rows]
        figures = [f"{s.rating:7.1f} {s.upper - s.rating:+.0f}/{s.lower - s.rating:+.0f}" for s in rows]
        votes = [f"{s.votes} vote{'s' * (s.votes != 1)}" for s in rows]
        rank_w = max(3, max(len(str(s.rank)) for s in rows) + 1)
        name_w = max(len(n) for n in names)
        fig_w = max(len(f) for f in figures)
        votes_w = max(len(v) for v in votes)
        lead = rank_w + 1 + name_w + 2
        bar_w = max(MIN_BAR, width - lead - 2 - fig_w - 2 - votes_w)
        lo = min(s.lower for s in rows)
        hi = max(s.upper for s in rows)
        pad = max((hi - lo) * 0.04, 5.0)
        lo, hi = lo - pad, hi + pad

        def half_cell(value: float) -> int:
            return round((value - lo) / (hi - lo) * (2 * bar_w - 1))

        out = Text(no_wrap=True, overflow="crop")
        out.append(f"{'#':>{rank_w}} {'model':<{name_w}}  ", style("rating-bars--axis"))
        out.append(f"{'95% interval, ● rating':<{bar_w}}  {'rating':>{fig_w}}  {'votes':>{votes_w}}\n",
                   style("rating-bars--axis"))
        for s, name, fig, vote in zip(rows, names, figures, votes):
            out.append(f"{s.rank:>{rank_w}} ", style("rating-bars--rank"))
            out.append(f"{name:<{name_w}}  ", style("rating-bars--name"))
            a, b = half_cell(s.lower), half_cell(s.upper)
            mark = min(bar_w - 1, half_cell(s.rating) // 2)
            for cell in range(bar_w):
                if cell == mark:
                    out.append(MARKER, style("rating-bars--marker"))
                    continue
                left, right = a <= 2 * cell <= b, a <= 2 * cell + 1 <= b
                if left and right:
                    out.append(INTERVAL, style("rating-bars--interval"))
                elif left:
                    out.append(LEFT_HALF, style("rating-bars--interval"))
                elif right:
                    out.append(RIGHT_HALF, style("rating-bars--interval"))
                else:
                    out.append(TRACK, style("rating-bars--track"))
            out.append(f"  {fig:>{fig_w}}  ", style("rating-bars--figures"))
            out.append(f"{vote:>{votes_w}}\n", style("rating-bars--axis"))
        ticks = [(t, min(bar_w - 1, half_cell(t) // 2)) for t in _ticks(lo, hi, bar_w)]
        line = [TRACK] * bar_w
        labels = [" "] * bar_w
        free = 0
        for value, cell in ticks:
            line[cell] = TICK
            label = f"{value:g}"
            start = max(0, min(bar_w - len(label), cell - len(label) // 2))
            if start >= free:
                labels[start:start + len(label)] = label
                free = start + len(label) + 1
        out.append(" " * lead + "".join(line) + "\n", style("rating-bars--axis"))
        out.append(" " * lead + "".join(labels), style("rating-bars--axis"))
        return out

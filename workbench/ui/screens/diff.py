"""Two panes' code (or whole answers) as a highlighted diff: side by side when wide, unified when narrow."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from workbench.ui.render import CodeStyle

SPLIT_MIN = 100
"""Side by side from this many columns; unified below."""
CONTEXT = 3
"""Unchanged lines shown around each change when folding."""
WORD_RATIO = 0.5
"""A changed line pair this alike gets its changed characters marked (less alike: the whole line is new)."""


@dataclass(frozen=True)
class Row:
    """One row of the diff before wrapping: a line of each side (None: none), or a fold of `count` lines."""

    kind: str
    """'equal', 'delete', 'insert', 'replace' (a changed line pair, split view only) or 'fold'."""
    a: int | None = None
    b: int | None = None
    count: int = 0


def _lines(text: str) -> list[str]:
    return text.expandtabs(4).splitlines()


def diff_rows(a: list[str], b: list[str], split: bool, fold: bool = True) -> tuple[list[Row], list[int]]:
    """The rows of the diff of line lists `a` and `b`, and the indexes of rows where a change starts."""
    rows: list[Row] = []
    starts: list[int] = []
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    fold = fold and len(opcodes) > 1  # identical texts are shown whole
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            keep_head = CONTEXT if n > 0 else 0
            keep_tail = CONTEXT if n < len(opcodes) - 1 else 0
            if fold and i2 - i1 > keep_head + keep_tail + 1:
                rows.extend(Row("equal", i, j1 + i - i1) for i in range(i1, i1 + keep_head))
                rows.append(Row("fold", count=i2 - i1 - keep_head - keep_tail))
                rows.extend(Row("equal", i, j1 + i - i1) for i in range(i2 - keep_tail, i2))
            else:
                rows.extend(Row("equal", i, j1 + i - i1) for i in range(i1, i2))
            continue
        starts.append(len(rows))
        if split:
            for k in range(max(i2 - i1, j2 - j1)):
                i = i1 + k if i1 + k < i2 else None
                j = j1 + k if j1 + k < j2 else None
                rows.append(Row("replace" if i is not None and j is not None else "delete" if j is None
                                else "insert", i, j))
        else:
            rows.extend(Row("delete", i, None) for i in range(i1, i2))
            rows.extend(Row("insert", None, j) for j in range(j1, j2))
    return rows, starts


Spans = dict[int, list[tuple[int, int]]]
"""Line index -> character ranges."""


def word_changes(a: list[str], b: list[str]) -> tuple[Spans, Spans]:
    """For each changed line paired with a like one, the character ranges that differ (left, right)."""
    left: Spans = {}
    right: Spans = {}
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "replace":
            continue
        for i, j in zip(range(i1, i2), range(j1, j2)):
            matcher = SequenceMatcher(None, a[i], b[j], autojunk=False)
            if matcher.real_quick_ratio() < WORD_RATIO or matcher.ratio() < WORD_RATIO:
                continue
            for op, x1, x2, y1, y2 in matcher.get_opcodes():
                if op != "equal":
                    if x2 > x1:
                        left.setdefault(i, []).append((x1, x2))
                    if y2 > y1:
                        right.setdefault(j, []).append((y1, y2))
    return left, right


def counts(a: list[str], b: list[str]) -> tuple[int, int]:
    """(lines added, lines removed) from `a` to `b`."""
    added = removed = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


@lru_cache(maxsize=256)
def _foreground(style: Style | str) -> Style | str:
    """A token's style without its background."""
    if isinstance(style, str):
        return style
    return Style(color=style.color, bold=style.bold, dim=style.dim, italic=style.italic,
                 underline=style.underline, strike=style.strike)


class DiffView(ScrollView, can_focus=True):
    """A scrollable, highlighted diff of two texts; `split` None chooses by width."""

    COMPONENT_CLASSES = {"diff--added", "diff--removed", "diff--added-word", "diff--removed-word",
                         "diff--gutter", "diff--fold", "diff--divider", "diff--empty"}
    DEFAULT_CSS = """
    DiffView { height: 1fr; background: $surface; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    DiffView > .diff--added { background: $success 18%; }
    DiffView > .diff--removed { background: $error 18%; }
    DiffView > .diff--added-word { background: $success 45%; }
    DiffView > .diff--removed-word { background: $error 45%; }
    DiffView > .diff--gutter { color: $text-muted; }
    DiffView > .diff--fold { color: $text-muted; background: $panel; text-style: italic; }
    DiffView > .diff--divider { color: $panel-lighten-2; }
    DiffView > .diff--empty { background: $panel; }
    """

    def __init__(self, left: str, right: str, language: str, code_style: CodeStyle, **kwargs) -> None:
        super().__init__(**kwargs)
        self.a, self.b = _lines(left), _lines(right)
        self.code_style = code_style
        self.language = language
        self.split: bool | None = None
        """Side by side (True), unified (False), or by width (None)."""
        self.fold = True
        """Fold long runs of unchanged lines."""
        self._hl_a = self._highlight(self.a)
        self._hl_b = self._highlight(self.b)
        self._words = word_changes(self.a, self.b)
        self._strips: list[Strip] = []
        self._change_rows: list[int] = []
        self._laid_out: tuple | None = None

    def _highlight(self, lines: list[str]) -> list[Text]:
        """Each line highlighted, with the colours only: the row's background shows what changed."""
        if not lines:
            return []
        highlighted = self.code_style.highlight("\n".join(lines), self.language)
        for text in highlighted:
            text.spans = [Span(span.start, span.end, _foreground(span.style)) for span in text.spans]
        return highlighted + [Text(line) for line in lines[len(highlighted):]]

    @property
    def is_split(self) -> bool:
        """Whether the diff is shown side by side now."""
        return self.split if self.split is not None else self.size.width >= SPLIT_MIN

    @property
    def text(self) -> str:
        """The rows as plain text (for tests)."""
        return "\n".join(strip.text for strip in self._strips)

    def on_resize(self) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Lay the rows out again (after a resize or a change of mode)."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        key = (width, self.is_split, self.fold)
        if key == self._laid_out:
            return
        self._laid_out = key
        self._strips, self._change_rows = self._render_rows(width)
        self.virtual_size = Size(width, len(self._strips))
        self.refresh()

    def next_change(self, direction: int) -> bool:
        """Scroll to the next (1) or previous (-1) change; False when there is none that way."""
        top = round(self.scroll_offset.y)
        if direction > 0:
            targets = [r for r in self._change_rows if r > top]
        else:
            targets = [r for r in self._change_rows if r < top][-1:]
        if not targets:
            return False
        self.scroll_to(y=targets[0], animate=False)
        return True

    # -- rendering --------------------------------------------------------
    def _render_rows(self, width: int) -> tuple[list[Strip], list[int]]:
        rows, starts = diff_rows(self.a, self.b, self.is_split, self.fold)
        styles = {name: self.get_component_rich_style(f"diff--{name}")
                  for name in ("added", "removed", "added-word", "removed-word", "gutter", "fold", "divider", "empty")}
        for name in ("added", "removed", "added-word", "removed-word"):  # only their backgrounds count
            styles[name] = Style(bgcolor=styles[name].bgcolor)
        styles["gutter"] = Style(color=styles["gutter"].color)
        self._styles = styles
        nw = len(str(max(len(self.a), len(self.b), 1)))
        strips: list[Strip] = []
        first_strip: dict[int, int] = {}
        split = self.is_split
        for n, row in enumerate(rows):
            first_strip[n] = len(strips)
            if row.kind == "fold":
                label = f"⋯ {row.count} unchanged line{'s' * (row.count != 1)} ⋯"
                fold_style = styles["fold"]
                strips.append(Strip([Segment(label.center(width), fold_style)]).crop_extend(0, width, fold_style))
            elif split:
                strips.extend(self._split_row(row, width, nw))
            else:
                strips.extend(self._unified_row(row, width, nw))
        return strips, [first_strip[s] for s in starts]

    def _base(self, kind: str, side: str) -> Style:
        if kind == "equal":
            return self.code_style.background
        if kind == "insert" or (kind == "replace" and side == "b"):
            return self.code_style.background + self._styles["added"]
        return self.code_style.background + self._styles["removed"]

    def _cell(self, text: Text, gutter: str, base: Style, width: int, words: list[tuple[int, int]] | None,
              word_style: Style) -> list[Strip]:
        """One line of one side, wrapped to `width` under its gutter; changed characters marked."""
        console = self.app.console
        content_width = max(1, width - len(gutter))
        if words:
            text = text.copy()
            for start, end in words:
                text.stylize(word_style, start, end)
        parts = text.wrap(console, content_width, overflow="fold") if text.plain else [Text()]
        strips = []
        for k, part in enumerate(parts or [Text()]):
            head = gutter if k == 0 else " " * len(gutter)
            segments = [Segment(head, base + self._styles["gutter"])]
            segments.extend(Segment(s.text, base + s.style if s.style else base) for s in part.render(console)
                            if s.text != "\n")
            strips.append(Strip(segments).crop_extend(0, width, base))
        return strips

    def _unified_row(self, row: Row, width: int, nw: int) -> list[Strip]:
        na = f"{row.a + 1:>{nw}}" if row.a is not None else " " * nw
        nb = f"{row.b + 1:>{nw}}" if row.b is not None else " " * nw
        sign = {"equal": " ", "delete": "-", "insert": "+"}[row.kind]
        gutter = f"{na} {nb} {sign} "
        if row.kind == "insert":
            return self._cell(self._hl_b[row.b], gutter, self._base("insert", "b"), width,
                              self._words[1].get(row.b), self._styles["added-word"])
        text = self._hl_a[row.a]
        words = self._words[0].get(row.a) if row.kind == "delete" else None
        return self._cell(text, gutter, self._base(row.kind, "a"), width, words, self._styles["removed-word"])

    def _split_row(self, row: Row, width: int, nw: int) -> list[Strip]:
        left_w = (width - 1) // 2
        right_w = width - 1 - left_w
        cells = []
        for side, index, side_w in (("a", row.a, left_w), ("b", row.b, right_w)):
            if index is None:
                cells.append([])
                continue
            sign = " " if row.kind == "equal" else "-" if side == "a" else "+"
            highlighted = self._hl_a if side == "a" else self._hl_b
            words = self._words[0 if side == "a" else 1].get(index) if row.kind != "equal" else None
            word_style = self._styles["removed-word" if side == "a" else "added-word"]
            cells.append(self._cell(highlighted[index], f"{index + 1:>{nw}} {sign} ", self._base(row.kind, side),
                                    side_w, words, word_style))
        height = max(len(cells[0]), len(cells[1]))
        divider = Strip([Segment("│", self._styles["divider"])])
        out = []
        for k in range(height):
            parts = []
            for side, cell, side_w, index in (("a", cells[0], left_w, row.a), ("b", cells[1], right_w, row.b)):
                if k < len(cell):
                    parts.append(cell[k])
                else:  # no line on this side, or the other side wrapped to more rows
                    fill = self._styles["empty"] if index is None else self._base(row.kind, side)
                    parts.append(Strip.blank(side_w, fill))
            out.append(Strip.join([parts[0], divider, parts[1]]))
        return out

    def render_line(self, y: int) -> Strip:
        row = round(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        rich_style = self.rich_style
        if 0 <= row < len(self._strips):
            return self._strips[row].crop_extend(0, width, rich_style).apply_style(rich_style)
        return Strip.blank(width, rich_style)


class DiffScreen(Screen):
    """The diff of two panes; Escape or q closes, s switches between side by side and unified."""

    DEFAULT_CSS = """
    DiffScreen > #diff-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("s", "toggle_split", "Split/unified"),
        Binding("f", "toggle_fold", "All lines/changes"),
        Binding("n", "change(1)", "Next change"),
        Binding("N,p", "change(-1)", "Previous change", key_display="N"),
    ]

    def __init__(self, left_name: str, left: str, right_name: str, right: str, language: str,
                 code_style: CodeStyle, what: str = "code") -> None:
        super().__init__()
        self.left_name, self.right_name = left_name, right_name
        self.what = what
        self.view = DiffView(left, right, language, code_style)

    @property
    def title_text(self) -> str:
        """The line above the diff: which panes, what is compared, how much changed."""
        added, removed = counts(self.view.a, self.view.b)
        change = f"+{added} −{removed}" if added or removed else "identical"
        mode = "side by side" if self.view.is_split else "unified"
        return f"{self.left_name}  ↔  {self.right_name} · {self.what} · {change} · {mode}"

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="diff-title", markup=False)
        yield self.view
        yield Footer()

    def on_mount(self) -> None:
        self.view.focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_title)

    def _show_title(self) -> None:
        self.query_one("#diff-title", Static).update(self.title_text)

    def action_close(self) -> None:
        self.dismiss()

    def action_toggle_split(self) -> None:
        self.view.split = not self.view.is_split
        self.view.relayout()
        self._show_title()

    def action_toggle_fold(self) -> None:
        self.view.fold = not self.view.fold
        self.view.relayout()

    def action_change(self, direction: int) -> None:
        if not self.view.next_change(direction):
            self.notify("No more changes that way.", timeout=2)

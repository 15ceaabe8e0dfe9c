"""A scrolling view of one streaming answer that renders only the lines on screen."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import OrderedDict
from functools import lru_cache

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from workbench.ui.render import CodeStyle, Line, StreamDocument

WRAPPED_LINES = 160  # lines whose rows are kept: more than a tall screen shows
SLICE_S = 0.004  # a closed long block's second highlight pass: at most this much CPU per slice...
SLICE_EVERY_S = 1 / 30  # ...this often, so keys and frames are handled between slices
JUMP_PART = 6  # following a stream, the view scrolls by a sixth of its height at a time (jump scroll)


class AnswerView(ScrollView, can_focus=True, inherit_bindings=False):
    """Streamed Markdown as wrapped rows; a finished line is wrapped when first on screen, and kept.

    Its own scroll keys, not the container's: left and right belong to the screen (move between
    panes), and any scroll by the user stops the view following the stream at once — before the
    next frame of text could scroll it back down — until they return to the end, as a terminal does.

    Following a stream it jump-scrolls, as xterm's jumpScroll does: when the newest row would fall
    below the view, the view moves up by a sixth of its height at once, leaving blank rows that the
    next lines fill. A scroll repaints (and re-sends) every row of the view, writing into blank rows
    repaints only those, so a stream of a line a frame costs one full repaint every few frames.
    """

    BINDINGS = [
        Binding("up", "scroll_by(-1)", "Scroll up", show=False),
        Binding("down", "scroll_by(1)", "Scroll down", show=False),
        Binding("pageup", "scroll_by(-1, True)", "Page up", show=False),
        Binding("pagedown", "scroll_by(1, True)", "Page down", show=False),
        Binding("home", "scroll_to_top", "Top", show=False),
        Binding("end", "scroll_to_end", "End (follow)", show=False),
    ]

    DEFAULT_CSS = """
    AnswerView {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        padding: 0 0 0 1;
    }
    """

    class Scrolled(Message):
        """The user scrolled this view (not the view following its own output)."""

        def __init__(self, view: "AnswerView", y: float) -> None:
            super().__init__()
            self.view = view
            self.y = y

    def __init__(self, code_style: CodeStyle, accent: str = "bold", **kwargs) -> None:
        super().__init__(**kwargs)
        self.doc = StreamDocument(code_style, accent=accent)
        self.follow = True
        """Keep the newest text in view, until the user scrolls up."""
        self._line_start: list[int] = []  # the row each finished line starts at, at `_wrap_width`
        self._n_rows = 0  # rows of the finished lines
        # line index -> its rows, for the lines on screen lately: off-screen rows are let go (wrapping
        # again is cheap), so a long answer does not keep thousands of strips for the GC to walk
        self._wrapped: OrderedDict[int, list[Strip]] = OrderedDict()
        self._tail: list[Strip] = []
        self._notice: list[Strip] = []
        self._notice_text: Text | None = None
        self._wrap_width = 0
        self._quiet_scroll = False
        self._follow_pending = False
        self._floor = 0  # the virtual height is at least this: the blank rows a jump scroll left below the text
        self._ended = False  # the answer ended: no more jumps (a notice after it must not leave blank rows)
        self._paint_style: tuple[Style, int] | None = None
        self._slicer = None  # the timer doing a closed block's second pass, while one is pending

    # -- feeding --------------------------------------------------------
    def append(self, text: str) -> None:
        """Add streamed text."""
        self._ended = False
        self._update(self._forget_restyled(self.doc.feed(text)))
        self._slice_later()

    def finish(self) -> None:
        """The answer ended: render its last line as a finished one, and unfenced code as code.

        Rendering bare code as code can change a line's text (a `# comment` shown as a heading gets its
        `#` back), so the rows are laid out again from the first changed line, not only re-wrapped.
        """
        first = self.doc.close()
        self.doc.take_restyled()
        self._floor = 0  # a finished answer ends at the bottom of the view: the jump's blank rows go
        self._ended = True
        self._update(first)
        self._slice_later()

    def _slice_later(self) -> None:
        """Start the slices of a closed block's second pass when the document has one pending."""
        if self._slicer is None and self.doc.pending:
            self._slicer = self.set_interval(SLICE_EVERY_S, self._slice)

    def _slice(self) -> None:
        more = self.doc.work(time.perf_counter() + SLICE_S)
        self._forget_restyled(len(self.doc.lines))
        if not more and self._slicer is not None:
            self._slicer.stop()
            self._slicer = None

    def _forget_restyled(self, first_changed: int) -> int:
        """Drop the rows of lines a closed code block restyled; return where new lines start.

        The document only appends lines or restyles them with the same text (so the same rows),
        so the layout of the rest is kept: closing a 2,000-line block re-wraps the few lines
        whose colours changed (when they are next on screen), not the whole block.
        """
        restyled = self.doc.take_restyled()
        width, laid_out = self._width(), len(self._line_start)
        if width <= 0 or width != self._wrap_width:
            return first_changed  # everything is laid out again anyway
        for i in restyled:
            self._wrapped.pop(i, None)  # same text, so the same rows: wrapped again when next on screen
        if restyled and laid_out:
            # Repaint only when a restyled line is on screen (a long block's slices mostly are not).
            top = int(self.scroll_offset.y)
            first = bisect_right(self._line_start, top) - 1
            last = bisect_right(self._line_start, top + self.scrollable_content_region.height) - 1
            if any(first <= i <= last for i in restyled):
                self.refresh()
        return laid_out

    def add_rule(self, text: Text) -> None:
        """A line of our own between turns of a conversation (the user's prompt); closes what came before."""
        first = self.doc.rule(text)
        self.doc.take_restyled()
        self._update(first)
        self._slice_later()

    def clear(self) -> None:
        """Empty the view for a new answer."""
        self.doc.reset()
        self._line_start.clear()
        self._n_rows = 0
        self._wrapped.clear()
        self._tail = []
        self._notice_text = None
        self._notice = []
        self.follow = True
        self._floor = 0
        self._ended = False
        self._update(0)
        self.scroll_to(y=0, animate=False, immediate=True)

    def set_notice(self, text: Text | None) -> None:
        """A line shown after the answer (an error, a hint); None removes it."""
        self._notice_text = text
        self._update(len(self.doc.lines))

    @property
    def has_notice(self) -> bool:
        """Whether a notice line is shown."""
        return self._notice_text is not None

    @property
    def text(self) -> str:
        """Everything shown, as plain text (for tests and copying)."""
        lines = [line.plain for line in self.doc.lines]
        if self.doc.partial:
            lines.append(self.doc.partial)
        if self._notice_text is not None:
            lines.append(self._notice_text.plain)
        return "\n".join(lines)

    # -- layout ---------------------------------------------------------
    def _width(self) -> int:
        return max(0, self.scrollable_content_region.width)

    def _wrap(self, line: Line, width: int) -> list[Strip]:
        console = self.app.console
        if cell_len(line.plain) <= width:
            strip = _one_row(line, self.doc.code_style.background if line.code else None)
            if strip is not None:
                return [strip.extend_cell_length(width, self.doc.code_style.background) if line.code else strip]
        text = line.text  # a new Text, made from the line's compact form
        if line.code:
            text.style = self.doc.code_style.background
        out = []
        for part in text.wrap(console, width, overflow="fold") or [Text()]:
            segments = list(part.render(console))
            if part.style and not part.spans:  # rich's render leaves the style off a line without spans
                style = console.get_style(part.style)
                segments = [Segment(seg.text, style) for seg in segments]
            strip = Strip(segments, part.cell_len)
            if line.code:
                strip = strip.extend_cell_length(width, self.doc.code_style.background)
            out.append(strip)
        return out

    def _count_rows(self, line: Line, width: int) -> int:
        """How many rows `line` wraps to, without rendering it (as rich's wrap divides it)."""
        plain = line.plain
        if "\t" in plain:  # rich expands tabs before it divides: let it
            return len(self._wrap(line, width))
        if cell_len(plain) <= width:
            return 1
        return len(divide_line(plain, width, fold=True)) + 1

    def _line_rows(self, index: int, width: int) -> list[Strip]:
        """The rows of finished line `index`, wrapped now if they have not been on screen before."""
        rows = self._wrapped.get(index)
        if rows is None:
            rows = self._wrapped[index] = self._wrap(self.doc.lines[index], width)
            if len(self._wrapped) > WRAPPED_LINES:
                self._wrapped.popitem(last=False)
        return rows

    def _update(self, first_changed: int) -> None:
        width = self._width()
        if width <= 0:
            return  # not laid out yet; on_resize wraps everything
        if width != self._wrap_width:
            self._wrap_width = width
            first_changed = 0
            self._wrapped.clear()
        starts = self._line_start
        cut = starts[first_changed] if first_changed < len(starts) else self._n_rows
        if first_changed < len(starts):
            for i in range(first_changed, len(starts)):
                self._wrapped.pop(i, None)
            del starts[first_changed:]
        # Only count the rows of new lines here; they are wrapped when they come on screen.
        rows = cut
        for line in self.doc.lines[first_changed:]:
            starts.append(rows)
            rows += self._count_rows(line, width)
        self._n_rows = rows
        partial = self.doc.render_partial()
        self._tail = self._wrap(partial, width) if partial else []
        self._notice = self._wrap(Line(self._notice_text, False), width) if self._notice_text else []
        height = rows + len(self._tail) + len(self._notice)
        top = self.scroll_offset.y
        view_height = self.scrollable_content_region.height
        if self._ended:
            self._floor = 0
        elif self.follow and height > top + view_height > 0:
            # The newest row is below the view: jump, leaving a sixth of the view blank for what comes next.
            self._floor = height + max(1, view_height // JUMP_PART) if height > view_height else 0
        size = Size(width, max(height, self._floor))
        if size == self.virtual_size:
            pass  # a jump scroll's blank rows are being filled: the scrollbar stays as it is
        elif size.width == self.virtual_size.width:
            # Only the height changed: the view's own size is set by CSS, so skip the
            # whole-screen relayout that assigning `virtual_size` asks for (one per frame).
            self.set_reactive(AnswerView.virtual_size, size)
            self._scroll_update(size)  # a scrollbar that must appear or go still lays out
        else:
            self.virtual_size = size
        if self.follow:
            self._scroll_quietly(size.height)  # clamped to the last full screen
            if not self._follow_pending:
                # Layout may still change the height (a scrollbar appearing): follow again after it.
                self._follow_pending = True
                self.call_after_refresh(self._follow_end)
        if self.scroll_offset.y != top:
            return  # scrolling repaints the whole view
        # Rows above `cut` did not change: repaint from the first changed row down (often just the
        # last, unfinished line), not every row of the view.
        on_screen = cut - top
        if on_screen <= 0:
            self.refresh()
        elif on_screen < view_height:
            self.refresh(Region(0, on_screen, width, view_height - on_screen))

    def _follow_end(self) -> None:
        self._follow_pending = False
        if self.follow:
            self._scroll_quietly(self.max_scroll_y)

    def on_resize(self) -> None:
        """Re-wrap for the new width."""
        self._floor = 0
        self._update(0)

    # -- scrolling ------------------------------------------------------
    def _scroll_quietly(self, y: float) -> None:
        self._quiet_scroll = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._quiet_scroll = False

    def sync_to(self, y: float) -> None:
        """Scroll to `y` because another pane did (no message back)."""
        self.follow = y >= self.max_scroll_y
        self._scroll_quietly(y)

    def action_scroll_by(self, rows: int, page: bool = False) -> None:
        """Scroll by rows (or pages); going up stops following the stream."""
        step = rows * max(1, self.scrollable_content_region.height - 1) if page else rows
        if step < 0 and self.max_scroll_y > 0:
            self.follow = False
        self.scroll_to(y=self.scroll_offset.y + step, animate=False, immediate=True)

    def action_scroll_to_top(self) -> None:
        """To the first line; stops following the stream."""
        self.follow = False
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_scroll_to_end(self) -> None:
        """To the last line, and follow the stream again."""
        self.follow = True
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False
        super()._on_mouse_scroll_up(event)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._quiet_scroll and old_value != new_value:
            self.follow = new_value >= self.max_scroll_y
            self.post_message(self.Scrolled(self, new_value))

    # -- the Line API ---------------------------------------------------
    def render_lines(self, crop):
        """Render the rows on screen, working out the view's style and width once, not per row."""
        self._paint_style = (self.rich_style, self._width())
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        """One screen row: a cached strip, cropped to the view, tagged for Textual's mouse selection."""
        row = self.scroll_offset.y + y
        rich_style, width = self._paint_style or (self.rich_style, self._width())
        n_rows, n_tail = self._n_rows, len(self._tail)
        if row < n_rows:
            index = bisect_right(self._line_start, row) - 1
            rows = self._line_rows(index, self._wrap_width)
            offset = row - self._line_start[index]
            strip = rows[offset] if offset < len(rows) else Strip.blank(width, rich_style)
            plain = self.doc.lines[index].plain
        elif row < n_rows + n_tail:
            offset = row - n_rows
            strip = self._tail[offset]
            index, plain = len(self.doc.lines), self.doc.partial.expandtabs(4)
        elif row < n_rows + n_tail + len(self._notice):
            offset = row - n_rows - n_tail
            strip = self._notice[offset]
            index, plain = len(self.doc.lines) + bool(self.doc.partial), self._notice_text.plain
        else:
            return Strip.blank(width, rich_style)
        # Selection offsets are (character in the line, line index) of `text`, which `get_selection` cuts.
        starts = _row_starts(plain, self._wrap_width) if offset else (0,)
        start = starts[offset] if offset < len(starts) else len(plain)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(index)) is not None:
            strip = _selected(strip, start, span, self.screen.get_component_rich_style("screen--selection",
                                                                                      partial=True))
        return strip.crop_extend(0, width, None).apply_style(rich_style).apply_offsets(start, index)

    # -- mouse selection (Textual's own: drag selects, ctrl+c copies) -----
    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected part of the text as shown."""
        return selection.extract(self.text), "\n"


@lru_cache(maxsize=512)
def _row_starts(plain: str, width: int) -> tuple[int, ...]:
    """Where each wrapped row of a line starts (rich's own break points; the width is `_wrap_width`)."""
    if width <= 0 or cell_len(plain) <= width:
        return (0,)
    return (0, *divide_line(plain, width, fold=True))


def _selected(strip: Strip, start: int, span: tuple[int, int], style: Style) -> Strip:
    """`strip` (a row whose first character is character `start` of its line) with `span` of the line marked."""
    text = strip.text
    a = max(0, span[0] - start)
    b = len(text) if span[1] == -1 else min(len(text), max(0, span[1] - start))
    if a >= b:
        return strip
    c1, c2 = cell_len(text[:a]), cell_len(text[:b])
    before, middle, after = strip.divide([c1, c2, strip.cell_length])
    middle = Strip([Segment(seg.text, seg.style + style if seg.style else style) for seg in middle],
                   middle.cell_length)
    return Strip.join([before, middle, after])


def prompt_rule(turn: int, prompt: str) -> Text:
    """The line a pane shows above a turn's answer in a conversation: `▍ You · turn 2: …` (one line, bounded)."""
    from workbench.redact import terminal_safe

    text = " ".join(terminal_safe(prompt).split())
    line = Text("▍ You", style="bold")
    line.append(f" · turn {turn}: ", style="dim")
    line.append(text[:300] + ("…" if len(text) > 300 else ""), style="italic")
    return line


def _one_row(line: Line, base: Style | None) -> Strip | None:
    """A line that fits the width as one strip, without rich's general wrap and render (nor a rich Text).

    Only for what the document makes (spans in order, not overlapping, Style objects);
    returns None for anything else, which then takes the general path.
    """
    styles, spans = line.table.styles, line.spans
    style = styles[line.style]
    if base is not None:
        style = base  # a code line's background replaces its own style, as in the general path
    elif isinstance(style, str):
        if style:
            return None
        style = None
    plain = line.plain
    if "\t" in plain:
        return None
    null = Style.null()
    segments = []
    pos = 0
    for i in range(0, len(spans), 3):
        start, end, span_style = spans[i], spans[i + 1], styles[spans[i + 2]]
        if start < pos or isinstance(span_style, str):
            return None
        if end <= start:
            continue
        if start > pos:
            segments.append(Segment(plain[pos:start], style or null))
        segments.append(Segment(plain[start:end], style + span_style if style else span_style))
        pos = end
    if pos < len(plain):
        segments.append(Segment(plain[pos:], style or null))
    return Strip(segments, cell_len(plain))

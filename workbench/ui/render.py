"""Streaming Markdown into styled lines, each complete line rendered once.

`StreamDocument` takes text as it arrives and keeps a list of finished lines, each
held compactly (`Line`: its text, and its styles as numbers) and turned into a rich
`Text` when the view wraps it for the screen. Prose gets light Markdown styling; lines inside a fenced code block
are highlighted by Pygments one at a time as they complete, and when the fence
closes the block is highlighted once more as a whole (so multi-line strings and
comments come out right). A long block's second pass is done in slices
(`work(deadline)`, driven by the view between frames), so closing a 2,000-line
block never holds the screen for the ~150 ms the pass takes; the lines keep their
line-at-a-time colours until their slice is done. The unfinished last line is
re-rendered cheaply on each flush. Total work stays linear in the length of the answer.

Code that the answer left without a fence (small models often do) cannot be told
from prose until a few lines of it have arrived, so it streams as prose; when the
answer ends (`close`), the runs of lines that workbench.codeblocks finds to be code
are rendered as code, once: one pass over the answer's lines, then one highlight
of each such run. Nothing is re-rendered per token.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme
from rich.control import strip_control_codes
from rich.text import Span, Text

from workbench.codeblocks import code_blocks

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+#.-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^(\s*)([-*+])\s+")
_NUMBERED = re.compile(r"^(\s*)(\d+[.)])\s+")
_INLINE = re.compile(r"(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*)")

AT_ONCE_LINES = 200
"""A closed block of at most this many lines is highlighted again at once (a few ms); a longer one in slices."""


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer:
    try:
        return get_lexer_by_name(language or "text", stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


class CodeStyle:
    """A Pygments style turned into rich styles, cached per token type."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._theme = PygmentsSyntaxTheme(name)
        self.background = self._theme.get_background_style()
        self._cache: dict = {}

    def token(self, ttype) -> Style:
        """The rich style for a Pygments token type."""
        style = self._cache.get(ttype)
        if style is None:
            style = self._cache[ttype] = self._theme.get_style_for_token(ttype)
        return style

    def highlight(self, code: str, language: str) -> list[Text]:
        """Highlight `code` (one or more lines) and return one Text per line."""
        lines: list[Text] = [Text()]
        for ttype, value in _lexer(language).get_tokens(code):
            style = self.token(ttype)
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    lines.append(Text())
                if part:
                    lines[-1].append(part, style)
        if code.endswith("\n") and len(lines) > 1:
            lines.pop()
        return lines[: code.count("\n") + 1] if code else [Text()]


class Styles:
    """A document's styles, numbered: its finished lines keep style numbers, not Style objects."""

    __slots__ = ("styles", "numbers")

    def __init__(self) -> None:
        self.styles: list[str | Style] = []
        self.numbers: dict[str | Style, int] = {}

    def number(self, style: str | Style) -> int:
        """The number of `style` in this table (equal styles share one)."""
        n = self.numbers.get(style)
        if n is None:
            n = self.numbers[style] = len(self.styles)
            self.styles.append(style)
        return n


class Line:
    """One finished line: its styled text and whether it is code (for the background).

    Held compactly, since a long answer has thousands: the plain text, and its style and spans as
    numbers in its document's `Styles` (`spans` is a flat tuple: start, end, style number, ...). A tuple
    of numbers holds nothing the garbage collector must follow, so CPython stops tracking it at its first
    collection, and a line is one tracked object instead of a rich `Text` with a list of spans, each
    holding a style. `text` builds the rich `Text` (the view does, for the lines it wraps for the screen).
    """

    __slots__ = ("plain", "style", "spans", "code", "table")

    def __init__(self, text: Text, code: bool, table: Styles | None = None) -> None:
        table = Styles() if table is None else table
        numbers = table.numbers
        spans: list[int] = []
        for start, end, style in text.spans:
            n = numbers.get(style)
            spans += (start, end, table.number(style) if n is None else n)
        self.plain = text.plain
        self.style = table.number(text.style)
        self.spans = tuple(spans)
        self.code = code
        self.table = table

    @classmethod
    def compact(cls, plain: str, style: int, spans: tuple[int, ...], code: bool, table: Styles) -> "Line":
        """A line from its compact parts (numbers in `table`)."""
        line = cls.__new__(cls)
        line.plain, line.style, line.spans, line.code, line.table = plain, style, spans, code, table
        return line

    @property
    def text(self) -> Text:
        """The line as a rich `Text` (built on each call)."""
        styles, s = self.table.styles, self.spans
        return Text(self.plain, styles[self.style],
                    spans=[Span(s[i], s[i + 1], styles[s[i + 2]]) for i in range(0, len(s), 3)])


class _Rehighlight:
    """A closed block's whole-block highlight, lexed a slice at a time from one Pygments token stream.

    Gives exactly what `CodeStyle.highlight` gives for the whole block (the same lexer, the same
    tokens, split at the same newlines): each line is compared as it completes and replaced only when
    its colours changed.
    """

    __slots__ = ("start", "count", "tokens", "index", "parts", "spans", "length")

    def __init__(self, start: int, src: list[str], language: str) -> None:
        self.start = start  # the block's first line in the document
        self.count = len(src)
        self.tokens = _lexer(language).get_tokens("\n".join(src))
        self.index = 0  # the line being built, counted from `start`
        # The line being built, in a line's compact form: as `Text.append` would build it, without the Text.
        self.parts: list[str] = []
        self.spans: list[int] = []
        self.length = 0

    def step(self, doc: "StreamDocument", deadline: float | None) -> bool:
        """Lex on until `deadline` (a `time.perf_counter()` value; None: to the end). True when done."""
        token_style = doc.code_style.token
        number = doc.table.number
        for n, (ttype, value) in enumerate(self.tokens, 1):
            style = token_style(ttype)
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._end_line(doc)
                if part:
                    part = strip_control_codes(part)  # as Text.append does
                    end = self.length + len(part)
                    if style:
                        self.spans += (self.length, end, number(style))
                    self.parts.append(part)
                    self.length = end
            if deadline is not None and n % 32 == 0 and time.perf_counter() > deadline:
                return False
        if self.index < self.count:
            self._end_line(doc)  # the last line has no newline after it
        return True

    def _end_line(self, doc: "StreamDocument") -> None:
        if self.index < self.count:
            i = self.start + self.index
            plain, spans, old = "".join(self.parts), tuple(self.spans), doc.lines[i]
            # Most lines come out as they were (the same text and spans: what `Text.__eq__` compares).
            if old.table is not doc.table or plain != old.plain or spans != old.spans:
                doc.lines[i] = Line.compact(plain, doc.table.number(""), spans, True, doc.table)
                doc.restyled.append(i)
        self.index += 1
        self.parts, self.spans, self.length = [], [], 0


class StreamDocument:
    """The answer as styled lines, built incrementally from streamed text."""

    def __init__(self, code_style: CodeStyle, accent: str = "bold") -> None:
        self.code_style = code_style
        self.lines: list[Line] = []
        self.table = Styles()  # the styles its lines' numbers stand for
        self.partial = ""
        self._accent = Style.parse(accent)
        self._fence: str | None = None  # the opening fence marker while inside a block
        self._language = ""
        self._block_start = 0  # index of the first code line of the open block
        self._block_src: list[str] = []
        self._raw: dict[int, str] = {}  # line index -> the model's line as it came (tabs expanded)
        self._scanned = 0  # lines before this were searched for unfenced code at an earlier close
        self._rehighlights: list[_Rehighlight] = []  # closed long blocks whose second pass is not done
        self.restyled: list[int] = []
        """Lines restyled in place, until taken: by a fenced block's closing re-highlight (same text), or by
        unfenced code rendered as code when the answer ends (the text can change: a `# comment` shown as
        a heading gets its `#` back, so the view must lay these out again, from `close`'s return value)."""

    @property
    def in_code(self) -> bool:
        """Whether the text being written is inside a fenced code block."""
        return self._fence is not None

    @property
    def needs_close(self) -> bool:
        """Whether `close` has work left: an unfinished last line, or lines not yet searched for unfenced
        code. A view calls `close` once the answer has ended and this is true (a newline at the end or not)."""
        return bool(self.partial) or self._scanned < len(self.lines)

    @property
    def pending(self) -> bool:
        """Whether a closed block's second pass is still to do (`work`)."""
        return bool(self._rehighlights)

    def work(self, deadline: float | None = None) -> bool:
        """Go on with the closed blocks' second pass until `deadline` (`time.perf_counter()`; None: finish it).

        The lines it restyles are listed in `restyled`. Returns True while work is left.
        """
        while self._rehighlights:
            if not self._rehighlights[0].step(self, deadline):
                return True
            self._rehighlights.pop(0)
        return False

    def feed(self, text: str) -> int:
        """Add streamed text; return the index of the first finished line that changed."""
        first_changed = len(self.lines)
        data = self.partial + text
        *complete, self.partial = data.split("\n")
        for raw in complete:
            changed = self._finish(raw)
            if changed is not None:
                first_changed = min(first_changed, changed)
        return first_changed

    def close(self) -> int:
        """The stream ended: finish the last line and render unfenced code as code; returns the first
        changed index (a line before the old end when a block was restyled)."""
        first = len(self.lines)
        if self.partial:
            raw, self.partial = self.partial, ""
            changed = self._finish(raw)
            if changed is not None:
                first = min(first, changed)
        return min(first, self._render_unfenced())

    def _render_unfenced(self) -> int:
        """Render as code the runs of prose lines that are code (workbench.codeblocks' rules), each once:
        the lines since the last close, each stretch of the model's own lines (not a `rule`) on its own.
        Returns the first line changed (the number of lines when none did)."""
        first = end = len(self.lines)
        i, self._scanned = self._scanned, end
        while i < end:
            j = i
            while j < end and j in self._raw:
                j += 1
            if j > i and not all(self.lines[k].code for k in range(i, j)):
                first = min(first, self._render_unfenced_in(i, j))
            i = j + 1
        return first

    def _render_unfenced_in(self, lo: int, hi: int) -> int:
        first = len(self.lines)
        raw = [self._raw[k] for k in range(lo, hi)]
        for block in code_blocks("\n".join(raw)):
            start, end = lo + block.start_line, lo + min(block.end_line, len(raw))
            if block.fenced or start >= end or any(self.lines[i].code for i in range(start, end)):
                continue  # a fence, or a line this document took for one: left as it is
            highlighted = self.code_style.highlight("\n".join(raw[start - lo:end - lo]), block.language or "text")
            for i, text in zip(range(start, end), highlighted):
                self.lines[i] = Line(text, True, self.table)
                self.restyled.append(i)
            first = min(first, start)
        return first

    def take_restyled(self) -> list[int]:
        """The lines restyled in place since the last call (a view re-wraps only these)."""
        restyled, self.restyled = self.restyled, []
        return restyled

    def reset(self) -> None:
        """Forget everything (for a regenerated answer)."""
        self.__init__(self.code_style, str(self._accent))

    def rule(self, text: Text) -> int:
        """End what is open (a last line, a code block) and add a styled line of our own, such as a turn's prompt.

        Returns the first changed index. The text is ours, not the model's: it is not parsed as Markdown.
        """
        first = self.close()
        self._fence = None
        self._block_src = []
        self.lines.append(Line(text, False, self.table))
        return first

    def _finish(self, raw: str) -> int | None:
        """Turn one complete raw line into a Line; returns an earlier changed index on a block close."""
        raw = raw.rstrip("\r").expandtabs(4)
        self._raw[len(self.lines)] = raw  # each call adds one line
        fence = _FENCE.match(raw)
        if self._fence is None:
            if fence:
                self._fence = fence.group(1)[0] * 3
                self._language = fence.group(2).lower()
                self.lines.append(Line(Text(raw, style="dim"), True, self.table))
                self._block_start = len(self.lines)
                self._block_src = []
            else:
                self.lines.append(Line(self.prose(raw), False, self.table))
            return None
        if fence and raw.strip().startswith(self._fence) and not fence.group(2):
            # The block closed: highlight it once as a whole, fixing multi-line constructs.
            start = self._block_start
            if self._block_src:
                job = _Rehighlight(start, self._block_src, self._language)
                if len(self._block_src) <= AT_ONCE_LINES:
                    job.step(self, None)
                else:
                    self._rehighlights.append(job)  # in slices: `work`
            self.lines.append(Line(Text(raw, style="dim"), True, self.table))
            self._fence = None
            self._block_src = []
            return start
        self._block_src.append(raw)
        self.lines.append(Line(self.code_style.highlight(raw, self._language)[0], True, self.table))
        return None

    def render_partial(self) -> Line | None:
        """The unfinished last line, styled cheaply."""
        if not self.partial:
            return None
        raw = self.partial.expandtabs(4)
        if self._fence is not None:
            return Line(self.code_style.highlight(raw, self._language)[0], True, self.table)
        if _FENCE.match(raw):
            return Line(Text(raw, style="dim"), True, self.table)
        return Line(self.prose(raw), False, self.table)

    def prose(self, raw: str) -> Text:
        """Light Markdown for one line outside code: headings, bullets, inline code, emphasis."""
        heading = _HEADING.match(raw)
        if heading:
            return Text(heading.group(2), style=self._accent + Style(bold=True))
        text = Text()
        bullet = _BULLET.match(raw) or _NUMBERED.match(raw)
        if bullet:
            mark = "•" if bullet.group(2) in "-*+" else bullet.group(2)
            text.append(bullet.group(1) + mark + " ", self._accent)
            raw = raw[bullet.end():]
        elif raw.startswith(">"):
            return Text(raw, style="italic dim")
        pos = 0
        for m in _INLINE.finditer(raw):
            text.append(raw[pos:m.start()])
            token = m.group(0)
            if m.group(1):
                text.append(token[1:-1], self.code_style.background + Style(bold=True))
            elif m.group(2):
                text.append(token[2:-2], Style(bold=True))
            else:
                text.append(token[1:-1], Style(italic=True))
            pos = m.end()
        text.append(raw[pos:])
        return text

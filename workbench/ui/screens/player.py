"""The player: every pane's animation (a graphics program's captured frames) side by side, in sync.

Space plays or pauses, ←/→ step one frame (and pause), +/− change the speed (¼× to 4×), Home starts
over, Escape closes. Where the terminal is Kitty (or WORKBENCH_IMAGES=kitty|sixel says what it has),
textual-image draws the frames with Kitty's graphics protocol or Sixel. Everywhere else (tmux included)
they are half-cell blocks (▀, two pixels a cell) drawn by `HalfBlocks`, which keeps each frame's lines
once made: textual-image's own half-cell widget remakes every cell's style at every paint (some 0.17 s
a frame for an 80×44-cell picture here), too slow to play two panes at 10 frames a second.
textual-image asks the terminal what it can do when it is imported, which cannot be done once Textual
owns the terminal: it is imported here with that question suppressed.
"""

from __future__ import annotations

import bisect
import os
import sys

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label, Static

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
TICK_S = 0.05


class _NotATerminal:
    """Stands in for sys.__stdout__ while textual-image is imported, so that it queries no terminal."""

    def isatty(self) -> bool:
        return False

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def image_class():
    """The widget class to draw frames with (`image` attribute: a PIL image), or None without Pillow."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return None
    choice = os.environ.get("WORKBENCH_IMAGES", "").lower()
    if not choice:
        kitty = os.environ.get("TERM") == "xterm-kitty" or "KITTY_WINDOW_ID" in os.environ
        choice = "kitty" if kitty and "TMUX" not in os.environ else "halfcell"
    if choice not in ("kitty", "sixel", "unicode"):
        return HalfBlocks
    real = sys.__stdout__
    try:
        sys.__stdout__ = _NotATerminal()  # textual-image's import-time terminal queries would fight Textual for stdin
        try:
            from textual_image import widget
        finally:
            sys.__stdout__ = real
    except ImportError:
        return HalfBlocks
    return {"kitty": widget.TGPImage, "sixel": widget.SixelImage, "unicode": widget.UnicodeImage}[choice]


class HalfBlocks(Widget):
    """A picture as half-cell blocks: each cell an upper half block, its two pixels as foreground and
    background colours. The picture is scaled to fit (aspect kept, centred); each frame's lines are
    made once per size and kept, so playing a loop again costs nothing."""

    DEFAULT_CSS = "HalfBlocks { width: 1fr; height: 1fr; }"

    def __init__(self, image, **kwargs) -> None:
        super().__init__(**kwargs)
        self._image = image
        self._lines: dict[tuple[int, int, int], list[Strip]] = {}
        self._styles: dict[tuple, Style] = {}

    @property
    def image(self):
        return self._image

    @image.setter
    def image(self, value) -> None:
        self._image = value
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._image is None or width < 1 or height < 1:
            return Strip.blank(width)
        key = (id(self._image), width, height)
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = self._make(width, height)
        return lines[y] if y < len(lines) else Strip.blank(width)

    def _make(self, width: int, height: int) -> list[Strip]:
        from PIL import Image

        image = self._image.convert("RGB")
        scale = min(width / image.width, 2 * height / image.height)
        w = max(1, min(width, round(image.width * scale)))
        h = max(2, min(2 * height, round(image.height * scale) // 2 * 2))
        data = iter(image.resize((w, h), Image.BOX).tobytes())
        pixels = list(zip(data, data, data))
        left, top = (width - w) // 2, (height - h // 2) // 2
        blank = Strip.blank(width)
        lines = [blank] * top
        for row in range(h // 2):
            upper, lower = pixels[2 * row * w: (2 * row + 1) * w], pixels[(2 * row + 1) * w: (2 * row + 2) * w]
            segments = [Segment(" " * left)] if left else []
            run, count = None, 0
            for pair in zip(upper, lower):
                style = self._styles.get(pair)
                if style is None:
                    style = self._styles[pair] = Style(color=Color.from_rgb(*pair[0]), bgcolor=Color.from_rgb(*pair[1]))
                if style is run:
                    count += 1
                    continue
                if run is not None:
                    segments.append(Segment("▀" * count, run))
                run, count = style, 1
            segments.append(Segment("▀" * count, run))
            if width - left - w > 0:
                segments.append(Segment(" " * (width - left - w)))
            lines.append(Strip(segments, width))
        return lines + [blank] * (height - len(lines))


class Track:
    """One pane's animation: its frames (time, PIL image) and what its run said."""

    def __init__(self, label: str, verdict) -> None:
        from workbench.verify.visual import decode

        self.label = label
        self.verdict = verdict
        times = (verdict.visual or {}).get("times")
        self.frames = decode(verdict.animation, times) if verdict.animation else []
        self.times = [t for t, _ in self.frames]

    def at(self, t: float) -> int:
        """The index of the frame on screen at time `t` (the last one shown by then)."""
        return max(0, bisect.bisect_right(self.times, t) - 1)


class PlayerScreen(Screen):
    """Every pane's animation, side by side, on one clock."""

    DEFAULT_CSS = """
    PlayerScreen { layout: vertical; }
    PlayerScreen #tracks { height: 1fr; }
    PlayerScreen .track { width: 1fr; height: 1fr; border: round $primary; padding: 0 1; }
    PlayerScreen .track .head { height: auto; }
    PlayerScreen .track .frame { width: 100%; height: 1fr; }
    PlayerScreen .track .none { color: $text-muted; }
    PlayerScreen #bar { height: 1; padding: 0 1; background: $panel; }
    """
    BINDINGS = [
        Binding("escape,a,q", "close", "Close"),
        Binding("space", "toggle", "Play/pause"),
        Binding("left", "step(-1)", "Back a frame"),
        Binding("right", "step(1)", "On a frame"),
        Binding("plus,equals_sign,up", "speed(1)", "Faster"),
        Binding("minus,down", "speed(-1)", "Slower"),
        Binding("home,0", "restart", "Start over"),
    ]

    def __init__(self, panes: list[tuple[str, object]]) -> None:
        """`panes`: (label, verdict) for each pane whose program was run; those with frames are played."""
        super().__init__()
        self.tracks = [Track(label, verdict) for label, verdict in panes]
        self.image = image_class()
        self.time = 0.0
        self.playing = True
        self.speed = 1.0
        ends = [t.times[-1] + 1 / max(1.0, (t.verdict.visual or {}).get("fps") or 10) for t in self.tracks if t.times]
        self.length = max(ends, default=0.0)
        self.shown: list[int | None] = [None] * len(self.tracks)
        self.widgets: list = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="tracks"):
            for track in self.tracks:
                with Vertical(classes="track"):
                    head = Text()
                    head.append(track.label, style="bold")
                    line = (track.verdict.visual or {}).get("line") or track.verdict.summary()
                    head.append(f"  {track.verdict.outcome}: {line}",
                                style="green" if track.verdict.outcome in ("pass", "no-tests") else "red")
                    yield Static(head, classes="head")
                    if self.image is not None and track.frames:
                        widget = self.image(track.frames[0][1], classes="frame")
                    else:
                        why = ("no frames to show" if self.image is not None
                               else "the player needs Pillow, from the visual extra: pip install 'workbench[visual]'")
                        widget = Label(why, classes="none")
                    self.widgets.append(widget)
                    yield widget
        yield Label("", id="bar")

    def on_mount(self) -> None:
        self._paint()
        self.set_interval(TICK_S, self._tick)

    def _tick(self) -> None:
        if not self.playing or self.length <= 0:
            return
        self.time += TICK_S * self.speed
        if self.time >= self.length:
            self.time = 0.0  # loop, all together
        self._paint()

    def _paint(self) -> None:
        """Show each track's frame for the current time (only where it changed) and the status line."""
        for i, (track, widget) in enumerate(zip(self.tracks, self.widgets)):
            if not track.frames or self.image is None:
                continue
            index = track.at(self.time)
            if index != self.shown[i]:
                self.shown[i] = index
                widget.image = track.frames[index][1]
        state = "▶" if self.playing else "⏸"
        frames = " · ".join(f"{t.label} {self.shown[i] + 1 if self.shown[i] is not None else 0}/{len(t.frames)}"
                            for i, t in enumerate(self.tracks))
        self.query_one("#bar", Label).update(
            f"{state} {self.speed:g}× · {self.time:4.1f} / {self.length:.1f} s · {frames} · "
            "space play/pause · ←/→ step · +/− speed · home start over · esc close")

    def frame_index(self, track: int) -> int | None:
        """Which frame a track shows now (for tests)."""
        return self.shown[track]

    def action_close(self) -> None:
        self.dismiss()

    def action_toggle(self) -> None:
        self.playing = not self.playing
        self._paint()

    def action_step(self, direction: int) -> None:
        """Pause, then move to the next (or previous) frame time of any track."""
        self.playing = False
        times = sorted({t for track in self.tracks for t in track.times})
        if not times:
            return
        if direction > 0:
            later = [t for t in times if t > self.time + 1e-6]
            self.time = later[0] if later else times[-1]
        else:
            earlier = [t for t in times if t < self.time - 1e-6]
            self.time = earlier[-1] if earlier else times[0]
        self._paint()

    def action_speed(self, direction: int) -> None:
        at = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, at + direction))]
        self._paint()

    def action_restart(self) -> None:
        self.time = 0.0
        self._paint()

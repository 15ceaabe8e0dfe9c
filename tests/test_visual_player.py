"""The player (workbench/ui/screens/player.py): every pane's animation side by side, in sync — in Textual's
Pilot with made-up animations, and in a real terminal (tmux, 160×48) after `v` on two replayed answers."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.app import App

from workbench.verify import Verdict, sandbox, visual

EXTRA = visual.missing()
pytestmark = pytest.mark.skipif(EXTRA is not None, reason=f"the visual extra is not installed: {EXTRA}")


def animation(colour, frames: int = 20, step: int = 6) -> Verdict:
    """A verdict with a made-up animation: a square moving right, one frame every 0.1 s."""
    from PIL import Image, ImageDraw

    images = []
    for i in range(frames):
        image = Image.new("RGB", (120, 80))
        ImageDraw.Draw(image).rectangle((5 + i * step, 30, 25 + i * step, 50), fill=colour)
        images.append(image)
    buf = io.BytesIO()
    images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=100, loop=0, lossless=True)
    times = [round(i * 0.1, 2) for i in range(frames)]
    line = f"ran {frames / 10:.1f} s · {frames} frames · quit cleanly"
    return Verdict("no-tests", note=line, animation=buf.getvalue(),
                   visual={"line": line, "frames": frames, "times": times, "fps": 10.0})


class Host(App):
    def __init__(self, panes) -> None:
        super().__init__()
        self.panes = panes

    def on_mount(self) -> None:
        from workbench.ui.screens.player import PlayerScreen

        self.push_screen(PlayerScreen(self.panes))


async def test_player_plays_every_pane_in_sync_and_steps():
    from workbench.ui.screens.player import HalfBlocks, PlayerScreen

    short = animation((255, 0, 0), frames=10)
    app = Host([("A · right", animation((0, 255, 0))), ("B · wrong", short)])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, PlayerScreen)
        assert all(isinstance(w, HalfBlocks) for w in screen.widgets)
        assert [len(t.frames) for t in screen.tracks] == [20, 10] and screen.length == pytest.approx(2.0)
        await pilot.pause(0.6)
        assert screen.time > 0.3 and screen.frame_index(0) > 0  # playing
        assert screen.frame_index(0) == screen.tracks[0].at(screen.time)
        await pilot.press("space")  # pause
        paused_at = screen.time
        await pilot.pause(0.3)
        assert screen.time == paused_at and not screen.playing
        await pilot.press("home")
        assert screen.time == 0 and screen.frame_index(0) == screen.frame_index(1) == 0
        for _ in range(3):
            await pilot.press("right")
        assert screen.time == pytest.approx(0.3) and screen.frame_index(0) == screen.frame_index(1) == 3
        await pilot.press("left")
        assert screen.frame_index(0) == 2
        await pilot.press("plus")
        await pilot.press("plus")
        assert screen.speed == 4.0
        await pilot.press("minus")
        assert screen.speed == 2.0
        for _ in range(12):
            await pilot.press("right")
        assert screen.frame_index(0) == 14 and screen.frame_index(1) == 9  # the short one holds its last frame
        bar = str(screen.query_one("#bar").render())
        assert "A · right 15/20" in bar and "B · wrong 10/10" in bar and "2×" in bar
        text = app.export_screenshot().replace("&#160;", " ")
        assert "A · right" in text and "B · wrong" in text and "quit cleanly" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, PlayerScreen)


async def test_player_without_frames_says_so():
    from workbench.ui.screens.player import PlayerScreen

    crashed = Verdict("error", note="crashed at 0.0 s: IndexError: list index out of range · no frames (never drew)",
                      visual={"line": "crashed at 0.0 s: IndexError · no frames (never drew)", "frames": 0,
                              "times": []})
    app = Host([("A", animation((0, 255, 0))), ("B", crashed)])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, PlayerScreen)
        assert "no frames to show" in app.export_screenshot().replace("&#160;", " ")


RIGHT = """Here it is:

```python
import pygame
pygame.init()
screen = pygame.display.set_mode((400, 300))
clock, x, running = pygame.time.Clock(), 0.0, True
while running:
    for event in pygame.event.get():
        running = event.type != pygame.QUIT
    screen.fill((0, 0, 0))
    pygame.draw.circle(screen, (255, 0, 0), (int(x) % 400, 150), 30)
    x += clock.tick(30) / 1000 * 120
    pygame.display.flip()
pygame.quit()
```
"""
WRONG = """Sure:

```python
import pygame
pygame.init()
screen = pygame.display.set_mode((400, 300))
while True:
    pygame.event.get()
    screen.fill((0, 0, 80))
    pygame.draw.rect(screen, (255, 255, 0), (150, 100, 100, 100))
    pygame.display.flip()
    pygame.time.wait(30)
```
"""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.skipif(not sandbox.kernel_allows_namespaces(), reason="no namespaces here: code is not run")
def test_v_plays_both_animations_side_by_side_in_tmux(tmp_path):
    (tmp_path / "right.txt").write_text(RIGHT)
    (tmp_path / "wrong.txt").write_text(WRONG)
    (tmp_path / "config.toml").write_text(
        '[[models]]\nname = "right"\nengine = "replay"\npath = "right.txt"\ntokens_per_s = 2000\n\n'
        '[[models]]\nname = "wrong"\nengine = "replay"\npath = "wrong.txt"\ntokens_per_s = 2000\n')
    workbench = str(Path(sys.executable).with_name("workbench"))
    sock, name = str(tmp_path / "tmux.sock"), f"wb-player-{os.getpid()}"
    env = [f"WORKBENCH_HOME={tmp_path}", "TERM=xterm-256color", "COLORTERM=truecolor",
           f"PATH={os.environ.get('PATH', '')}"]

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-S", sock, *args], check=True, capture_output=True, text=True).stdout

    def wait(text: str, timeout: float = 40) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in tmux("capture-pane", "-p", "-t", name):
                return tmux("capture-pane", "-p", "-e", "-t", name)
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{tmux('capture-pane', '-p', '-t', name)}")

    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", "env", "-u", "COLUMNS", "-u", "LINES", *env, "sh", "-c",
         f"cd {tmp_path} && {workbench} -m right -m wrong; sleep 30")
    try:
        wait("Ask every model")
        tmux("send-keys", "-t", name, "-l", "Draw something that moves")
        tmux("send-keys", "-t", name, "Enter")
        wait("screen.fill((0, 0, 80))")
        tmux("send-keys", "-t", name, "Escape")  # leave the prompt bar
        time.sleep(0.5)  # (Escape then v at once would be Alt+v)
        tmux("send-keys", "-t", name, "v")
        shown = wait("space play/pause", timeout=60)
        plain = tmux("capture-pane", "-p", "-t", name)
        assert "A · right" in plain and "B · wrong" in plain
        words = " ".join(line.strip("│╭╮╰╯─ ") for line in plain.splitlines())
        assert "quit cleanly" in words and "static (every frame the same)" in words, plain
        rows = [line for line in plain.splitlines() if "▀" in line or "▄" in line]
        assert len(rows) >= 15, plain  # half-cell pictures
        left = sum(("▀" in r[:80] or "▄" in r[:80]) for r in rows)
        right = sum(("▀" in r[80:] or "▄" in r[80:]) for r in rows)
        assert left >= 10 and right >= 10, plain  # both, side by side
        assert "\x1b[38;2;255;0;0m" in shown or "\x1b[48;2;255;0;0m" in shown  # the red ball, in colour
        first = tmux("capture-pane", "-p", "-t", name)
        time.sleep(0.8)
        assert tmux("capture-pane", "-p", "-t", name) != first  # it plays
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)

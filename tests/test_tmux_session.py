"""The app in a real terminal (tmux), driven like a person: prompt, follow-up, vote, copy, diff, export, quit.

Skipped where tmux is missing. The models are replays from `config.toml`, paced like a fast model,
so the session is the same every run; the keys go in as a person types them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ALPHA = "Sure:\n\n```python\ndef area(r):\n    return 3.14159 * r * r\n```\n\nThat is the area.\n"
BETA = "Here you go:\n\n```python\nimport math\n\ndef area(r):\n    return math.pi * r ** 2\n```\n"


class Terminal:
    """One tmux session running a command at a fixed size; everything it printed is kept in `raw`."""

    def __init__(self, tmp: Path, command: str, env: dict, size: tuple[int, int] = (160, 48)) -> None:
        self.name = f"wb-test-{os.getpid()}"
        self.socket = str(tmp / "tmux.sock")
        self.raw = tmp / "terminal.raw"
        env_args = [f"{k}={v}" for k, v in env.items()]
        conf = tmp / "tmux.conf"  # our own server and settings: the size holds with no client attached
        conf.write_text(f"set -g default-size {size[0]}x{size[1]}\n")
        self._tmux("-f", str(conf), "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]),
                   "env", "-i", *env_args, "sh", "-c", command + "; echo EXIT=$?; sleep 30")
        self._tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {self.raw}")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, text: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def home(tmp_path):
    (tmp_path / "alpha.txt").write_text(ALPHA)
    (tmp_path / "beta.txt").write_text(BETA)
    (tmp_path / "config.toml").write_text(
        '[[models]]\nname = "alpha"\nengine = "replay"\npath = "alpha.txt"\ntokens_per_s = 200\n\n'
        '[[models]]\nname = "beta"\nengine = "replay"\npath = "beta.txt"\ntokens_per_s = 200\n')
    return tmp_path


def test_a_whole_session_in_a_real_terminal(home):
    workbench = str(Path(sys.executable).with_name("workbench"))
    # A clean environment (pytest's COLUMNS/LINES would fix the app's size at 80x24), as a person's shell has.
    env = {"WORKBENCH_HOME": str(home), "TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8",
           "HOME": os.environ.get("HOME", "/root"), "PATH": os.environ.get("PATH", "")}
    term = Terminal(home, f"cd {home} && {workbench} -m alpha -m beta", env)
    try:
        term.wait("Ask every model")
        term.type("Write area(r) for a circle")
        term.keys("Enter")
        term.wait("That is the area.")
        term.wait("complete")
        term.type("/")
        term.type("Now add a docstring")
        term.keys("Enter")
        screen = term.wait("turn 2: Now add a docstring")
        assert "turn 1: Write area(r) for a circle" in screen
        time.sleep(1.0)  # both replays finish well within this at 200 tokens/s
        term.type("2")  # B wins turn 2
        term.wait("Vote saved")
        term.type("c")  # copy pane A's code block
        term.wait("Copied")
        term.type("d")  # diff A's code with B's
        term.wait("math.pi")
        term.keys("Escape")
        time.sleep(0.6)  # a person's pause: Escape and a letter at once read as Alt+letter
        term.type("x")
        term.wait("Export session")
        term.keys("Enter")
        term.wait("Exported")
        term.keys("C-q")
        shown = term.wait("EXIT=", timeout=20)
        assert "EXIT=0" in shown
        assert "workbench export --session 1" in shown
        raw = term.raw.read_bytes()
        assert b"\x1b]52;c;" in raw, "no OSC 52 clipboard sequence reached the terminal"
        report = (home / "workbench-session-1.html").read_text()
        assert "Write area(r) for a circle" in report and "Now add a docstring" in report
    finally:
        term.close()

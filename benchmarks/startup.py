"""Start-up: `workbench --help`, `workbench models` and the app's first paint, against `python -c pass`.

Each command is the installed console script run as a user runs it, in a fresh
WORKBENCH_HOME whose config names a hosted model (litellm) next to the demo
model, so that a litellm import on the critical path would show. First paint is
the app started under a pseudo-terminal (160x48, xterm-256color) and timed from
the spawn to the moment the first full frame has been written: the prompt bar's
placeholder is in the output (the panes and the footer are written with it; the
first letter is left out of the match, as the cursor is drawn on it).
The app is then quit with Ctrl+Q. The same is timed with a config that has no
hosted model, and `import litellm` on its own, to show what litellm would cost
if it were imported before the first frame; one more run with `-X importtime`
checks that litellm's import ends after the first frame is written (the order
of the two in the terminal's output). Each figure is the median of N runs
(wall clock). Prints one JSON object and a line of prose. `--quick`: fewer runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

MARKER = b"sk every model"  # the placeholder, less its first letter (the cursor sits on it)
HOSTED = """
default_models = ["smollm2", "hosted"]

[[models]]
name = "hosted"
engine = "litellm"
model = "openai/gpt-4o-mini"
api_base = "http://127.0.0.1:9/v1"
api_key_env = "WB_BENCH_KEY"
"""
LOCAL_ONLY = 'default_models = ["smollm2"]\n'


def workbench_cmd() -> list[str]:
    """The console script next to this interpreter (as installed), else `python -m workbench`."""
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "workbench"]


def home_with(config: str) -> dict:
    """An environment whose WORKBENCH_HOME holds `config`."""
    home = Path(tempfile.mkdtemp(prefix="wb-bench-start-"))
    (home / "config.toml").write_text(config, encoding="utf-8")
    env = dict(os.environ, WORKBENCH_HOME=str(home), TERM="xterm-256color", COLORTERM="truecolor")
    env.pop("TEXTUAL", None)
    return env


def timed_run(cmd: list[str], env: dict) -> float:
    """Wall seconds for a command to run to its end."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def first_paint(cmd: list[str], env: dict, timeout: float = 30.0, linger: float = 0.0) -> float | bytes:
    """Seconds from spawning the app on a pty until its first full frame has been written.

    With `linger`, the app runs that much longer and everything it wrote is returned instead.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            close_fds=True,  # the pty as its controlling terminal: if this dies, the app is hung up
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    seen = b""
    painted = None
    try:
        while painted is None:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"no first frame within {timeout} s; output so far: {seen[-300:]!r}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    raise RuntimeError(f"the app exited before painting: {seen[-300:]!r}") from None
                if MARKER in seen:
                    painted = time.perf_counter() - start
        end = time.monotonic() + linger
        while time.monotonic() < end:
            if select.select([master], [], [], 0.05)[0]:
                seen += os.read(master, 65536)
        os.write(master, b"\x11")  # Ctrl+Q
        end = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < end:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        os.close(master)
    return seen if linger else painted


def litellm_after_first_frame(cmd: list[str], env: dict) -> bool:
    """Whether litellm finished importing only after the first frame was written (-X importtime order)."""
    out = first_paint(cmd, dict(env, PYTHONPROFILEIMPORTTIME="1"), linger=8.0)
    frame = out.find(MARKER)
    imported = out.find(b"| litellm\r\n")
    assert imported >= 0, "litellm was never imported (the warm-up import should run after the first frame)"
    return 0 <= frame < imported


def median_of(fn, runs: int, warm_up: bool = True) -> float:
    """Median of `runs` calls, after one untimed warm-up (the OS file cache)."""
    if warm_up:
        fn()
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 1 if quick else 9
    wb = workbench_cmd()
    hosted, local = home_with(HOSTED), home_with(LOCAL_ONLY)
    floor = median_of(lambda: timed_run([sys.executable, "-c", "pass"], hosted), runs)
    help_s = median_of(lambda: timed_run(wb + ["--help"], hosted), runs)
    models_s = median_of(lambda: timed_run(wb + ["models"], hosted), runs)
    paint_hosted = median_of(lambda: first_paint(wb, hosted), runs, warm_up=not quick)
    paint_local = median_of(lambda: first_paint(wb, local), max(1, runs // 2), warm_up=not quick)
    litellm_late = None if quick else litellm_after_first_frame(wb, hosted)
    litellm_env = dict(hosted, LITELLM_LOCAL_MODEL_COST_MAP="True")  # as the workbench imports it: offline
    litellm_s = None if quick else median_of(
        lambda: timed_run([sys.executable, "-c", "import litellm"], litellm_env), 3)
    for env in (hosted, local):
        shutil.rmtree(env["WORKBENCH_HOME"], ignore_errors=True)
    result = {
        "benchmark": "startup",
        "runs": runs,
        "python_pass_s": round(floor, 3),
        "help_s": round(help_s, 3),
        "models_s": round(models_s, 3),
        "first_paint_s": round(paint_hosted, 3),
        "first_paint_local_only_s": round(paint_local, 3),
        "import_litellm_s": round(litellm_s, 3) if litellm_s is not None else None,
        "litellm_imported_after_first_frame": litellm_late,
        "target_help_s": 0.3,
        "target_first_paint_s": 1.0,
    }
    print(json.dumps(result))
    print(f"`workbench --help` took {help_s:.2f} s and `workbench models` {models_s:.2f} s (python -c pass: "
          f"{floor:.2f} s); the app's first frame came after {paint_hosted:.2f} s with a hosted model configured "
          f"({paint_local:.2f} s without" + (f"; importing litellm alone takes {litellm_s:.2f} s)." if litellm_s else ")."))


if __name__ == "__main__":
    main()

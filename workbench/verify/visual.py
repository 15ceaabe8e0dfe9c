"""Graphics programs: a pygame answer run headless in the sandbox, its frames captured, judged and kept.

A Python answer is run this way when the prompt says `runner: pygame` (front matter, where the prompt
library has that field) or the code imports pygame. The sandbox is the usual one (no network, private
root and /tmp, throwaway users, rlimits, one memory limit, a wall clock that kills everything), with
two processes, as for Python tests:

- the program's process (`_pg_agent.py`, the answer's throwaway user): SDL's dummy video and audio
  drivers, pygame imported from the `visual` extra's folders (shown read-only), `pygame.display.flip`
  and `update` wrapped so that at most `fps` times a second the display surface is scaled down
  (nearest neighbour, longest side at most SIDE) and sent over a socket; then answer.py as `__main__`;
- the judge's process (`_pg_judge.py`, another throwaway user, non-dumpable, the only holder of the
  result channel and its nonce): it stamps every frame with its own clock, keeps at most `fps` a second
  and `seconds × fps` in all, of the announced size only; at `seconds` it sends "quit" (the program's
  side posts pygame's QUIT event) and waits QUIT_S for the program to go; then it runs the prompt's
  frame tests (`test_*(frames)`, see `_pg_judge.Frame`) and encodes the frames as one animated WebP.

What the program can and cannot forge. It runs in the same process as the capture hook, so the
*pixels* of a frame are its word: it can send any picture it likes instead of what it drew (which is
no more than drawing that picture). A frame's time is the program's reading of the shared monotonic
clock at the flip (so that a judge kept waiting for a CPU does not bunch the frames up), clamped by
the judge: never later than the judge received it, never earlier than the frame before or the start;
so a program can move a frame earlier by its delivery delay, no more, and cannot make the run longer,
faster or hold more frames than `seconds × fps` at most `fps` a second, nor change their size. It
cannot reach the judge (another uid, non-dumpable), the result channel or the tests; and how it ended
is not its word: the sandbox's init reports the program's exit status. So "quit cleanly" needs the
channel closed within QUIT_S of the quit *and* init's status 0 for a process that ended by itself
(one that closes the channel and keeps running is killed when the judge ends: it "did not quit").
Forgeable: a program whose main process exits 0 after the quit while a child it forked, having closed
its copy of the channel, runs on still counts as "quit cleanly" (the child dies with the sandbox); a
crash message can be faked, but only to the program's own harm.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import io
import json
import math
import os
import re
import signal
from dataclasses import dataclass, field, replace
from pathlib import Path

from workbench.verify.languages import (HERE, Judgement, NoRunner, Plan, _failed_note, _python_exe, python_test_names,
                                        stopped)
from workbench.verify.limits import Limits
from workbench.verify.sandbox import Peer, RunResult

DEFAULT_SECONDS = 6.0
"""How long a program runs before it is asked to quit, unless the prompt says otherwise."""
DEFAULT_FPS = 10
"""Frames captured per second."""
SIDE = 400
"""Longest side of a captured frame, in pixels (the display is scaled down to it)."""
QUIT_S = 1.0
"""How long a program has to end after the quit event."""
START_S = 15.0
"""How long the program's process may take to start (import pygame) before the run is given up."""
MAX_BYTES = 4 << 20
"""Largest animation kept; a bigger one is re-encoded lossy, then dropped."""
FRAME_BUDGET = 96 << 20
"""Raw frame bytes the judge may hold: long runs get smaller frames."""
PACKAGES = {"pygame": ("pygame_ce.libs", "pygame.libs"), "numpy": ("numpy.libs",),
            "PIL": ("pillow.libs", "Pillow.libs")}
"""The extra's packages the sandbox shows (read-only), with the folders of shared libraries their wheels bring."""
INSTALL = "pip install 'workbench[visual]'"
MIME = "image/webp"

_IMPORTS = re.compile(r"^[ \t]*(?:import[ \t]+(?:[\w.]+[ \t]*,[ \t]*)*pygame\b|from[ \t]+pygame\b)", re.M)


@dataclass
class VisualJudgement(Judgement):
    """A Judgement with what the run showed: fields for the Verdict (exit status, `visual`, `animation`)."""

    verdict_fields: dict = field(default_factory=dict)


def wants(prompt, code: str) -> bool:
    """Whether `code` (Python) is a graphics program to run headless: the prompt says so, or it imports pygame."""
    if prompt is not None and getattr(prompt, "runner", None) == "pygame":
        return True
    tests = getattr(prompt, "tests", None) if prompt is not None else None
    if tests and not frame_tests(tests):
        return False  # a prompt's ordinary Python tests call the answer's functions: run it as Python
    return bool(_IMPORTS.search(code))


def frame_tests(tests: str) -> bool:
    """Whether a Python tests block checks frames: a `test_*` function whose first parameter is `frames`."""
    from workbench.verify.extract import AST_LOCK

    try:
        with AST_LOCK:
            tree = ast.parse(tests)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.FunctionDef) and node.name.startswith("test") and node.args.args
               and node.args.args[0].arg == "frames" for node in tree.body)


def missing() -> str | None:
    """One line on how to install the extra, when one of its packages is not installed; else None."""
    absent = [name for name in PACKAGES if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return f"pygame programs run with the visual extra ({', '.join(absent)} missing): {INSTALL}"


def _package_dirs() -> tuple[tuple[str, ...], list[str]]:
    """Folders to show in the sandbox (each package and its libraries), and the folders to put on sys.path."""
    show: list[str] = []
    path: list[str] = []
    for name, libs in PACKAGES.items():
        spec = importlib.util.find_spec(name)
        folder = Path(next(iter(spec.submodule_search_locations))).resolve()
        show.append(str(folder))
        site = folder.parent
        show += [str(site / lib) for lib in libs if (site / lib).is_dir()]
        if str(site) not in path:
            path.append(str(site))
    return tuple(show), path


def settings(prompt) -> tuple[float, int]:
    """(seconds, fps) for a prompt: its front matter (`run_seconds`), or `SECONDS`/`FPS` in its tests, or defaults."""
    seconds: float = DEFAULT_SECONDS
    fps: int = DEFAULT_FPS
    tests = getattr(prompt, "tests", None) if prompt is not None else None
    if tests:
        from workbench.verify.extract import AST_LOCK

        try:
            with AST_LOCK:
                tree = ast.parse(tests)
        except SyntaxError:
            tree = None
        for node in tree.body if tree else ():
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                if node.targets[0].id == "SECONDS" and isinstance(value, (int, float)):
                    seconds = float(value)
                elif node.targets[0].id == "FPS" and isinstance(value, int):
                    fps = value
    front = getattr(prompt, "run_seconds", None) if prompt is not None else None
    if isinstance(front, (int, float)) and not isinstance(front, bool):
        seconds = float(front)
    return min(max(seconds, 0.5), 60.0), min(max(fps, 1), 30)


def plan(code: str, prompt, limits: Limits, seconds: float | None = None) -> Plan:
    """The sandboxed run of a pygame program (and the prompt's frame tests); raises NoRunner without the extra."""
    why = missing()
    if why:
        raise NoRunner(why)
    run_s, fps = settings(prompt)
    if seconds is not None:
        run_s = seconds
    tests = getattr(prompt, "tests", None) if prompt is not None else None
    names = python_test_names(tests) if tests else []
    exe, prefix = _python_exe()
    show, path = _package_dirs()
    most = math.ceil(run_s * fps) + 2
    side = max(64, min(SIDE, int(math.sqrt(FRAME_BUDGET / (3 * most)))))
    cfg = {"path": path, "fps": fps, "side": side, "seconds": run_s, "quit_s": QUIT_S, "start_s": START_S,
           "max_frames": most, "max_bytes": MAX_BYTES}
    files = {"_judge.py": (HERE / "_pg_judge.py").read_text(encoding="utf-8")}
    if tests:
        files["tests.py"] = tests
    agent = Peer({"answer.py": code, "_agent.py": (HERE / "_pg_agent.py").read_text(encoding="utf-8")},
                 [exe, "-E", "-s", "-u", "_agent.py", json.dumps({"path": path, "fps": fps, "side": side})],
                 wait_ready=True)
    room = replace(limits, wall_s=max(limits.wall_s, run_s + START_S + 10),
                   cpu_s=max(limits.cpu_s, math.ceil(run_s) + 10))
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

    def judge(run: RunResult) -> VisualJudgement:
        return judge_run(run, names, run_s, room)

    return Plan(files, [exe, "-E", "-s", "-u", "_judge.py", json.dumps(cfg), *names], judge,
                expose=(*prefix, *show), plain_program=None, peer=agent, env=env, limits=room)


def _signal_name(status: int) -> str:
    try:
        return signal.Signals(-status).name
    except ValueError:
        return f"signal {-status}"


def judge_run(run: RunResult, names: list[str], seconds: float, limits: Limits) -> VisualJudgement:
    """What the judge's report and init's exit statuses say, as a verdict."""
    lines = run.results
    seen = None
    for line in lines:
        if line.startswith("visual "):
            try:
                seen = json.loads(line[7:])
            except ValueError:
                seen = None
    total = len(names)
    passed = len({ln[5:] for ln in lines if ln.startswith("pass ")} & set(names))
    failed = [ln[5:] for ln in lines if ln.startswith("fail ")]
    load_error = next((ln.split()[2] for ln in lines if ln.startswith("load-error ") and len(ln.split()) > 2), None)
    animation = None
    chunks = [ln[5:] for ln in lines if ln.startswith("anim ")]
    if chunks and "done" in lines:
        try:
            animation = base64.b64decode("".join(chunks), validate=True)
        except ValueError:
            animation = None
    program = run.peer_status
    fields: dict = {"exit_status": program}
    if seen is None or "done" not in lines:
        why = stopped(run, limits) or f"the judge's process ended with status {run.status}"
        outcome = "timeout" if run.timed_out or run.cpu_limited else "error"
        return VisualJudgement(outcome, passed, total, f"{why} before the run was judged", fields)
    frames = int(seen.get("frames") or 0)
    static = bool(seen.get("static"))
    ended = seen.get("ended")
    line, outcome = describe(seen, program, seconds)
    visual = {"line": line, "seconds": seconds, "frames": frames, "times": seen.get("times") or [],
              "ended": ended, "static": static, "window": seen.get("window"), "size": seen.get("size"),
              "dropped": seen.get("dropped", 0), "tests_s": seen.get("tests_s"), "encode_s": seen.get("encode_s"),
              "quit_wait_s": seen.get("quit_wait_s"), "started_at": seen.get("started_at"), "fps": round(len(seen.get("times") or []) / seconds, 1)}
    fields.update(visual=visual, animation=animation)
    if outcome is None:  # the program ran and ended as asked: the tests decide
        if load_error:
            return VisualJudgement("error", 0, total, f"{line}; the tests raised {load_error} before they ran", fields)
        if not names:
            return VisualJudgement("no-tests", 0, 0, line, fields)
        if passed == total:
            return VisualJudgement("pass", passed, total, line, fields)
        return VisualJudgement("fail", passed, total, f"{line}; {_failed_note(failed, total)}", fields)
    if failed and outcome == "fail":
        line = f"{line}; {_failed_note(failed, total)}"
    return VisualJudgement(outcome, passed, total, line, fields)


def describe(seen: dict, program: int | None, seconds: float) -> tuple[str, str | None]:
    """The verdict line (`ran 6.0 s · 60 frames · quit cleanly`), and the outcome it forces (None: the tests
    decide)."""
    frames = int(seen.get("frames") or 0)
    ended = seen.get("ended")
    drew = f"{frames} frame{'s' * (frames != 1)}" if frames else "no frames (never drew)"
    still = ["static (every frame the same)"] if seen.get("static") else []
    at = float(seen.get("at_s") or 0.0)
    if ended == "no-pygame":
        return f"pygame did not load in the sandbox: {seen.get('why', '')}", "error"
    if ended == "never-started":
        how = f" (exit status {program})" if program is not None and program >= 0 else (
            f" (killed by {_signal_name(program)})" if program is not None else "")
        return f"the program never started{how}", "error"
    if ended == "crash":
        return " · ".join([f"crashed at {at:.1f} s: {seen.get('why', '')}", drew, *still]), "error"
    if ended == "broken":
        return " · ".join([f"broke the capture channel at {at:.1f} s ({seen.get('why', '')})", drew]), "fail"
    if ended == "self":
        if program is not None and program < 0:
            return " · ".join([f"killed by {_signal_name(program)} at {at:.1f} s", drew, *still]), "error"
        if program not in (None, 0):
            return " · ".join([f"exited with status {program} at {at:.1f} s", drew, *still]), "fail"
        head = f"exited by itself at {at:.1f} s"
        forced = "fail" if not frames or still else None
        return " · ".join([head, drew, *still]), forced
    ran = f"ran {seconds:.1f} s"
    if ended == "quit" and program == 0:
        forced = "fail" if not frames or still else None
        return " · ".join([ran, drew, *still, "quit cleanly"]), forced
    if ended == "quit" and program is not None and program > 0:
        return " · ".join([ran, drew, *still, f"quit with status {program}"]), "fail"
    if ended == "quit":  # the channel closed, but init had to kill the process: it kept running
        kept = f"did not quit within {QUIT_S:g} s (closed its channel, kept running)"
        return " · ".join([ran, drew, *still, kept]), "fail"
    return " · ".join([ran, drew, *still, f"did not quit within {QUIT_S:g} s"]), "fail"


def decode(animation: bytes, times: list[float] | None = None) -> list[tuple[float, object]]:
    """The frames of a stored animation as (seconds, PIL RGB image). The encoder stores identical frames in a
    row once (one longer frame), so `times` (the capture's) are used only when every frame is there."""
    from PIL import Image, ImageSequence

    out = []
    with Image.open(io.BytesIO(animation)) as image:
        at = times[0] if times else 0.0
        for frame in ImageSequence.Iterator(image):
            out.append((at, frame.convert("RGB")))
            at += (frame.info.get("duration") or 100) / 1000
    if times and len(times) == len(out):  # the capture's own times, where no frame was merged into the one before
        out = [(t, image) for t, (_, image) in zip(times, out)]
    return out


def save_next_to(output: str | os.PathLike, animation: bytes) -> Path:
    """Write an animation beside an output file (`out.json` → `out.webp`); returns where."""
    path = Path(output)
    target = path.with_suffix(".webp") if path.suffix != ".webp" else path
    target.write_bytes(animation)
    return target

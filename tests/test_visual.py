"""Graphics programs run headless (workbench/verify/visual.py): the verdicts, the graphics prompts' frame
tests against reference and plausible wrong programs, hostile programs, and the frames kept in the log,
the HTML report and `workbench check --json`.

The programs run once each, four at a time (they mostly wait on pygame's clock), when the first test
that needs one asks; each test then reads its own verdict.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

import visual_answers as programs
from workbench.cli import main
from workbench.prompts import parse
from workbench.verify import Limits, Verdict, sandbox, verify, visual

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
GRAPHICS = ("hexagon-ball", "double-pendulum", "particle-fountain", "snake-autoplay")
EXTRA = visual.missing()
needs_extra = pytest.mark.skipif(EXTRA is not None, reason=f"the visual extra is not installed: {EXTRA}")
runs_code = pytest.mark.skipif(not sandbox.kernel_allows_namespaces(),
                               reason="this machine allows no network/mount/PID namespaces: code is not run")


def fenced(code: str) -> str:
    return f"Here is the program:\n\n```python\n{code.strip()}\n```\n\nIt runs until the window is closed.\n"


def quick(seconds: float = 2.0):
    """A prompt without tests that runs a program for `seconds` (as front matter's run_seconds would)."""
    return types.SimpleNamespace(tests=None, tests_language=None, language="python", run_seconds=seconds)


class Runs:
    """Every program of this module, started together on first use, four at a time."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="visual-test")
        prompts = {name: parse(PROMPTS / f"{name}.md") for name in GRAPHICS}
        jobs: dict[str, tuple] = {f"ref-{name}": (prompts[name], code) for name, code in programs.REFERENCES.items()}
        for name in programs.WRONG:
            prompt, code = programs.wrong(name)
            jobs[name] = (prompts[prompt], code)
        for name, (code, _outcome, _note) in programs.HOSTILE.items():
            jobs[name] = (quick(), code.replace("WHERE", repr(str(scratch / "escaped"))))
        # the slow ones first, so the pool ends together
        order = sorted(jobs, key=lambda n: n in programs.HOSTILE or n.endswith("crash"))
        self.futures = {name: self.pool.submit(verify, fenced(jobs[name][1]), jobs[name][0]) for name in order}

    def __getitem__(self, name: str) -> Verdict:
        return self.futures[name].result(timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if EXTRA is not None or not sandbox.kernel_allows_namespaces():
        pytest.skip("needs the visual extra and namespaces")
    found = Runs(tmp_path_factory.mktemp("visual"))
    yield found
    found.pool.shutdown(wait=True, cancel_futures=True)


# ── detection, settings, the extra ────────────────────────────────────────────────────────────


def test_a_pygame_program_is_run_as_graphics_unless_the_prompt_tests_functions():
    lru = parse(PROMPTS / "lru-cache.md")
    assert visual.wants(None, "import math, pygame\n")
    assert visual.wants(None, "from pygame.locals import QUIT\n")
    assert not visual.wants(None, "import pygamer\n# import pygame\nx = 'import pygame'\n")
    assert not visual.wants(lru, "import pygame\n")  # its tests call functions: run as Python
    assert visual.wants(parse(PROMPTS / "hexagon-ball.md"), "import pygame\n")
    assert visual.wants(types.SimpleNamespace(runner="pygame", tests=None), "print(1)\n")


def test_run_length_and_rate_come_from_the_prompt():
    assert visual.settings(None) == (visual.DEFAULT_SECONDS, visual.DEFAULT_FPS)
    assert visual.settings(parse(PROMPTS / "particle-fountain.md")) == (5.0, 10)
    assert visual.settings(types.SimpleNamespace(tests="SECONDS = 3.5\nFPS = 20\n")) == (3.5, 20)
    assert visual.settings(types.SimpleNamespace(tests="SECONDS = 1000\nFPS = 0\n")) == (60.0, 1)
    assert visual.settings(quick(2)) == (2.0, visual.DEFAULT_FPS)


def test_graphics_prompts_have_frame_tests():
    for name in GRAPHICS:
        prompt = parse(PROMPTS / f"{name}.md")
        assert "visual" in prompt.tags and "pygame" not in (prompt.tests_language or "")
        assert visual.frame_tests(prompt.tests), name
        assert len(re.findall(r"^def test_\w+\(frames\):", prompt.tests, re.M)) >= 4, name


def test_without_the_extra_v_says_in_one_line_how_to_install_it(monkeypatch):
    real = visual.importlib.util.find_spec
    monkeypatch.setattr(visual.importlib.util, "find_spec", lambda name: None if name == "pygame" else real(name))
    verdict = verify(fenced(programs.HEXAGON), parse(PROMPTS / "hexagon-ball.md"))
    assert verdict.outcome == "no-runner"
    assert "\n" not in verdict.note and "pip install 'workbench[visual]'" in verdict.note and "pygame" in verdict.note


def test_the_verdict_as_json_holds_the_animation_size_not_its_bytes():
    verdict = Verdict("no-tests", visual={"line": "ran 6.0 s · 60 frames · quit cleanly", "frames": 60},
                      animation=b"RIFF1234")
    data = json.loads(json.dumps(verdict.as_dict()))
    assert data["animation"] == 8 and data["visual"]["frames"] == 60


@pytest.mark.parametrize("seen, program, line, outcome", [
    ({"ended": "quit", "frames": 60}, 0, "ran 6.0 s · 60 frames · quit cleanly", None),
    ({"ended": "crash", "frames": 12, "at_s": 1.23, "why": "ZeroDivisionError: division by zero"}, 1,
     "crashed at 1.2 s: ZeroDivisionError: division by zero · 12 frames", "error"),
    ({"ended": "quit", "frames": 0}, 0, "ran 6.0 s · no frames (never drew) · quit cleanly", "fail"),
    ({"ended": "quit", "frames": 60, "static": True}, 0,
     "ran 6.0 s · 60 frames · static (every frame the same) · quit cleanly", "fail"),
    ({"ended": "no-quit", "frames": 60}, -9, "ran 6.0 s · 60 frames · did not quit within 1 s", "fail"),
    ({"ended": "quit", "frames": 60}, -9,
     "ran 6.0 s · 60 frames · did not quit within 1 s (closed its channel, kept running)", "fail"),
    ({"ended": "self", "frames": 20, "at_s": 2.0}, 0, "exited by itself at 2.0 s · 20 frames", None),
    ({"ended": "self", "frames": 20, "at_s": 2.0}, 3, "exited with status 3 at 2.0 s · 20 frames", "fail"),
    ({"ended": "self", "frames": 2, "at_s": 0.4}, -9, "killed by SIGKILL at 0.4 s · 2 frames", "error"),
])
def test_verdict_lines(seen, program, line, outcome):
    assert visual.describe(seen, program, 6.0) == (line, outcome)


# ── the graphics prompts: reference programs pass, wrong ones fail with the right verdict ─────


@needs_extra
@runs_code
@pytest.mark.parametrize("prompt", GRAPHICS)
def test_reference_program_passes_its_frame_tests(runs, prompt):
    verdict = runs[f"ref-{prompt}"]
    assert verdict.outcome == "pass" and verdict.passed == verdict.total >= 4, (verdict.summary(), verdict.stderr)
    seconds, fps = visual.settings(parse(PROMPTS / f"{prompt}.md"))
    assert verdict.note == f"ran {seconds:.1f} s · {verdict.visual['frames']} frames · quit cleanly"
    assert verdict.exit_status == 0 and verdict.isolated_network
    assert 0.8 * seconds * fps <= verdict.visual["frames"] <= seconds * fps + 2
    times = verdict.visual["times"]
    assert times == sorted(times) and times[-1] <= seconds + 0.2
    assert verdict.animation[:4] == b"RIFF" and verdict.animation[8:12] == b"WEBP"
    shown = visual.decode(verdict.animation, times)  # (identical frames in a row are stored once)
    assert 0.5 * len(times) <= len(shown) <= len(times) and shown[-1][0] <= times[-1]


@needs_extra
@runs_code
@pytest.mark.parametrize("name", list(programs.WRONG))
def test_wrong_program_fails_with_the_right_verdict(runs, name):
    _prompt, _change, outcome, note = programs.WRONG[name]
    verdict = runs[name]
    assert verdict.outcome == outcome and note in verdict.note, (verdict.summary(), verdict.stderr[-2000:])


def test_each_graphics_prompt_has_enough_wrong_programs():
    counts = {name: sum(w[0] == name for w in programs.WRONG.values()) for name in GRAPHICS}
    assert counts["hexagon-ball"] >= 5 and min(counts.values()) >= 3, counts
    kinds = {w[3] for w in programs.WRONG.values() if w[0] == "hexagon-ball"}
    assert {"test_ball_stays_inside_the_polygon", "test_polygon_spins_at_12_rpm", "test_ball_gains_no_energy",
            "did not quit within 1 s"} <= kinds


# ── hostile programs are contained, with the right verdict ────────────────────────────────────


@needs_extra
@runs_code
@pytest.mark.parametrize("name", list(programs.HOSTILE))
def test_hostile_program_is_contained(runs, name):
    _code, outcome, note = programs.HOSTILE[name]
    verdict = runs[name]
    assert verdict.outcome == outcome and note in verdict.note, (verdict.summary(), verdict.stderr[-2000:])
    assert verdict.duration_ms < 15_000
    assert verdict.visual["frames"] <= 2 * visual.DEFAULT_FPS + 2  # never more than the rate allows
    if name == "writes-outside":
        import pygame

        assert "WROTE" not in verdict.stdout and verdict.stdout.count("refused") == 3
        assert not (runs.scratch / "escaped").exists() and not Path("/etc/escaped").exists()
        assert not (Path(pygame.__file__).parent / "escaped").exists()
    if name == "10000-fps":
        flips = int(re.search(r"flips (\d+)", verdict.stdout).group(1))
        assert flips > 10 * verdict.visual["frames"]  # it drew far faster than it was captured
    if name == "forges-frames":
        assert verdict.visual["dropped"] > 100


@needs_extra
@runs_code
def test_nothing_a_program_started_outlives_its_run(runs):
    for name in runs.futures:
        runs[name]
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "_agent.py" not in left and "_judge.py" not in left


# ── kept: the log, the HTML report, `workbench check` ─────────────────────────────────────────


@needs_extra
@runs_code
def test_frames_are_kept_in_the_log_and_shown_in_the_report(runs, tmp_path):
    from workbench.core import Comparison, Request
    from workbench.engines.replay import ReplayEngine
    from workbench.store import Store

    right, wrong = runs["ref-hexagon-ball"], runs["hexagon-still"]
    db = tmp_path / "log.db"
    store = Store(db)
    recorder = store.start_session("app")
    comparison = Comparison([ReplayEngine("right", "a"), ReplayEngine("wrong", "b")], Request("hexagon"),
                            subscribers=[recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait()
    recorder.verified(comparison.answers[0], right).result(10)
    recorder.verified(comparison.answers[1], wrong).result(10)
    store.close()
    import sqlite_utils

    rows = list(sqlite_utils.Database(db).query("SELECT * FROM animations ORDER BY id"))
    assert [r["data"] for r in rows] == [right.animation, wrong.animation]
    assert rows[0]["summary"] == right.visual["line"] and json.loads(rows[0]["times"]) == right.visual["times"]
    assert all(len(r["data"]) < visual.MAX_BYTES for r in rows)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["export", "--format", "html", "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    images = re.findall(r'<img src="data:image/webp;base64,([A-Za-z0-9+/=]+)"', html)
    assert [base64.b64decode(i) for i in images] == [right.animation, wrong.animation]
    assert "img-src data:" in html and "quit cleanly" in html and "<script" not in html


@needs_extra
@runs_code
def test_check_runs_a_graphics_answer_and_reports_it_in_json(tmp_path):
    prompt = tmp_path / "moving.md"
    prompt.write_text("---\ntitle: A moving square\ntags: [python, visual]\nlanguage: python\n---\n"
                      "Draw a square moving right.\n\n## Tests\n\n```python\nSECONDS = 2\n\n\n"
                      "def test_square_moves(frames):\n    xs = [f.blob((255, 255, 255))[0] for f in frames]\n"
                      "    assert xs[-1] > xs[0] + 50\n```\n")
    answer = tmp_path / "answer.py"
    answer.write_text("import pygame\npygame.init()\nscreen = pygame.display.set_mode((300, 200))\n"
                      "x, clock, running = 0.0, pygame.time.Clock(), True\nwhile running:\n"
                      "    for event in pygame.event.get():\n        running = event.type != pygame.QUIT\n"
                      "    screen.fill((0, 0, 0))\n    pygame.draw.rect(screen, (255, 255, 255), (x, 80, 20, 20))\n"
                      "    x += clock.tick(60) / 1000 * 100\n    pygame.display.flip()\n")
    result = CliRunner().invoke(main, ["check", str(answer), "--prompt", str(prompt), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"] == "pass" and data["note"].startswith("ran 2.0 s · ") and data["animation"] > 0
    assert data["visual"]["frames"] >= 15 and len(data["visual"]["times"]) == data["visual"]["frames"]


def test_time_limits_leave_room_for_the_run():
    plan = visual.plan("import pygame\n", quick(30), Limits()) if EXTRA is None else None
    if plan is None:
        pytest.skip(f"the visual extra is not installed: {EXTRA}")
    assert plan.limits.wall_s >= 30 + visual.START_S and plan.limits.cpu_s >= 30
    cfg = json.loads(plan.argv[5])
    assert cfg["max_frames"] == 30 * visual.DEFAULT_FPS + 2 and cfg["side"] < visual.SIDE  # long runs: smaller frames

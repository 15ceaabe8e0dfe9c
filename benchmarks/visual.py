"""Graphics programs (workbench/verify/visual.py): what running one costs, from `v` to pictures.

- end to end: `verify()` of the hexagon-ball reference program (tests/visual_answers.py) against
  prompts/hexagon-ball.md: a 6-second run, its frame tests and the animation, sandbox included;
- `v` to the first frame captured: from the call to the judge's first frame (the judge reports the
  wall-clock time of the program's start; frame times count from there);
- `v` to the first frame on screen: the app (Textual's Pilot, 160×48) with two replayed answers to
  hexagon-ball (the reference and a wrong one), from pressing `v` to the player showing both
  animations (both programs run at once; the player opens when both have run);
- capture cost per frame: the capture hook's work (scale an 800×800 display surface down to 400×400,
  read its bytes, send them over a socket to a reader), outside the sandbox, median of many; and what
  the hook costs a flip that takes no frame;
- stored size per answer: the animated WebP kept in the log for each graphics prompt's reference, and
  the judge's own time for the frame tests and the encoding.

`--screenshot PNG` also writes an HTML report with two answers' animations and has headless Chromium
(if installed) take a picture of it. Prints one JSON object and a line of prose. `--quick`: one run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from workbench.prompts import parse  # noqa: E402
from workbench.verify import sandbox, verify, visual  # noqa: E402


def fenced(code: str) -> str:
    return f"```python\n{code}\n```\n"


def end_to_end(runs: int) -> dict:
    import visual_answers

    prompt = parse(ROOT / "prompts" / "hexagon-ball.md")
    walls, firsts, verdict = [], [], None
    for _ in range(runs):
        begun_wall, begun = time.time(), time.monotonic()
        verdict = verify(fenced(visual_answers.HEXAGON), prompt)
        walls.append(time.monotonic() - begun)
        v = verdict.visual
        firsts.append(v["started_at"] - begun_wall + v["times"][0])
    return {"end_to_end_s": round(statistics.median(walls), 2), "run_s": verdict.visual["seconds"],
            "outcome": verdict.summary(), "v_to_first_frame_captured_s": round(statistics.median(firsts), 2),
            "judge_tests_s": verdict.visual["tests_s"], "judge_encode_s": verdict.visual["encode_s"]}


def stored_sizes() -> dict:
    import visual_answers

    sizes = {}
    for name, code in visual_answers.REFERENCES.items():
        verdict = verify(fenced(code), parse(ROOT / "prompts" / f"{name}.md"))
        sizes[name] = {"kb": round(len(verdict.animation) / 1024, 1), "frames": verdict.visual["frames"],
                       "size": verdict.visual["size"], "outcome": verdict.outcome}
    return sizes


def capture_cost(frames: int) -> dict:
    """The agent's capture (scale, bytes, send) on an 800×800 surface, and a hooked flip that takes no frame."""
    import os

    os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    import pygame

    pygame.init()
    screen = pygame.display.set_mode((800, 800))
    ours, theirs = socket.socketpair()
    got = [0]

    def drain():
        while True:
            chunk = theirs.recv(1 << 20)
            if not chunk:
                return
            got[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    costs = []
    for i in range(frames):
        screen.fill((i % 256, 0, 0))
        pygame.draw.circle(screen, (255, 255, 255), (400, 400), 100)
        begun = time.perf_counter()
        small = pygame.transform.scale(screen, (400, 400))
        data = pygame.image.tobytes(small, "RGB")
        ours.sendall(json.dumps({"k": "frame", "w": 400, "h": 400, "n": len(data)}).encode() + b"\n" + data)
        costs.append(time.perf_counter() - begun)
    ours.close()
    reader.join(5)
    due, flip = [time.monotonic() + 3600], pygame.display.flip

    def hooked():  # what the hook adds to a flip when no frame is due
        flip()
        if time.monotonic() < due[0]:
            return

    n = 2000
    begun = time.perf_counter()
    for _ in range(n):
        flip()
    plain = (time.perf_counter() - begun) / n
    begun = time.perf_counter()
    for _ in range(n):
        hooked()
    with_hook = (time.perf_counter() - begun) / n
    pygame.quit()
    return {"capture_ms_per_frame": round(statistics.median(costs) * 1000, 2),
            "capture_ms_p90": round(sorted(costs)[int(0.9 * len(costs))] * 1000, 2),
            "hook_us_per_flip_without_frame": round((with_hook - plain) * 1e6, 2)}


def v_to_player() -> float:
    """Seconds from pressing `v` (two hexagon-ball answers) to the player on screen with both animations."""
    import visual_answers

    from workbench import catalog
    from workbench.config import ModelSpec, load_settings
    from workbench.engines.pool import EnginePool
    from workbench.engines.replay import ReplayEngine
    from workbench.ui.app import build_app
    from workbench.ui.screens.player import PlayerScreen

    _prompt, wrong = visual_answers.wrong("hexagon-still")
    engines = [ReplayEngine("right", fenced(visual_answers.HEXAGON)), ReplayEngine("wrong", fenced(wrong))]
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    prompt = parse(ROOT / "prompts" / "hexagon-ball.md")

    async def run() -> float:
        app = build_app(load_settings(), [catalog.Entry(s) for s in specs], ["right", "wrong"],
                        pool_factory=lambda _s: EnginePool(engines))
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            await screen.send("the hexagon", prompt)
            while not screen.comparison.finished:
                await pilot.pause(0.05)
            screen.panes[0].view.focus()
            begun = time.monotonic()
            await pilot.press("v")
            while not (isinstance(app.screen, PlayerScreen) and all(
                    i is not None for i in app.screen.shown)):
                await pilot.pause(0.02)
            return time.monotonic() - begun

    with tempfile.TemporaryDirectory() as home:
        import os

        os.environ["WORKBENCH_HOME"] = home
        return round(asyncio.run(run()), 2)


def screenshot(png: Path) -> str:
    """An HTML report of two answers with animations, and headless Chromium's picture of it."""
    import visual_answers

    from workbench.core import Comparison, Request
    from workbench.engines.replay import ReplayEngine
    from workbench.export.html import write
    from workbench.store import Store

    prompt = parse(ROOT / "prompts" / "hexagon-ball.md")
    _p, wrong = visual_answers.wrong("hexagon-escapes")
    answers = [fenced(visual_answers.HEXAGON), fenced(wrong)]
    verdicts = [verify(a, prompt) for a in answers]
    folder = png.parent
    db = folder / "visual-report.db"
    db.unlink(missing_ok=True)
    store = Store(db)
    recorder = store.start_session("benchmark")
    comparison = Comparison([ReplayEngine("reference", answers[0]), ReplayEngine("escapes", answers[1])],
                            Request("Ball bouncing inside a spinning hexagon (prompts/hexagon-ball.md)"),
                            subscribers=[recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait()
    for answer, verdict in zip(comparison.answers, verdicts):
        recorder.verified(answer, verdict).result(10)
    store.close()
    import sqlite_utils

    html = folder / "visual-report.html"
    with open(html, "w", encoding="utf-8") as out:
        write(sqlite_utils.Database(db), out)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        return f"{html} (no Chromium here to take a picture)"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", "--window-size=1300,1500", "--virtual-time-budget=3000",
                    html.as_uri()], capture_output=True, timeout=120, check=False)
    return str(png)


def main() -> None:
    quick = "--quick" in sys.argv
    out: dict = {"benchmark": "visual"}
    why = visual.missing() or (None if sandbox.kernel_allows_namespaces() else "no namespaces: code is not run")
    if why:
        out["skipped"] = why
        print(json.dumps(out))
        print(f"Skipped: {why}.")
        return
    out.update(end_to_end(1 if quick else 3))
    out.update(capture_cost(60 if quick else 300))
    out["v_to_player_s"] = v_to_player()
    if not quick:
        out["stored"] = stored_sizes()
    if "--screenshot" in sys.argv:
        out["screenshot"] = screenshot(Path(sys.argv[sys.argv.index("--screenshot") + 1]).resolve())
    print(json.dumps(out))
    print(f"A {out['run_s']:g}-second hexagon-ball run costs {out['end_to_end_s']} s end to end; the first frame is "
          f"captured {out['v_to_first_frame_captured_s']} s after the call and both panes play "
          f"{out['v_to_player_s']} s after `v`; a capture costs {out['capture_ms_per_frame']} ms.")


if __name__ == "__main__":
    main()

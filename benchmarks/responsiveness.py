"""Staying responsive: key press to its effect on screen while four panes stream.

The app from `build_app` runs headless (160x48) with four replay engines, each
streaming the 2,000-line code answer of `render_stream` at 2,500 tok/s (10,000
tok/s in all: the four-pane rendering target), driven by the app's own 30
frames-a-second timer. A second thread plays the user: every 80-160 ms it sends
`z` (maximise the focused pane, then restore the four) the way Textual's input
thread does (`driver.process_message`), stamping the time just before. The
effect is on screen when the first screen update after the action has been
rendered to terminal escape codes (headless mode skips that step, so the
benchmark does it, and the time taken counts). Reported: p50, p95 and the worst
latency over all presses, and how fast the panes took their text meanwhile.

A second run replays the answers unpaced (each answer is there at once, far
faster than any model) as a stress case: the panes must catch up on a backlog
of 10,000 tokens each while keys are pressed.
Prints one JSON object and a line of prose. `--quick` runs a small smoke version.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time

from render_stream import SIZE, answer, replay_app
from textual import events

from workbench.engines.replay import ReplayEngine, split_tokens


def paced(text: str, tok_s: float | None) -> list[float] | None:
    """Delays for a replay at `tok_s` (a sleep every 25 tokens, as the OS sleeps no finer); None: unpaced."""
    if not tok_s:
        return None
    n = len(split_tokens(text))
    return [25 / tok_s if i % 25 == 24 else 0.0 for i in range(n)]


async def measure(text: str, tok_s: float | None, gap: tuple[float, float]) -> dict:
    """Press `z` over and over while four panes stream; latencies in ms."""
    engines = [ReplayEngine(f"replay-{i + 1}", text, delays=paced(text, tok_s)) for i in range(4)]
    app = replay_app(engines)
    latencies: list[float] = []
    state = {"sent": None, "acted": False, "missed": 0}
    seen = threading.Event()

    display = app._display

    def on_screen(screen, renderable) -> None:
        from textual._compositor import CompositorUpdate

        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # what a real terminal would be sent
        display(screen, renderable)
        if state["acted"] and state["sent"] is not None:
            latencies.append((time.perf_counter() - state["sent"]) * 1000)
            state["sent"], state["acted"] = None, False
            seen.set()

    app._display = on_screen

    def user(stop: threading.Event) -> None:
        rng = random.Random(7)
        while not stop.wait(rng.uniform(*gap)):
            if screen.comparison is None:
                continue  # not streaming yet
            seen.clear()
            state["sent"] = time.perf_counter()
            app._driver.process_message(events.Key("z", "z"))
            if not seen.wait(10):  # a press is waited for even after the stream ends
                state["missed"] += 1
                state["sent"], state["acted"] = None, False

    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.pause()
        maximize = screen.action_maximize

        def action_maximize() -> None:
            before = screen._maximized
            maximize()
            state["acted"] = screen._maximized is not before  # the next screen update shows it

        screen.action_maximize = action_maximize
        screen.panes[0].view.focus()  # where `z` acts
        await pilot.pause()
        stop = threading.Event()
        presser = threading.Thread(target=user, args=(stop,), daemon=True)
        presser.start()  # it presses once the answers stream
        start = time.perf_counter()
        await screen.send("stream four long answers")
        views = [pane.view for pane in screen.panes]
        while not (screen.comparison.finished and all(v.doc.lines and v.doc.lines[-1].text.plain == "That is all."
                                                      for v in views)):
            await asyncio.sleep(0.02)
        streamed = time.perf_counter() - start  # until the panes have it all, not the engines
        stop.set()
        while presser.is_alive():  # the app keeps running: a press in flight still shows its effect
            await asyncio.sleep(0.01)
        await pilot.pause()
        for pane in screen.panes:
            assert pane.view.text.rstrip().endswith("That is all."), "a pane missed text"
        tokens = sum(a.tokens for a in screen.comparison.answers)
    latencies.sort()
    return {
        "presses": len(latencies),
        "missed": state["missed"],
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "stream_s": round(streamed, 2),  # from Enter until every pane shows the whole answer
        "tok_s_each": round(tokens / 4 / streamed),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")
    text = answer(200 if quick else 2000)
    gap = (0.08, 0.16)
    steady = asyncio.run(measure(text, 2_500, gap))
    backlog = asyncio.run(measure(text, None, gap))
    result = {
        "benchmark": "responsiveness",
        "panes": 4,
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "key": "z",
        "paced_2500_tok_s_each": steady,
        "unpaced_backlog": backlog,
        "target_p95_ms": 50,
    }
    print(json.dumps(result))
    print(f"While four panes streamed at {steady['tok_s_each']:,} tok/s each, a key showed its effect in "
          f"{steady['p50_ms']} ms (p50), {steady['p95_ms']} ms (p95) over {steady['presses']} presses; "
          f"catching up on an unpaced backlog: p50 {backlog['p50_ms']} ms, p95 {backlog['p95_ms']} ms.")


if __name__ == "__main__":
    main()

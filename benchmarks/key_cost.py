"""Key cost: the UI thread's CPU for one key press, nothing streaming.

The app from `build_app` runs headless at 160x48 with two replay panes, each holding a finished
200-line code answer; the screen updates are rendered to terminal escape codes as a terminal would be
sent them (headless mode skips that step). Each key is pressed 20 times (`--quick`: 3); the figure is
the UI thread's CPU (`time.thread_time`) from the press until the screen has been painted twice after
it. Keys: `down` (scroll a row), `right` (next pane: restyles both panes' borders), `z` (maximise and
restore: a relayout), and `slash`/`escape` (into the prompt bar and out: the key bar changes).
Prints one JSON object and a line of prose.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

from render_stream import answer, count_terminal_output, replay_app

from workbench.engines.replay import ReplayEngine

KEYS = (("down",), ("right",), ("z",), ("slash", "escape"))


async def measure(presses: int) -> dict:
    engines = [ReplayEngine(f"replay-{i + 1}", answer(200)) for i in range(2)]
    app = replay_app(engines)
    count_terminal_output(app)
    out = {}
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        await pilot.pause()
        await screen.send("two long answers")
        while not screen.comparison.finished:
            await asyncio.sleep(0.05)
        await pilot.pause(0.5)
        for keys in KEYS:
            screen.set_focus(screen.panes[0].view)
            await pilot.pause(0.2)
            costs = []
            for _ in range(presses):
                for key in keys:
                    start = time.thread_time()
                    await pilot.press(key)
                    await pilot.pause()
                    await pilot.pause()
                    costs.append((time.thread_time() - start) * 1000)
            out["/".join(keys)] = {"median_ms": round(statistics.median(costs), 1), "max_ms": round(max(costs), 1),
                                   "presses": len(costs)}
    return out


def main() -> None:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")
    load = os.getloadavg()[0]
    keys = asyncio.run(measure(3 if "--quick" in sys.argv else 20))
    print(json.dumps({"benchmark": "key_cost", "terminal": "160x48", "load_at_start": round(load, 2), "keys": keys}))
    print("UI-thread CPU per key press, nothing streaming: " + ", ".join(
        f"{k} {v['median_ms']} ms (max {v['max_ms']})" for k, v in keys.items()) + f" (load {load:.2f} at the start).")


if __name__ == "__main__":
    main()

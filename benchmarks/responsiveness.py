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
of 10,000 tokens each while keys are pressed. A third has two panes of the demo
model SmolLM2 (two `LocalEngine` worker processes, the cores split between them
as the app splits them) generating at once: the everyday case on this machine,
where the UI and the models share two cores.

Every run applies the app's garbage-collector policy (as `workbench.cli` does
before `app.run()`) and times each full (generation 2) collection while the
panes stream: `full_gc_max_ms` (issue 15: none over 20 ms).
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

LOCAL_PROMPT = "Write a long Python module with many small functions, each with a docstring."


def local_app(engines: list):
    """The real app over these (already loaded) local engines, which the benchmark closes itself."""
    from workbench import catalog
    from workbench.config import load_settings
    from workbench.engines.pool import EnginePool
    from workbench.ui.app import build_app

    class Kept(EnginePool):
        def close(self) -> None:
            """The benchmark closes its engines."""

    specs = [e.spec for e in engines]
    return build_app(load_settings(), [catalog.Entry(s) for s in specs], [s.name for s in specs],
                     request_defaults={"max_tokens": 700, "temperature": 0},
                     pool_factory=lambda chosen: Kept(list(engines)))


def app_gc_policy() -> None:
    """What `workbench.cli` does before `app.run()` (keep the two in step)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


class FullCollections:
    """Durations of the full (generation 2) collections while it is on."""

    def __init__(self) -> None:
        import gc

        self.gc, self.on, self.ms, self._start = gc, False, [], 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2 or not self.on:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.ms.append((time.perf_counter() - self._start) * 1000)

    def close(self) -> dict:
        self.gc.callbacks.remove(self._callback)
        return {"full_gc_count": len(self.ms), "full_gc_max_ms": round(max(self.ms), 1) if self.ms else 0.0}


def paced(text: str, tok_s: float | None) -> list[float] | None:
    """Delays for a replay at `tok_s` (a sleep every 25 tokens, as the OS sleeps no finer); None: unpaced."""
    if not tok_s:
        return None
    n = len(split_tokens(text))
    return [25 / tok_s if i % 25 == 24 else 0.0 for i in range(n)]


KEYS = {
    # key: (the action it runs, on the screen or the focused view; what on screen shows it acted)
    "z": ("screen", "action_maximize", lambda screen, view: screen._maximized),  # relayout: the heaviest
    "right": ("screen", "action_focus_pane", lambda screen, view: screen.focused),  # restyle two borders
    "up": ("view", "action_scroll_by", lambda screen, view: view.scroll_offset.y),  # scroll one row
}


async def measure(text: str, tok_s: float | None, gap: tuple[float, float], engines: list | None = None,
                  prompt: str = "stream four long answers", key: str = "z") -> dict:
    """Press `key` over and over while the panes stream (four replays of `text`, or `engines`); latencies in ms."""
    replays = engines is None
    if replays:
        engines = [ReplayEngine(f"replay-{i + 1}", text, delays=paced(text, tok_s)) for i in range(4)]
    app = replay_app(engines) if replays else local_app(engines)
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
            app._driver.process_message(events.Key(key, key if len(key) == 1 else None))
            if not seen.wait(10):  # a press is waited for even after the stream ends
                state["missed"] += 1
                state["sent"], state["acted"] = None, False

    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.pause()
        view = screen.panes[0].view
        where, name, shown_by = KEYS[key]
        target = screen if where == "screen" else view
        action = getattr(target, name)

        def acting(*args) -> None:
            before = shown_by(screen, screen.focused)
            action(*args)
            state["acted"] = shown_by(screen, screen.focused) != before  # the next screen update shows it

        setattr(target, name, acting)
        view.focus()  # where the key acts
        await pilot.pause()
        stop = threading.Event()
        presser = threading.Thread(target=user, args=(stop,), daemon=True)
        presser.start()  # it presses once the answers stream
        app_gc_policy()
        collections = FullCollections()
        start = time.perf_counter()
        collections.on = True
        await screen.send(prompt)
        views = [pane.view for pane in screen.panes]

        def shown() -> bool:
            if replays:
                return all(v.doc.lines and v.doc.lines[-1].text.plain == "That is all." for v in views)
            return all(v.text.rstrip().endswith(a.text.rstrip()) for v, a in zip(views, screen.comparison.answers))

        while not (screen.comparison.finished and shown()):
            await asyncio.sleep(0.02)
        streamed = time.perf_counter() - start  # until the panes have it all, not the engines
        collections.on = False
        stop.set()
        while presser.is_alive():  # the app keeps running: a press in flight still shows its effect
            await asyncio.sleep(0.01)
        await pilot.pause()
        if replays:
            for pane in screen.panes:
                assert pane.view.text.rstrip().endswith("That is all."), "a pane missed text"
        else:
            for answer_ in screen.comparison.answers:
                assert answer_.status == "complete", answer_.error
        tokens = sum(a.tokens for a in screen.comparison.answers)
        panes = len(screen.panes)
    latencies.sort()
    return {
        **collections.close(),
        "presses": len(latencies),
        "missed": state["missed"],
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "stream_s": round(streamed, 2),  # from Enter until every pane shows the whole answer
        "tok_s_each": round(tokens / panes / streamed),
    }


def two_local(quick: bool, key: str = "z") -> dict | None:
    """Two panes of the demo model generating at once (None when it is not installed)."""
    from dataclasses import replace

    from workbench import catalog
    from workbench.config import load_settings
    from workbench.engines.local import LocalEngine, default_threads

    spec = next((e.spec for e in catalog.discover(load_settings()) if e.spec.name == "smollm2"), None)
    if spec is None:
        return None
    engines = [LocalEngine(replace(spec, name=f"smollm2-{i + 1}"), n_threads=default_threads(2)) for i in range(2)]
    try:
        for e in engines:
            problem = e.preload()
            assert problem is None, problem
        result = asyncio.run(measure("", None, (0.08, 0.16), engines=engines,
                                     prompt=LOCAL_PROMPT if not quick else "Say hello.", key=key))
        return {**result, "threads_each": engines[0].n_threads}
    finally:
        for e in engines:
            e.close()


def main() -> None:
    quick = "--quick" in sys.argv
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")
    load = os.getloadavg()[0]
    text = answer(200 if quick else 2000)
    gap = (0.08, 0.16)
    steady = asyncio.run(measure(text, 2_500, gap))
    backlog = asyncio.run(measure(text, None, gap))
    local = two_local(quick) if "--no-local" not in sys.argv else None
    # The everyday case again with lighter keys: a scroll, and a move to the next pane (a restyle).
    others = {k: two_local(quick, k) for k in ("up", "right")} if local and "--all-keys" in sys.argv else {}
    result = {
        "benchmark": "responsiveness",
        "panes": 4,
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "key": "z",
        "load_at_start": round(load, 2),
        "paced_2500_tok_s_each": steady,
        "unpaced_backlog": backlog,
        "two_local_models": local,
        **{f"two_local_models_key_{k}": v for k, v in others.items()},
        "target_p95_ms": 50,
        "target_p95_ms_stress": 100,
        "target_full_gc_max_ms": 20,
    }
    print(json.dumps(result))
    print(f"While four panes streamed at {steady['tok_s_each']:,} tok/s each, a key showed its effect in "
          f"{steady['p50_ms']} ms (p50), {steady['p95_ms']} ms (p95) over {steady['presses']} presses; "
          f"catching up on an unpaced backlog: p50 {backlog['p50_ms']} ms, p95 {backlog['p95_ms']} ms"
          + (f"; two local models generating: p50 {local['p50_ms']} ms, p95 {local['p95_ms']} ms." if local else ".")
          + "".join(f" Key {k!r} there: p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms." for k, v in others.items() if v))

if __name__ == "__main__":
    main()

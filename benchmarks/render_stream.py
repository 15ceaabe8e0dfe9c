"""How fast panes take a long streamed code answer, against Textual's MarkdownStream.

The whole UI path runs, headless: the app from `build_app`, its compare screen and
panes, and the screen's own `_paint` moving text from the answers into the panes.
The answers come from replay engines that hand over a fixed number of tokens per
frame (a gate the benchmark opens once a frame); after each frame the screen is
painted, and the compositor's update is also turned into the escape codes a real
terminal would be sent (headless mode skips that step, so the benchmark does it).

The figure is tokens per CPU second of the whole process (UI thread and engine
threads alike): waiting for the next frame is not work, so the figure is how fast
the panes could go. At 30 frames a second a model streaming R tok/s hands its
pane R/30 tokens a frame, and the pane keeps up if a frame costs at most 1/30 s
of CPU, that is if tokens per CPU second measured at R/30 tokens a frame is at
least R. Hence the frame sizes: one pane at 333 tokens a frame (10,000 tok/s),
four panes at 84 each (2,500 tok/s each), and one pane at 64 (a 2,000 tok/s
model, where the fixed cost of a frame weighs more; the figure earlier runs gave).

The answer is a 2,000-line Python block between two lines of prose. When its
fence closes the block is highlighted once more as a whole (multi-line strings
and comments come out right); that one-off pass falls in the last quarter and is
also reported on its own. The same code without a fence (as small models often
write it) is streamed into one pane too: it streams as prose, and when the
answer ends the pane renders it as code in one pass (workbench.codeblocks finds
it), reported on its own as `finish_extra_ms`. The baseline is the same tokens through
`Markdown.get_stream` in a bare app. A short untimed run goes first, so that
once-per-process costs (Pygments compiling its Python lexer, ~40 ms) do not land
in a first quarter. Prints one JSON object and a line of prose.
`--quick` runs a small smoke version.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time

from textual.app import App, ComposeResult
from textual.widgets import Markdown

from workbench import catalog
from workbench.engines.pool import EnginePool
from workbench.config import ModelSpec, load_settings
from workbench.core import Token
from workbench.engines.replay import ReplayEngine, split_tokens

SIZE = (160, 48)  # a roomy terminal: 46 answer rows a pane


def answer(lines: int) -> str:
    """A long code answer: prose, one big fenced block, prose."""
    body = "".join(f"def step_{i}(state, dt=0.016):\n    return state.advance({i} * dt)  # frame {i}\n"
                   for i in range(lines // 2))
    return f"Here is the program:\n\n```python\n{body}```\n\nThat is all.\n"


def unfenced_answer(lines: int) -> str:
    """The same code without its fence: prose, bare code, prose (no newline at the end, as models end)."""
    return answer(lines).replace("```python\n", "").replace("```\n", "").rstrip("\n")


class GatedReplay(ReplayEngine):
    """A replay that hands over `per_frame` tokens each time the benchmark opens its gate."""

    def __init__(self, name: str, text: str, per_frame: int) -> None:
        super().__init__(name, text)
        self.per_frame = per_frame
        self.gate = threading.Semaphore(0)

    def stream(self, request, cancel):
        sent = 0
        for event in super().stream(request, cancel):
            if isinstance(event, Token):
                if sent % self.per_frame == 0:
                    self.gate.acquire()
                sent += 1
            yield event


def replay_app(engines: list):
    """The real app over these engines (the factory the CLI uses, with a replay pool)."""
    from workbench.ui.app import build_app

    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    return build_app(load_settings(), [catalog.Entry(s) for s in specs], [s.name for s in specs],
                     pool_factory=lambda chosen: EnginePool(list(engines)))


def count_terminal_output(app) -> None:
    """Make the headless app render each screen update to escape codes, as it would for a terminal."""
    from textual._compositor import CompositorUpdate

    display = app._display

    def rendered(screen, renderable) -> None:
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)
        display(screen, renderable)

    app._display = rendered


async def _wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the replay engines did not deliver in time")
        await asyncio.sleep(0.0005)


async def measure_panes(text: str, panes: int, per_frame: int) -> dict:
    """Stream `text` into `panes` panes at `per_frame` tokens a frame each; CPU time per frame."""
    engines = [GatedReplay(f"replay-{i + 1}", text, per_frame) for i in range(panes)]
    n = len(engines[0].pieces)
    fenced = "```" in text
    # The one-off pass: a fence's closing re-highlight, or for bare code the pass when the answer ends.
    fence_end, length, close_token = text.index("```\n\nThat") + 3 if fenced else len(text) - 1, 0, 0
    for close_token, piece in enumerate(engines[0].pieces):  # the token that completes the closing fence line
        length += len(piece)
        if length > fence_end:
            break
    app = replay_app(engines)
    count_terminal_output(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.pause()
        await screen.send("stream the long answer")
        screen._timer.pause()  # frames are driven below, one per gate opening
        comparison = screen.comparison
        cpu, frame_cpu = [], []
        start = time.process_time()
        for done in range(per_frame, n + per_frame, per_frame):
            before = time.process_time()
            for engine in engines:
                engine.gate.release()
            target = min(done, n)
            await _wait_for(lambda target=target: all(len(a.pieces) >= target for a in comparison.answers))
            if target == n:
                await _wait_for(lambda: comparison.finished)
            screen._paint()
            await pilot.pause()  # the screen paints this frame
            now = time.process_time()
            cpu.append((target, now - start))
            frame_cpu.append(now - before)
        assert all(p.view.text.rstrip().endswith("That is all.") for p in screen.panes), "a pane missed text"
    q1_tokens, q3_tokens = n // 4, n - n // 4
    q1 = next(t for k, t in cpu if k >= q1_tokens)
    q3 = next(t for k, t in cpu if k >= q3_tokens)
    total = cpu[-1][1]
    close_frame = close_token // per_frame
    close_extra = frame_cpu[close_frame] - statistics.median(frame_cpu)
    first = q1_tokens / q1
    last = (n - q3_tokens) / (total - q3)
    last_streaming = (n - q3_tokens) / (total - q3 - close_extra)
    return {
        "tok_s_first_quarter": round(first),
        "tok_s_last_quarter": round(last),
        "tok_s_overall": round(n / total),
        "last_over_first": round(last / first, 2),
        "last_over_first_without_close": round(last_streaming / first, 2),
        "frame_cpu_ms_median": round(statistics.median(frame_cpu) * 1000, 2),
        "fence_close_extra_ms" if fenced else "finish_extra_ms": round(close_extra * 1000, 1),
        "tokens": n,
    }


class One(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def measure_markdown(tokens: list[str], batch: int) -> tuple[float, float, float]:
    """The baseline: the same tokens through Textual's MarkdownStream, painted between batches."""
    md = Markdown()
    app = One(md)
    async with app.run_test(size=SIZE) as pilot:
        stream = Markdown.get_stream(md)
        try:
            n = len(tokens)
            start = time.process_time()
            stamps = []
            for i in range(0, n, batch):
                await stream.write("".join(tokens[i:i + batch]))
                await pilot.pause()
                stamps.append((i + batch, time.process_time() - start))
        finally:
            await stream.stop()
    total = stamps[-1][1]
    q1 = next(t for k, t in stamps if k >= n // 4)
    q3 = next(t for k, t in stamps if k >= n - n // 4)
    return (n // 4) / q1, (n // 4) / (total - q3), n / total


def main() -> None:
    quick = "--quick" in sys.argv
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")  # no user config, no log
    lines = 200 if quick else 2000
    text = answer(lines)
    asyncio.run(measure_panes(answer(40), 1, 64))  # warm-up: Pygments compiles its lexer once per process
    one = asyncio.run(measure_panes(text, 1, 333))
    four = asyncio.run(measure_panes(text, 4, 84))
    slow = asyncio.run(measure_panes(text, 1, 64))
    bare = asyncio.run(measure_panes(unfenced_answer(lines), 1, 333))
    base = asyncio.run(measure_markdown(split_tokens(text), 64))
    result = {
        "benchmark": "render_stream",
        "lines": lines,
        "tokens": one["tokens"],
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "one_pane_333_per_frame": one,
        "four_panes_84_per_frame_each": four,
        "one_pane_64_per_frame": slow,
        "one_pane_unfenced_333_per_frame": bare,
        "markdown_stream_64_per_frame": {"tok_s_first_quarter": round(base[0]),
                                         "tok_s_last_quarter": round(base[1]),
                                         "tok_s_overall": round(base[2])},
        "target_one_pane_tok_s": 10_000,
        "target_four_panes_tok_s_each": 2_500,
        "target_last_over_first": 0.8,
    }
    print(json.dumps(result))
    print(f"One pane took {one['tok_s_overall']:,} tok/s over a {lines}-line code answer (last quarter "
          f"{one['last_over_first']}x the first, {one['last_over_first_without_close']}x without the "
          f"{one['fence_close_extra_ms']} ms block re-highlight); four panes {four['tok_s_overall']:,} tok/s each; "
          f"the same code unfenced {bare['tok_s_overall']:,} tok/s, {bare['finish_extra_ms']} ms to render it as code "
          "at the end; "
          f"Textual's MarkdownStream {round(base[2]):,} tok/s.")


if __name__ == "__main__":
    main()

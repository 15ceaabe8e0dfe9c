"""How fast a pane takes a long streamed code answer, against Textual's MarkdownStream.

Streams a 2,000-line Python answer (word-sized tokens) into one pane of a
headless app, letting the screen paint between batches as it would at ~30
frames a second, and reports tokens/s over the first and the last quarter as
tokens per CPU second of the app's process (waiting for the next frame is not
work, so it is not counted: the figure is how fast the pane could go).
The baseline is the same tokens through `Markdown.get_stream`.
Prints one JSON object and a line of prose. `--quick` runs a small smoke version.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from textual.app import App, ComposeResult
from textual.widgets import Markdown

from workbench.engines.replay import split_tokens
from workbench.ui.render import CodeStyle
from workbench.ui.widgets.answer_view import AnswerView


def answer(lines: int) -> str:
    """A long code answer: prose, one big fenced block, prose."""
    body = "".join(f"def step_{i}(state, dt=0.016):\n    return state.advance({i} * dt)  # frame {i}\n"
                   for i in range(lines // 2))
    return f"Here is the program:\n\n```python\n{body}```\n\nThat is all.\n"


class One(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def _quarters(feed, tokens: list[str], batch: int, pilot) -> tuple[float, float, float]:
    n = len(tokens)
    marks = {n // 4: None, 3 * n // 4: None}
    start = time.process_time()
    stamps = []
    for i in range(0, n, batch):
        await feed("".join(tokens[i:i + batch]))
        await pilot.pause()  # let the screen paint this frame
        stamps.append((i + batch, time.process_time()))
    total = time.process_time() - start
    q1 = next(t for k, t in stamps if k >= n // 4) - start
    q3 = next(t for k, t in stamps if k >= 3 * n // 4)
    last = total + start - q3
    return (n // 4) / q1, (n - 3 * n // 4) / last, n / total


async def measure_pane(tokens: list[str], batch: int) -> tuple[float, float, float]:
    view = AnswerView(CodeStyle("monokai"))
    app = One(view)
    async with app.run_test(size=(100, 40)) as pilot:
        async def feed(text: str) -> None:
            view.append(text)
        return await _quarters(feed, tokens, batch, pilot)


async def measure_markdown(tokens: list[str], batch: int) -> tuple[float, float, float]:
    md = Markdown()
    app = One(md)
    async with app.run_test(size=(100, 40)) as pilot:
        stream = Markdown.get_stream(md)
        try:
            return await _quarters(stream.write, tokens, batch, pilot)
        finally:
            await stream.stop()


def main() -> None:
    quick = "--quick" in sys.argv
    lines = 200 if quick else 2000
    tokens = split_tokens(answer(lines))
    batch = 64  # tokens per frame: a fast model at ~2,000 tok/s painted 30 times a second
    pane = asyncio.run(measure_pane(tokens, batch))
    base = asyncio.run(measure_markdown(tokens, batch))
    result = {
        "benchmark": "render_stream",
        "lines": lines,
        "tokens": len(tokens),
        "tokens_per_frame": batch,
        "pane_tok_s_first_quarter": round(pane[0]),
        "pane_tok_s_last_quarter": round(pane[1]),
        "pane_tok_s_overall": round(pane[2]),
        "pane_last_over_first": round(pane[1] / pane[0], 2),
        "markdown_stream_tok_s_first_quarter": round(base[0]),
        "markdown_stream_tok_s_last_quarter": round(base[1]),
        "markdown_stream_tok_s_overall": round(base[2]),
        "speedup_overall": round(pane[2] / base[2], 1),
    }
    print(json.dumps(result))
    print(f"A pane took {result['pane_tok_s_overall']:,} tok/s over a {lines}-line code answer "
          f"(last quarter {result['pane_last_over_first']}x the first); Textual's MarkdownStream took "
          f"{result['markdown_stream_tok_s_overall']:,} tok/s.")


if __name__ == "__main__":
    main()

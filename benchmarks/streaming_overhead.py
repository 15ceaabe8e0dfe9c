"""Streaming overhead: bare llama-cpp-python, the workbench's local engine, and the whole app.

Same GGUF (SmolLM2 from the demo extra), same prompt, greedy, same thread count
(n_threads and n_threads_batch) and token count, three arms run in turn
(A B C A B C ...) after one untimed warm-up round of each; medians are compared.

A  bare: `Llama.create_chat_completion(stream=True)` in this process.
B  engine: `LocalEngine` (worker process, pipe, `Comparison` timing), no UI.
C  app: the app from `build_app` running headless, with a `LocalEngine` of its
   own in its pool and a log (`Store`) recording, the prompt typed into the prompt
   bar and Enter pressed; the panes paint at their ~30 frames a second while
   the model streams (the screen updates are also rendered to terminal escape
   codes, which headless mode skips). Figures are the answer's own, as the pane
   shows them.

Each arm has its own copy of the model: llama-cpp-python reuses the KV cache of a
prompt prefix it has just seen, so arms sharing one would get a free prompt eval.
For the same reason the bare arm calls `Llama.reset()` before each answer, as the
workbench's worker does (so a seeded answer is the same every time): without it the
bare arm re-used the previous round's prompt and its TTFT was ~100 ms short.

tok/s is llama.cpp's definition: tokens after the first over the time since the
first; TTFT is from the request to the first token. Prints one JSON object and a
line of prose. `--quick` runs a small smoke version.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import wait as wait_futures
from pathlib import Path

from workbench import catalog
from workbench.core import Comparison
from workbench.engines.pool import EnginePool
from workbench.config import load_settings
from workbench.core import Request
from workbench.engines.local import LocalEngine

PROMPT = "Write a Python function that parses an ISO 8601 date string and explain it."


def bare(path: str, threads: int, tokens: int, prompt: str) -> tuple[float, float]:
    """(ttft_ms, tok/s) from llama-cpp-python in this process, streaming."""
    from llama_cpp import Llama

    llm = bare.cache.get(path) or Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                                        verbose=False)
    bare.cache[path] = llm
    llm.reset()  # as the workbench's worker does before every answer: no free prompt prefix from the last round
    start = time.monotonic()
    first = last = None
    count = 0
    for chunk in llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], max_tokens=tokens,
                                            temperature=0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            now = time.monotonic()
            first = first or now
            last = now
            count += 1
    return (first - start) * 1000, (count - 1) / (last - first)


bare.cache = {}


def engine_run(engine: LocalEngine, tokens: int, prompt: str) -> tuple[float, float]:
    """(ttft_ms, tok/s) through the workbench's local engine (worker process, pipe, timing)."""
    comparison = Comparison([engine], Request(prompt, max_tokens=tokens, temperature=0)).start()
    comparison.wait()
    answer = comparison.answers[0]
    assert answer.status == "complete", answer.error
    return answer.ttft_ms, answer.tokens_per_s


class SharedPool(EnginePool):
    """The app's pool holding the benchmark's engine, left open when the app closes."""

    def close(self) -> None:
        """The benchmark closes the engine itself."""


async def app_run(pilot, tokens: int, prompt: str) -> tuple[float, float]:
    """(ttft_ms, tok/s) of one answer in the running app: prompt typed in, Enter pressed."""
    from workbench.ui.widgets.prompt_bar import PromptBar

    screen = pilot.app.screen
    previous = screen.comparison
    if previous is not None:
        screen.action_new_comparison()  # each round is a new comparison, not a follow-up of the last
    bar = screen.query_one(PromptBar)
    bar.input.value = prompt
    bar.input.focus()
    await pilot.press("enter")
    end = time.monotonic() + 300
    while screen.comparison is previous or not screen.comparison.finished:
        assert time.monotonic() < end, "the app's answer did not finish"
        await asyncio.sleep(0.05)
    await pilot.pause()  # the last frame
    answer = screen.comparison.answers[0]
    assert answer.status == "complete", answer.error
    assert answer.tokens >= tokens // 2, "the answer stopped early"
    return answer.ttft_ms, answer.tokens_per_s


async def run_arms(spec, engine: LocalEngine, app_engine: LocalEngine, threads: int, tokens: int, rounds: int,
                   db: Path) -> dict:
    """Alternate the three arms; a warm-up round of each first (model pages, Pygments, the GGUF hash)."""
    from render_stream import count_terminal_output

    from workbench.store import Store
    from workbench.ui.app import build_app

    settings = load_settings()
    store = Store(db)
    app = build_app(settings, catalog.discover(settings), [spec.name], recorder=store.start_session("app"),
                    request_defaults={"max_tokens": tokens, "temperature": 0},
                    pool_factory=lambda specs: SharedPool([app_engine]))
    count_terminal_output(app)
    runs: dict[str, list] = {"bare": [], "engine": [], "app": []}
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            for i in range(rounds + 1):
                # A new prompt each round, the same for all three: none gets a warm prompt cache.
                prompt = f"Task {i + 1}. {PROMPT}"
                a = bare(spec.path, threads, tokens, prompt)
                b = engine_run(engine, tokens, prompt)
                c = await app_run(pilot, tokens, prompt)
                if not i:  # the log hashes the GGUF once, after the first answer: not during a timed run
                    wait_futures(list(store._pending), timeout=120)
                if i:  # round 0 warms up
                    runs["bare"].append(a)
                    runs["engine"].append(b)
                    runs["app"].append(c)
    finally:
        store.close()
    return runs


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, tokens, threads = (1, 16, 2) if quick else (7, 200, 2)
    home = tempfile.mkdtemp(prefix="wb-bench-")
    os.environ["WORKBENCH_HOME"] = home  # no user config; the app's log goes here
    spec = next(e.spec for e in catalog.discover(load_settings()) if e.spec.name == "smollm2")
    engine, app_engine = LocalEngine(spec, n_threads=threads), LocalEngine(spec, n_threads=threads)
    for e in (engine, app_engine):
        problem = e.preload()
        assert problem is None, problem
    try:
        runs = asyncio.run(run_arms(spec, engine, app_engine, threads, tokens, rounds, Path(home) / "bench.db"))
    finally:
        engine.close()
        app_engine.close()
        bare.cache.clear()  # free the in-process model now, not at interpreter exit
    med = {arm: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)) for arm, rs in runs.items()}
    (b_ttft, b_rate), (e_ttft, e_rate), (a_ttft, a_rate) = med["bare"], med["engine"], med["app"]
    result = {
        "benchmark": "streaming_overhead",
        "model": "smollm2",
        "threads": threads,
        "tokens": tokens,
        "rounds": rounds,
        "bare_tok_s": round(b_rate, 1),
        "engine_tok_s": round(e_rate, 1),
        "app_tok_s": round(a_rate, 1),
        "engine_over_bare": round(e_rate / b_rate, 3),
        "app_over_bare": round(a_rate / b_rate, 3),
        "bare_ttft_ms": round(b_ttft, 1),
        "engine_ttft_ms": round(e_ttft, 1),
        "app_ttft_ms": round(a_ttft, 1),
        "engine_ttft_delta_ms": round(e_ttft - b_ttft, 1),
        "app_ttft_delta_ms": round(a_ttft - b_ttft, 1),
        "runs": {arm: [[round(t, 1), round(r, 1)] for t, r in rs] for arm, rs in runs.items()},
        "target_app_over_bare": 0.95,
        "target_ttft_delta_ms": 50,
    }
    print(json.dumps(result))
    print(f"The whole app kept {result['app_over_bare']:.1%} of bare llama-cpp-python's tokens/s "
          f"({a_rate:.1f} vs {b_rate:.1f}; the engine alone {result['engine_over_bare']:.1%}); time to first "
          f"token {result['app_ttft_delta_ms']:+.1f} ms (engine alone {result['engine_ttft_delta_ms']:+.1f} ms).")


if __name__ == "__main__":
    main()

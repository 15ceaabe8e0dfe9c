"""Streaming overhead: bare llama-cpp-python against the workbench's local engine.

Same GGUF (SmolLM2 from the demo extra), same prompt, greedy, same thread count
and token count; runs alternate (A B A B) and the medians are compared.
Prints one JSON object and a line of prose. `--quick` runs a small smoke version.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from workbench import catalog
from workbench.compare import Comparison
from workbench.config import load_settings
from workbench.engines.base import Request
from workbench.engines.local import LocalEngine

PROMPT = "Write a Python function that parses an ISO 8601 date string and explain it."


def bare(path: str, threads: int, tokens: int, prompt: str) -> tuple[float, float]:
    """(ttft_ms, tok/s) from llama-cpp-python in this process, streaming."""
    from llama_cpp import Llama

    llm = bare.cache.get(path) or Llama(model_path=path, n_ctx=2048, n_threads=threads, verbose=False)
    bare.cache[path] = llm
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


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, tokens, threads = (1, 16, 2) if quick else (5, 200, 2)
    spec = next(e.spec for e in catalog.discover(load_settings()) if e.spec.name == "smollm2")
    engine = LocalEngine(spec, n_threads=threads)
    engine.preload()
    bare_runs, engine_runs = [], []
    try:
        for i in range(rounds):
            # A new prompt each round, the same for both: neither side gets a warm prompt cache.
            prompt = f"Task {i + 1}. {PROMPT}"
            bare_runs.append(bare(spec.path, threads, tokens, prompt))
            engine_runs.append(engine_run(engine, tokens, prompt))
    finally:
        engine.close()
    b_ttft = statistics.median(r[0] for r in bare_runs)
    b_rate = statistics.median(r[1] for r in bare_runs)
    e_ttft = statistics.median(r[0] for r in engine_runs)
    e_rate = statistics.median(r[1] for r in engine_runs)
    result = {
        "benchmark": "streaming_overhead",
        "model": "smollm2",
        "threads": threads,
        "tokens": tokens,
        "rounds": rounds,
        "bare_tok_s": round(b_rate, 1),
        "engine_tok_s": round(e_rate, 1),
        "engine_over_bare": round(e_rate / b_rate, 3),
        "bare_ttft_ms": round(b_ttft, 1),
        "engine_ttft_ms": round(e_ttft, 1),
        "ttft_delta_ms": round(e_ttft - b_ttft, 1),
    }
    print(json.dumps(result))
    print(f"The local engine kept {result['engine_over_bare']:.1%} of bare llama-cpp-python's tokens/s "
          f"({e_rate:.1f} vs {b_rate:.1f}); time to first token {result['ttft_delta_ms']:+.1f} ms.")


if __name__ == "__main__":
    main()

"""What makes an answer come back byte for byte, and what the local worker does that the log does not say.

Found by re-running the demo models (greedy and seeded, 1 and 2 threads, n_ctx 512 and 2048, a
fresh worker and one that had answered other prompts first): on one llama-cpp-python build and
one CPU, the text depends on the GGUF, the request (prompt, system prompt, history, max_tokens,
temperature, seed, top_p), how the prompt is formatted (the chat template or `chat_format`; a base
model's messages joined by blank lines), and the sampler's defaults. It did not depend on the
thread count or n_ctx. It did depend on the context being empty at the start of every answer:
llama-cpp-python reuses a matching prompt prefix and re-evaluates only its last token, in a batch
of one, which changes the logits in the last bits; the worker calls `llm.reset()` before every
answer for that reason. The prompt is evaluated in batches of `n_batch` tokens (512: the worker never
changes it); a prompt split at other places may be evaluated in a different order, so that is recorded
too, as are the llama.cpp build's CPU features and the CPU's flags (kernels are chosen by them).
"""

from __future__ import annotations

WORKER = {
    "n_batch": 512,
    "n_ubatch": 512,
    "n_threads_batch": "the same as n_threads",
    "context": "emptied before every answer (llm.reset()): no prompt prefix is reused from an earlier answer",
    "chat_model_prompt": "the GGUF's own chat template (tokenizer.chat_template) rendered by llama-cpp-python's "
                         "Jinja2ChatFormatter, tokenized with special tokens; its stop tokens end the answer",
    "named_chat_format": "with chat_format set, llama-cpp-python's create_chat_completion applies that format",
    "base_model_prompt": "no chat template and no chat_format: the system prompt, the history and the prompt "
                         "joined by blank lines, tokenized with a BOS token, continued as plain text",
    "seed": "set on every answer that has one; without a seed llama-cpp-python draws one from the last, so an "
            "unseeded sampled answer depends on what the worker answered before",
}
"""The local worker's settings a re-run keeps (workbench/engines/local_worker.py), for the manifest and the report."""

SAMPLER_KEYS = ("temperature", "top_p", "top_k", "min_p", "typical_p", "repeat_penalty", "frequency_penalty",
                "presence_penalty", "mirostat_mode")

NOT_LOGGED = {
    "n_ctx": "the context window: not in the log; taken from the model's config entry when the bundle was made",
    "chat_format": "a config override of the chat template: not in the log; from the config when the bundle was made",
    "repeat_guard": "the loop guard: not in the log; from the config when the bundle was made (unset: 4 lines "
                    "for a base model, off for a chat model)",
    "n_threads": "read from the answer's 'where' (CPU · N threads); it did not change any answer in our runs",
}

INTERRUPTED = ("cancelled", "interrupted", "streaming", "waiting", "loading")


def sampler_defaults() -> dict | None:
    """llama-cpp-python's defaults for the parameters a request leaves unset, or None without llama-cpp-python."""
    try:
        import inspect

        from llama_cpp import Llama
    except Exception:  # noqa: BLE001 - not installed, or its library does not load: say nothing
        return None
    out = {}
    for name, fn in (("completion", Llama.create_completion), ("chat_format", Llama.create_chat_completion)):
        params = inspect.signature(fn).parameters
        out[name] = {k: params[k].default for k in SAMPLER_KEYS if k in params}
    return out


def classify(answer: dict, engine: str | None) -> tuple[bool, str]:
    """(whether a re-run should give the same bytes, why), from the answer's engine, status and request."""
    status = answer.get("status")
    request = answer.get("request") or {}
    temperature, seed = request.get("temperature"), request.get("seed")
    if status in INTERRUPTED:
        return False, f"the answer was {status} part-way, so its text is not what the model would finish with"
    if status == "failed":
        return False, "the answer failed"
    if engine == "llama":
        if temperature == 0:
            return True, "greedy (temperature 0) on a local model"
        if seed is not None:
            return True, f"sampled with a fixed seed ({seed}) on a local model"
        shown = "the default temperature" if temperature is None else f"temperature {temperature:g}"
        return False, f"sampled with {shown} and no seed"
    if engine == "litellm":
        if seed is not None:
            return True, f"hosted with a fixed seed ({seed}); providers do not promise the same answer"
        return False, "hosted without a fixed seed"
    if engine == "replay":
        return False, "a stored answer (engine replay), not a model"
    return False, "the log has no fingerprint of its model" if engine is None else f"unknown engine {engine!r}"

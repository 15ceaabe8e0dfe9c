"""The process that owns one `Llama`: loads the GGUF once, serves one request at a time.

Runs in a child process so that a model which crashes llama.cpp takes down only
this worker. Messages over the pipe are tuples whose first item is a verb:

parent → worker: ("generate", request_dict), ("cancel",), ("close",)
worker → parent: ("loaded", info), ("load_failed", message),
                 ("received", record), ("token", text), ("usage", prompt, completion),
                 ("done", finish_reason, cancelled), ("error", message)
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import Any


def _die_with_parent(parent_pid: int) -> None:
    """Make sure a killed app never leaves a worker behind."""
    # Not PR_SET_PDEATHSIG: Linux sends it when the *thread* that started the worker ends, and
    # workers are started from short-lived engine threads, so it killed them after every answer.

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def _last_log_line(log_path: str) -> str:
    """The most telling line llama.cpp wrote, for a load error."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            lines = [ln.strip() for ln in fh if ln.strip()]
    except OSError:
        return ""
    for line in reversed(lines):
        if re.search(r"error|failed|invalid|truncat|corrupt", line, re.I):
            return line[:200]
    return ""


def main(conn: Any, spec: dict, parent_pid: int, log_path: str) -> None:
    """Entry point of the worker process."""
    _die_with_parent(parent_pid)
    try:
        import llama_cpp
        from llama_cpp import Llama
    except ImportError as exc:
        conn.send(("load_failed", f"llama-cpp-python is not installed ({exc})"))
        return
    try:
        llm = Llama(
            model_path=spec["path"],
            n_ctx=spec["n_ctx"],
            n_threads=spec["n_threads"],
            # llama-cpp-python defaults batch threads to every core; with several models open that
            # oversubscribes the CPU and llama.cpp's spinning threads stall each other for seconds.
            n_threads_batch=spec["n_threads"],
            n_gpu_layers=spec["n_gpu_layers"],
            chat_format=spec["chat_format"],
            verbose=False,
        )
    except Exception as exc:  # llama.cpp reports load failures as bare ValueErrors
        detail = _last_log_line(log_path) or str(exc).splitlines()[0]
        conn.send(("load_failed", f"llama.cpp could not load {spec['path']}: {detail}"))
        return
    chat = bool(spec["chat_format"] or llm.metadata.get("tokenizer.chat_template"))
    formatter = _chat_formatter(llm, spec)
    _capture_calls(llm)
    conn.send(("loaded", _describe(llm, llama_cpp, chat)))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "close":
            return
        if msg[0] == "generate":
            _generate(conn, llm, formatter, chat, msg[1])


def _describe(llm: Any, llama_cpp: Any, chat: bool) -> dict:
    """What the model is, from its GGUF metadata: for the log's fingerprint of it."""
    import hashlib

    meta = llm.metadata
    arch = meta.get("general.architecture")
    ftypes = {getattr(llama_cpp, n): n.removeprefix("LLAMA_FTYPE_MOSTLY_").removeprefix("LLAMA_FTYPE_")
              for n in dir(llama_cpp) if n.startswith("LLAMA_FTYPE_")}
    try:
        file_type = ftypes.get(int(meta.get("general.file_type", "")), meta.get("general.file_type"))
    except ValueError:
        file_type = meta.get("general.file_type")
    template = meta.get("tokenizer.chat_template")
    try:
        n_params = int(llm._model.n_params())
    except Exception:  # noqa: BLE001 - older llama-cpp-python builds lack it
        n_params = None
    try:
        context = int(meta.get(f"{arch}.context_length", "")) if arch else None
    except ValueError:
        context = None
    return {
        "chat": chat,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "n_ctx": llm.n_ctx(),
        "llama_cpp_version": getattr(llama_cpp, "__version__", "?"),
        "architecture": arch,
        "quantization": file_type,
        "size_label": meta.get("general.size_label"),
        "parameters": n_params,
        "context_length": context,
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest() if template else None,
    }


def _chat_formatter(llm: Any, spec: dict) -> Any:
    """The GGUF's own chat template as a formatter, or None (named format, or a base model)."""
    template = llm.metadata.get("tokenizer.chat_template")
    if spec["chat_format"] or not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token_id: int) -> str:
        return llm._model.token_get_text(token_id) if token_id != -1 else ""

    return Jinja2ChatFormatter(
        template=template,
        eos_token=text(llm.token_eos()),
        bos_token=text(llm.token_bos()),
        stop_token_ids=[llm.token_eos()],
    )


SAMPLING = ("max_tokens", "temperature", "top_p", "top_k", "min_p", "typical_p", "repeat_penalty",
            "frequency_penalty", "presence_penalty", "mirostat_mode", "seed")
"""The sampling parameters of `Llama.create_completion` the parity record reports, as llama.cpp got them."""
_SET_BY_REQUEST = ("max_tokens", "temperature", "top_p", "seed")


def _capture_calls(llm: Any) -> None:
    """Keep the arguments of every `create_completion` call on `llm._wb_call` (defaults filled in).

    Wrapped on the instance, so a named `chat_format`'s handler (which calls `llama.create_completion`
    with its own defaults, the tokenized prompt and its stop strings) is seen too: what llama.cpp was
    given, whichever path built it.
    """
    import inspect

    real = llm.create_completion
    defaults = {name: p.default for name, p in inspect.signature(real).parameters.items()
                if p.default is not inspect.Parameter.empty}

    def create_completion(*args: Any, **kwargs: Any) -> Any:
        call = dict(defaults)
        call.update(zip(("prompt",), args))
        call.update(kwargs)
        llm._wb_call = call
        return real(*args, **kwargs)

    llm._wb_call = None
    llm.create_completion = create_completion


def _received(llm: Any, req: dict, template: str | None, text: str | None, add_bos: bool | None) -> dict:
    """What the model was given, from the last `create_completion` call: the parity record (unbounded)."""
    call = llm._wb_call or {}
    prompt = call.get("prompt")
    if text is None and isinstance(prompt, list):  # a named chat_format: its tokens, back to text
        text = llm.detokenize(prompt, special=True).decode("utf-8", errors="replace")
        add_bos = bool(prompt) and prompt[0] == llm.token_bos()
    elif text is None and isinstance(prompt, str):
        text = prompt
    if template == "gguf":
        how = ("the GGUF's chat template, rendered by llama-cpp-python's Jinja2ChatFormatter "
               "(these characters were tokenized)")
    elif template:
        how = (f"llama-cpp-python's chat handler for chat_format {template!r}; its tokens turned back into "
               "text (special tokens shown)")
    else:
        how = "completion text: a base model has no chat template, the messages are joined with blank lines"
    stop = call.get("stop") or []
    history = req.get("history") or []
    params = {k: call.get(k) for k in SAMPLING}
    if params.get("max_tokens") is not None and params["max_tokens"] <= 0:
        params["max_tokens"] = None
    return {
        "v": 1,
        "engine": "llama",
        "mode": "chat" if template else "completion",
        "template": template,
        "prompt_source": how,
        "prompt_text": text,
        "add_bos": add_bos,
        "system": req.get("system"),
        "prompt": req.get("prompt"),
        "history": len(history),
        "params": params,
        "defaults": [k for k in SAMPLING if k not in _SET_BY_REQUEST or req.get(k) is None],
        "ignored": [],
        "n_ctx": llm.n_ctx(),
        "n_batch": getattr(llm, "n_batch", None),
        "stop": [stop] if isinstance(stop, str) else list(stop),
        "stop_at_eos": True,
    }


def _generate(conn: Any, llm: Any, formatter: Any, chat: bool, req: dict) -> None:
    """Stream one answer back, stopping between tokens when the parent cancels."""
    from llama_cpp import StoppingCriteriaList

    state = {"cancelled": False, "sampled": 0}

    def stop(_input_ids: Any, _logits: Any) -> bool:
        # llama-cpp-python calls this once per sampled token: count it, and check for a cancel.
        state["sampled"] += 1
        if conn.poll():
            if conn.recv()[0] in ("cancel", "close"):
                state["cancelled"] = True
        return state["cancelled"]

    params: dict[str, Any] = {"max_tokens": req["max_tokens"], "stream": True}
    for key in ("temperature", "seed", "top_p"):
        if req.get(key) is not None:
            params[key] = req[key]
    # The worker imports nothing of the workbench (it starts fast): the request arrives as a dict.
    history = [{"role": m["role"], "content": m["content"]} for m in req.get("history") or ()]
    messages = [{"role": "system", "content": req["system"]}] if req.get("system") else []
    messages += history + [{"role": "user", "content": req["prompt"]}]
    finish = None
    prompt_tokens: int | None = None
    # Every answer starts from an empty context: reusing a matching prefix of the last prompt
    # re-evaluates its final token in a batch of one, which changes the logits in the last bits,
    # so the same seed (or a repeat) gave a different answer (llama-cpp-python 0.3.36, seen here).
    llm.reset()
    llm._wb_call = None
    try:
        if chat and formatter is None:
            # A named chat_format: llama-cpp-python applies it; cancel between chunks.
            chunks = llm.create_chat_completion(messages=messages, **params)
            pieces = (c["choices"][0] for c in chunks)
            text_of = lambda choice: choice.get("delta", {}).get("content")  # noqa: E731
            received = _received(llm, req, getattr(llm, "chat_format", None) or "named", None, None)
        else:
            if chat:
                fmt = formatter(messages=messages)
                text, add_bos = fmt.prompt, not fmt.added_special
                tokens = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
                criteria = [stop] + list(fmt.stopping_criteria or [])
                stops = fmt.stop if isinstance(fmt.stop, list) else [fmt.stop] if fmt.stop else []
            else:
                # A base model has no template: continue the text as written (the conversation so far
                # first, as plain paragraphs).
                text, add_bos = "\n\n".join([m["content"] for m in messages]), True
                tokens = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
                criteria, stops = [stop], []
            prompt_tokens = len(tokens)
            if prompt_tokens + 1 > llm.n_ctx():
                conn.send(("error", f"prompt is {prompt_tokens} tokens, longer than the context window "
                                    f"of {llm.n_ctx()} (raise n_ctx)"))
                return
            chunks = llm.create_completion(
                prompt=tokens, stop=stops or None, stopping_criteria=StoppingCriteriaList(criteria), **params
            )
            pieces = (c["choices"][0] for c in chunks)
            text_of = lambda choice: choice.get("text")  # noqa: E731
            received = _received(llm, req, "gguf" if chat else None, text, add_bos)
        conn.send(("received", received))  # before the first token: what the model is about to continue
        sent = 0
        for choice in pieces:
            piece = text_of(choice)
            if piece:
                conn.send(("token", piece))
                sent += 1
            finish = choice.get("finish_reason") or finish
            if formatter is None and chat and conn.poll() and conn.recv()[0] in ("cancel", "close"):
                state["cancelled"] = True
                break
    except Exception as exc:
        conn.send(("error", _explain(exc)))
        return
    completion = min(state["sampled"], req["max_tokens"]) if state["sampled"] else sent
    conn.send(("usage", prompt_tokens, completion))
    conn.send(("done", "cancelled" if state["cancelled"] else finish, state["cancelled"]))


def _explain(exc: Exception) -> str:
    """One line for a generation error."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    m = re.search(r"Requested tokens \((\d+)\) exceed context window of (\d+)", text)
    if m:
        return f"prompt is {m.group(1)} tokens, longer than the context window of {m.group(2)} (raise n_ctx)"
    return f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    # python -m workbench.engines.local_worker FD PARENT_PID LOG_PATH SPEC_JSON
    # (stdout and stderr already point at LOG_PATH, so llama.cpp's chatter stays off the screen)
    import json
    from multiprocessing.connection import Connection

    main(Connection(int(sys.argv[1])), json.loads(sys.argv[4]), int(sys.argv[2]), sys.argv[3])

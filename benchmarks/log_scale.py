"""The log at scale: 10,000 answers and 100,000 votes, then `sessions` and every export format, timed.

The rows go straight in with sqlite-utils (the schema is the one `open_db` makes), so the
figure is the read side: the `sessions` query and each export written to a file. Answers are
a realistic mix (code answers of 10-40 lines in a few languages, prose with lists, a few
failures); votes are changed often, as in the app: per prompt only the latest one stands,
the rest are kept as retracted. Prints one JSON object and a line of prose.
`--quick` runs a small smoke version (200 answers, 2,000 votes).
"""

from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from workbench import export
from workbench.store import open_db
from workbench.store.queries import sessions

MODELS = [
    {"id": "m-llama-q4", "name": "qwen-coder-1.5b", "engine": "llama", "sha256": "ab" * 32, "path": "/m/q.gguf",
     "architecture": "qwen2", "quantization": "Q4_K_M", "parameters": 1_540_000_000, "context_length": 32768,
     "chat_template_sha256": "cd" * 32, "llama_cpp_version": "0.3.16", "gpu_offload": 0, "n_gpu_layers": 0},
    {"id": "m-llama-q8", "name": "smollm2", "engine": "llama", "sha256": "ef" * 32, "path": "/m/s.gguf",
     "architecture": "llama", "quantization": "Q8_0", "parameters": 135_000_000, "context_length": 8192,
     "chat_template_sha256": "12" * 32, "llama_cpp_version": "0.3.16", "gpu_offload": 0, "n_gpu_layers": 0},
    {"id": "m-remote-a", "name": "gpt-mini", "engine": "litellm", "litellm_model": "openai/gpt-4o-mini",
     "api_host": "api.openai.com", "provider_model_id": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_0aa8d3"},
    {"id": "m-remote-b", "name": "local-vllm", "engine": "litellm", "litellm_model": "openai/qwen",
     "api_host": "127.0.0.1:8000", "provider_model_id": "Qwen/Qwen2.5-7B-Instruct", "system_fingerprint": None},
]


def code_answer(rng: random.Random, i: int) -> str:
    """Prose, one fenced block of 10-40 lines (Python, JavaScript or Rust), and a closing note."""
    lines = rng.randint(10, 40)
    lang = rng.choice(["python", "python", "javascript", "rust"])
    if lang == "python":
        body = [f"def step_{i}_{k}(state, dt=0.016):\n    return state.advance({k} * dt)  # frame {k}"
                for k in range(lines // 2)]
    elif lang == "javascript":
        body = [f"function step{i}_{k}(state) {{ return state.advance({k} / 60); }} // frame {k}"
                for k in range(lines)]
    else:
        body = [f"fn step_{i}_{k}(s: &mut State) -> f32 {{ s.advance({k}.0 * DT) }} // frame {k}"
                for k in range(lines)]
    code = "\n".join(body)
    return (f"Here is a version for case {i} that keeps the state *immutable* and avoids `global`:\n\n"
            f"```{lang}\n{code}\n```\n\nEach step is pure, so it is easy to test; call it once per frame.\n")


def prose_answer(rng: random.Random, i: int) -> str:
    """A few paragraphs and a list, with inline code."""
    points = "\n".join(f"- Point {k}: prefer `item_{i}_{k}` when the input is **large** ({k * 17} rows)."
                       for k in range(rng.randint(3, 8)))
    return (f"There are a few ways to approach question {i}.\n\n{points}\n\n"
            "In short: measure first, then change one thing at a time, and keep the old path until the new "
            "one is proven on real data.\n")


def fill(db, n_answers: int, n_votes: int) -> dict:
    """Insert sessions, prompts, answers (two per prompt) and votes directly."""
    rng = random.Random(7)
    n_prompts = n_answers // 2
    per_session = 100
    db["models"].insert_all(MODELS, pk="id", ignore=True)
    sessions_rows, prompts, responses = [], [], []
    for s in range(max(1, n_prompts // per_session)):
        sessions_rows.append({"id": s + 1, "name": f"bench {s}" if s % 3 == 0 else None,
                              "source": "run" if s % 2 else "app", "started_at": f"2026-01-{s % 28 + 1:02d}T10:00:00Z",
                              "workbench_version": "bench", "host": "bench", "pid": None})
    n_sessions = len(sessions_rows)
    for p in range(n_prompts):
        pid = p + 1
        prompts.append({"id": pid, "session_id": p * n_sessions // n_prompts + 1,
                        "text": f"Write a function for case {p} that steps the simulation, and explain it.",
                        "system": None, "params": json.dumps({"max_tokens": 512, "temperature": 0, "seed": p,
                                                              "top_p": None}),
                        "created_at": "2026-01-01T10:00:00Z"})
        pair = rng.sample(MODELS, 2)
        for pos, model in enumerate(pair):
            rid = len(responses) + 1
            failed = rng.random() < 0.03
            text = (code_answer if rng.random() < 0.7 else prose_answer)(rng, rid)
            responses.append({
                "id": rid, "prompt_id": pid, "model_id": model["id"], "model_name": model["name"],
                "position": pos, "label": "AB"[pos], "blind": 0, "attempt": 0,
                "status": "failed" if failed else "complete", "text": text[: len(text) // 3] if failed else text,
                "error": "APIConnectionError: the server closed the stream" if failed else None,
                "finish_reason": None if failed else "stop", "where_run": "bench",
                "ttft_ms": rng.uniform(40, 900), "duration_ms": rng.uniform(500, 9000), "load_ms": None,
                "prompt_tokens": 40, "completion_tokens": len(text) // 4, "tokens_per_s": rng.uniform(20, 160),
                "started_at": "2026-01-01T10:00:01Z", "updated_at": "2026-01-01T10:00:09Z"})
    retractable = "retracted_at" in db["votes"].columns_dict
    votes = []
    per_prompt = max(1, n_votes // n_prompts)
    for v in range(n_votes):
        p = v // per_prompt % n_prompts
        a, b = responses[2 * p]["id"], responses[2 * p + 1]["id"]
        outcome = rng.choice(["winner", "winner", "winner", "tie", "both_bad"])
        row = {"prompt_id": p + 1, "created_at": "2026-01-01T10:01:00Z", "outcome": outcome,
               "winner_response_id": rng.choice([a, b]) if outcome == "winner" else None,
               "response_ids": json.dumps([a, b]), "scores": json.dumps({str(a): rng.randint(1, 5)}),
               "note": None, "blind": v % 2}
        if retractable and (v + 1) % per_prompt:  # only each prompt's last vote stands
            row["retracted_at"] = "2026-01-01T10:02:00Z"
        votes.append(row)
    with db.conn:
        db["sessions"].insert_all(sessions_rows, batch_size=1000)
        db["prompts"].insert_all(prompts, batch_size=1000)
        db["responses"].insert_all(responses, batch_size=1000)
        db["votes"].insert_all(votes, batch_size=1000)
    return {"sessions": n_sessions, "prompts": n_prompts}


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the HTML workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    quick = "--quick" in sys.argv
    n_answers, n_votes = (200, 2_000) if quick else (10_000, 100_000)
    with tempfile.TemporaryDirectory(prefix="wb-log-scale-") as tmp:
        path = Path(tmp) / "log.db"
        db = open_db(path)
        start = time.perf_counter()
        shape = fill(db, n_answers, n_votes)
        insert_s = time.perf_counter() - start
        start = time.perf_counter()
        listed = sessions(db)
        sessions_s = time.perf_counter() - start
        assert len(listed) == shape["sessions"]
        seconds, cpu, sizes = {}, {}, {}
        for fmt, suffix in export.ANSWER_FORMATS.items():
            out = Path(tmp) / f"export{suffix}"
            start, cpu_start = time.perf_counter(), _cpu()
            with out.open("w", encoding="utf-8", newline="") as fh:
                count = export.write(fmt, db, fh)
            seconds[fmt] = round(time.perf_counter() - start, 2)
            cpu[fmt] = round(_cpu() - cpu_start, 2)
            sizes[fmt] = round(out.stat().st_size / 1e6, 1)
            assert count == n_answers, (fmt, count)
        db.conn.close()
    from workbench.export import html, parallel

    result = {
        "benchmark": "log_scale",
        "answers": n_answers,
        "votes": n_votes,
        **shape,
        "insert_s": round(insert_s, 2),
        "sessions_query_s": round(sessions_s, 3),
        "export_s": seconds,
        "export_cpu_s": cpu,  # this process and its rendering workers: what a busy machine cannot hide
        "export_mb": sizes,
        "html_workers": min(parallel.cores(), parallel.MAX_WORKERS) if n_answers >= html.PARALLEL_FROM else 1,
    }
    print(json.dumps(result))
    workers = result["html_workers"]
    print(f"With {n_answers:,} answers and {n_votes:,} votes, `sessions` took {sessions_s:.2f} s and the exports took "
          + ", ".join(f"{fmt} {s:.1f} s ({sizes[fmt]} MB)" for fmt, s in seconds.items())
          + f" (HTML highlighted on {workers} process{'es' if workers > 1 else ''}, {cpu['html']:.1f} CPU s in all).")


if __name__ == "__main__":
    main()

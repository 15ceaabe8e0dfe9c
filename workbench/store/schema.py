"""The schema, as `sqlite_utils.Migrations`: a database made by any earlier version opens in this one.

Never edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("workbench")


@migrations()
def m001_initial(db: Database) -> None:
    """Sessions, prompts, models (by fingerprint), responses and votes."""
    db["sessions"].create(
        {
            "id": int,
            "name": str,
            "source": str,  # app or run
            "started_at": str,  # ISO 8601, UTC
            "workbench_version": str,
            "host": str,
            "pid": int,  # of the process writing it, to tell a live session from a killed one
        },
        pk="id",
    )
    db["prompts"].create(
        {
            "id": int,
            "session_id": int,
            "text": str,
            "system": str,
            "params": str,  # JSON: max_tokens, temperature, seed, top_p
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["models"].create(
        {
            "id": str,  # sha-256 of the fingerprint fields: same id, same model
            "name": str,
            "engine": str,  # llama or litellm
            "sha256": str,
            "path": str,
            "architecture": str,
            "quantization": str,
            "parameters": int,
            "context_length": int,
            "chat_template_sha256": str,
            "llama_cpp_version": str,
            "gpu_offload": int,
            "n_gpu_layers": int,
            "litellm_model": str,
            "api_host": str,
            "provider_model_id": str,
            "system_fingerprint": str,
            "first_seen": str,
        },
        pk="id",
    )
    db["responses"].create(
        {
            "id": int,
            "prompt_id": int,
            "model_id": str,
            "model_name": str,
            "position": int,  # pane index, 0 = leftmost
            "label": str,  # pane label shown (A, B, …)
            "blind": int,
            "attempt": int,  # 0, then 1, 2… for regenerations
            "status": str,  # streaming, complete, cancelled, failed, interrupted
            "text": str,
            "error": str,
            "finish_reason": str,
            "where_run": str,
            "ttft_ms": float,
            "duration_ms": float,
            "load_ms": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "tokens_per_s": float,
            "started_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("prompt_id", "prompts", "id"), ("model_id", "models", "id")],
    )
    db["votes"].create(
        {
            "id": int,
            "prompt_id": int,
            "created_at": str,
            "outcome": str,  # winner, tie, both_bad
            "winner_response_id": int,
            "response_ids": str,  # JSON list of the responses compared
            "scores": str,  # JSON {response_id: 1..5}
            "note": str,
            "blind": int,
        },
        pk="id",
        foreign_keys=[("prompt_id", "prompts", "id"), ("winner_response_id", "responses", "id")],
    )
    db["gguf_hashes"].create(
        {"path": str, "size": int, "mtime_ns": int, "sha256": str},
        pk=("path", "size", "mtime_ns"),
    )
    db["prompts"].create_index(["session_id"])
    db["responses"].create_index(["prompt_id"])
    db["responses"].create_index(["status"])
    db["votes"].create_index(["prompt_id"])


@migrations()
def m002_votes_and_tags(db: Database) -> None:
    """Votes can be changed or undone (retracted, never deleted) and record what was shown; prompts get tags."""
    db["votes"].add_column("retracted_at", str)
    db["votes"].add_column("shown", str)  # JSON: the panes as shown, label → model, and the order
    db["prompts"].add_column("tags", str)  # JSON list
    db["prompts"].add_column("blind", int)


@migrations()
def m003_batches(db: Database) -> None:
    """Batch runs: which library prompt and repeat a prompt row is, and the arguments a session ran with."""
    db["prompts"].add_column("prompt_key", str)  # library name, or a hash for literal text
    db["prompts"].add_column("repeat", int)
    db["prompts"].add_column("title", str)
    db["sessions"].add_column("args", str)  # JSON: what `workbench run` was asked, for --resume
    db["prompts"].create_index(["session_id", "prompt_key", "repeat"])



@migrations()
def m004_verifications(db: Database) -> None:
    """What happened when an answer's code was run against its prompt's tests."""
    db["verifications"].create(
        {
            "id": int,
            "response_id": int,
            "created_at": str,
            "outcome": str,  # pass, fail, error, timeout, no-code, no-runner, no-tests, refused
            "passed": int,
            "total": int,
            "exit_status": int,
            "duration_ms": float,
            "language": str,
            "isolated_network": int,
            "note": str,
            "stdout": str,  # bounded excerpts
            "stderr": str,
        },
        pk="id",
        foreign_keys=[("response_id", "responses", "id")],
    )
    db["verifications"].create_index(["response_id"])


@migrations()
def m005_turns(db: Database) -> None:
    """Conversations: a prompt row is one turn of a comparison; answers and turns keep the ids made with them.

    An older log's prompts become first turns of one-turn conversations.
    """
    db["prompts"].add_column("conversation", str)  # the comparison's id: every turn of it shares it
    db["prompts"].add_column("turn", int)  # 1 for the first prompt, 2 for the first follow-up…
    db["prompts"].add_column("turn_uid", str)  # the turn's own id
    db["prompts"].add_column("parent_id", int)  # the previous turn's prompt row
    db["responses"].add_column("answer_uid", str)  # the answer's own id
    db["responses"].add_column("parent_response_id", int)  # this model's answer to the previous turn
    db.execute("UPDATE prompts SET turn = 1, conversation = 'prompt-' || id WHERE turn IS NULL")
    db["prompts"].create_index(["turn_uid"])
    db["prompts"].create_index(["conversation", "turn"])
    db["responses"].create_index(["answer_uid"])


@migrations()
def m006_costs(db: Database) -> None:
    """What a hosted answer cost in US dollars, when litellm's price map knows the model (else NULL)."""
    db["responses"].add_column("cost_usd", float)


@migrations()
def m007_animations(db: Database) -> None:
    """What a graphics program showed when it was run: its frames as one animated image, beside its verification.

    A table of its own, so that reading verifications never loads the images.
    """
    db["animations"].create(
        {
            "id": int,
            "verification_id": int,
            "response_id": int,
            "mime": str,  # image/webp
            "data": bytes,  # the animation, a few hundred KB at most
            "frames": int,
            "width": int,  # of a frame, as stored
            "height": int,
            "times": str,  # JSON: each frame's time in seconds since the program started
            "summary": str,  # the run in words: "ran 6.0 s · 60 frames · quit cleanly"
        },
        pk="id",
        foreign_keys=[("verification_id", "verifications", "id"), ("response_id", "responses", "id")],
    )
    db["animations"].create_index(["verification_id"])
    db["animations"].create_index(["response_id"])


@migrations()
def m008_dates(db: Database) -> None:
    """Contamination by date: a library prompt's `created` day, and the cutoff each answer's model had then.

    Kept per answer, not per model: a model's cutoff is the config's word and may be corrected later, while a
    report must say what was flagged when the answer was given. NULL where unknown (older rows included).
    """
    db["prompts"].add_column("created", str)  # ISO day from the prompt file's `created`; NULL for typed prompts
    db["responses"].add_column("cutoff", str)  # the model's cutoff as configured: "2024", "2024-06", "2024-06-15"


@migrations()
def m009_received(db: Database) -> None:
    """Parameter parity: what each model was actually given, as its engine reported it (workbench/parity.py).

    JSON, at most about 64 KiB an answer: the rendered chat template or completion text (or the messages as
    sent), the sampling parameters as applied, those a provider dropped, the context size and the stops.
    NULL for older rows and for engines that do not report it.
    """
    db["responses"].add_column("received", str)


KNOWN = {m.name for m in migrations._migrations}

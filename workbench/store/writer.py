"""The single writer: a thread that owns the log's connection and applies writes in order.

Nothing else writes. The UI thread and engine threads only enqueue; a streaming
answer's text is checkpointed at most once a second per answer (never per
token), a vote is committed the moment it is enqueued, and the final text,
usage and figures land when the answer ends.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from workbench import __version__
from workbench.store.db import StoreError, _explain, open_db

CHECKPOINT_S = 1.0


def now_iso() -> str:
    """The time now, ISO 8601 in UTC."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """The log file and the thread that writes it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        open_db(self.path).conn.close()  # open and migrate here, so errors reach the caller at once
        self._queue: queue.Queue = queue.Queue()
        self._tickers: list[Callable[[Any], None]] = []
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._closed = False
        self._guard = threading.Lock()
        self._pending: set[Future] = set()  # work that will still write (GGUF hashes): close waits for it
        self._thread.start()
        self._ready.wait()
        if self._error:
            raise self._error

    def _loop(self) -> None:
        try:
            db = open_db(self.path, migrate=False)
        except StoreError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        next_tick = time.monotonic() + CHECKPOINT_S
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = None
            if time.monotonic() >= next_tick:
                for tick in list(self._tickers):
                    self._run(db, tick, None)
                next_tick = time.monotonic() + CHECKPOINT_S
            if item is None:
                continue
            if item is _STOP:
                for tick in list(self._tickers):
                    self._run(db, tick, None)
                db.conn.close()
                return
            fn, future = item
            self._run(db, fn, future)

    @staticmethod
    def _run(db, fn, future: Future | None) -> None:
        try:
            with db.conn:  # one transaction per write: committed before the next one starts
                result = fn(db)
        except Exception as exc:  # noqa: BLE001 - a failed write is reported, and the writer goes on
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)

    def submit(self, fn: Callable[[Any], Any]) -> Future:
        """Run `fn(db)` on the writer thread, in its own transaction; returns a Future of its result."""
        future: Future = Future()
        with self._guard:
            if self._closed:  # the writer is gone: fail at once rather than leave the caller waiting
                future.set_exception(StoreError(f"{self.path}: the log is closed"))
            else:
                self._queue.put((fn, future))
        return future

    def hold(self, future: Future) -> None:
        """Make `close` wait for `future`: work off the writer thread that has more to write."""
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._release)

    def _release(self, future: Future) -> None:
        with self._guard:
            self._pending.discard(future)

    def add_ticker(self, fn: Callable[[Any], None]) -> None:
        """Call `fn(db)` on the writer thread about once a second (checkpoints)."""
        self._tickers.append(fn)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every write enqueued so far is committed."""
        self.submit(lambda db: None).result(timeout)

    def close(self) -> None:
        """Commit what is queued (and a last checkpoint), then stop the writer."""
        deadline = time.monotonic() + 60
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self.flush()  # queued writes (an answer's end) may start more work (hashing its GGUF)
            except Exception:  # noqa: BLE001 - a stuck writer must not stop the close
                break
            with self._guard:
                pending = list(self._pending)
            if not pending:
                break
            wait_futures(pending, timeout=max(0.0, deadline - time.monotonic()))
        with self._guard:
            if self._closed:
                return
            self._closed = True
            if self._thread.is_alive():
                self._queue.put(_STOP)
        self._thread.join(10)

    def start_session(self, source: str, name: str | None = None, args: dict | None = None) -> "Recorder":
        """Begin a session (one per app start or `run`) and return its recorder."""
        try:
            return Recorder(self, source, name, args=args)
        except sqlite3.Error as exc:  # locked or read-only since it was opened
            raise StoreError(_explain(self.path, exc)) from None

    def continue_session(self, session_id: int) -> "Recorder":
        """Record more into an existing session (`run --resume`)."""
        try:
            return Recorder(self, "run", session_id=session_id)
        except sqlite3.Error as exc:
            raise StoreError(_explain(self.path, exc)) from None


_STOP = object()


class Recorder:
    """Writes one session's prompts and answers; `on_event` is a `Comparison` subscriber."""

    def __init__(self, store: Store, source: str, name: str | None = None, session_id: int | None = None,
                 args: dict | None = None) -> None:
        self.store = store
        self._rows: dict[int, int] = {}  # id(answer) -> responses.id, touched only on the writer thread
        self._answers: dict[int, Any] = {}  # id(answer) -> answer, for checkpoints
        self._written: dict[int, int] = {}  # id(answer) -> pieces written at the last checkpoint
        self._lock = threading.Lock()
        self._hashes: dict[str, Future] = {}  # model name -> Future of its GGUF's SHA-256
        self._prompt_id: int | None = None
        self._prompts: dict[int, int] = {}  # id(comparison) -> prompts.id, writer thread only
        self._blind: dict[int, int] = {}  # prompts.id -> 1 when its panes were shown blind
        self._comparisons: list = []  # every comparison recorded, to find a regenerated answer's prompt
        self._owner: dict[int, object] = {}  # id(answer) -> its comparison
        if session_id is not None:  # continuing a session (a resumed batch): it is ours now
            owner = {"host": socket.gethostname(), "pid": os.getpid()}
            store.submit(lambda db: db["sessions"].update(session_id, owner)).result(10)
            self.session_id = session_id
        else:
            row = {"name": name, "source": source, "started_at": now_iso(), "workbench_version": __version__,
                   "host": socket.gethostname(), "pid": os.getpid(), "args": json.dumps(args) if args else None}
            self.session_id = store.submit(lambda db: db["sessions"].insert(row, alter=True).last_pk).result(10)
        store.add_ticker(self._checkpoint)

    # -- called from the UI thread or `run` ---------------------------------
    def record(self, comparison, blind: bool = False, tags: list[str] | None = None,
               prompt_id: int | None = None, extra: dict | None = None) -> Future:
        """Write the prompt and a row per answer, before any event of theirs; returns the prompt id.

        With `prompt_id`, the answers join that existing prompt (a resumed batch). `extra` adds
        prompt columns (key, repeat, title).
        """
        request = comparison.request
        answers = list(comparison.answers)
        params = {k: getattr(request, k) for k in ("max_tokens", "temperature", "seed", "top_p")}
        with self._lock:
            self._comparisons.append(comparison)
            for answer in answers:
                self._answers[id(answer)] = answer
                self._owner[id(answer)] = comparison

        def write(db) -> int:
            nonlocal prompt_id
            if prompt_id is None:
                prompt_id = db["prompts"].insert({
                    "session_id": self.session_id, "text": request.prompt, "system": request.system,
                    "params": json.dumps(params), "created_at": now_iso(), "blind": int(blind),
                    "tags": json.dumps(list(tags or [])), **(extra or {}),
                }, alter=True).last_pk
            self._blind[prompt_id] = int(blind)
            for answer in answers:
                self._insert(db, prompt_id, answer)
            self._prompt_id = prompt_id
            self._prompts[id(comparison)] = prompt_id
            return prompt_id

        return self.store.submit(write)

    def on_event(self, answer, event) -> None:
        """Engine threads call this for every event; only endings and new answers cause writes."""
        from workbench.engines.base import Done, Failed

        key = id(answer)
        with self._lock:
            new = key not in self._answers
            if new:
                self._answers[key] = answer
                owner = next((c for c in reversed(self._comparisons) if any(a is answer for a in c.answers)),
                             None)
                self._owner[key] = owner
        if new:  # a regenerated answer: a new row beside the old one, under the same prompt
            self.store.submit(lambda db: self._insert(db, self._prompts.get(id(owner), self._prompt_id), answer))
        if isinstance(event, (Done, Failed)):
            self.store.submit(lambda db: self._final(db, answer))

    # -- the writer thread ---------------------------------------------------
    def _insert(self, db, prompt_id: int, answer) -> None:
        if id(answer) in self._rows:
            return  # already written (a vote on a regenerated answer can write it before its first event)
        position = answer.position if answer.position is not None else answer.index
        self._rows[id(answer)] = db["responses"].insert({
            "prompt_id": prompt_id, "model_name": answer.model, "position": position,
            "label": chr(ord("A") + position), "blind": self._blind.get(prompt_id, 0),
            "attempt": answer.attempt, "status": "streaming", "text": "", "where_run": answer.where,
            "started_at": now_iso(), "updated_at": now_iso(),
        }).last_pk

    def _checkpoint(self, db) -> None:
        """Save the text so far of every answer still streaming (at most once a second each)."""
        with self._lock:
            live = [(k, a) for k, a in self._answers.items() if k in self._rows and not a.finished]
        for key, answer in live:
            count = len(answer.pieces)
            if count == self._written.get(key, 0):
                continue
            self._written[key] = count
            db.execute(
                "UPDATE responses SET text = ?, completion_tokens = ?, updated_at = ? WHERE id = ?",
                ["".join(answer.pieces[:count]), answer.tokens, now_iso(), self._rows[key]],
            )

    def _final(self, db, answer) -> None:
        key = id(answer)
        row = answer.as_dict()
        model_id = self._model_row(db, answer)
        db["responses"].update(self._rows[key], {
            "status": answer.status, "text": answer.text, "error": answer.error,
            "finish_reason": row["finish_reason"], "where_run": answer.where,
            "ttft_ms": row["ttft_ms"], "duration_ms": row["duration_ms"], "load_ms": row["load_ms"],
            "prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
            "tokens_per_s": row["tokens_per_s"], "updated_at": now_iso(), "model_id": model_id,
        })
        with self._lock:
            self._answers.pop(key, None)

    def _model_row(self, db, answer) -> str | None:
        """Insert the answer's model fingerprint; if its GGUF is still being hashed, attach it later."""
        from workbench.fingerprint import gguf_sha256, model_row

        engine = self._owner[id(answer)].engines[answer.index]
        spec = getattr(engine, "spec", None)
        if spec is not None and spec.is_local and answer.model not in self._hashes:
            # Hashed once the answer is done, so it never competes with the model for the CPU.
            self._hashes[answer.model] = gguf_sha256(self.store, str(spec.resolved_path()))
        future = self._hashes.get(answer.model)
        if future is not None and not future.done():
            row_id = self._rows[id(answer)]
            attached: Future = Future()
            self.store.hold(attached)  # so that `close` does not stop the writer before the row lands

            def attach(db) -> None:
                sha = future.result() if future.exception() is None else None
                row = model_row(engine, answer, sha)
                db["models"].insert(row, pk="id", ignore=True)
                db["responses"].update(row_id, {"model_id": row["id"]})

            def hashed(_f: Future) -> None:
                self.store.submit(attach).add_done_callback(lambda _g: attached.set_result(None))

            future.add_done_callback(hashed)
            return None
        sha = future.result() if future is not None and future.exception() is None else None
        row = model_row(engine, answer, sha)
        db["models"].insert(row, pk="id", ignore=True)
        return row["id"]

    # -- votes, scores and tags ---------------------------------------------
    def cast(self, comparison, outcome: str | None, winner_index: int | None = None,
             blind: bool = False, shown: dict | None = None) -> Future:
        """Commit a vote on the comparison's current answers at once; it replaces the prompt's earlier vote.

        `outcome` is winner, tie or both_bad. Scores and a note already given carry over.
        """
        answers = list(comparison.answers)

        def write(db) -> int:
            prompt_id = self._prompts[id(comparison)]
            for answer in answers:  # a just-regenerated answer may not have its row yet
                self._insert(db, prompt_id, answer)
            ids = [self._rows[id(a)] for a in answers]
            winner = self._rows.get(id(answers[winner_index])) if winner_index is not None else None
            # Scores and the note carry over from the prompt's latest vote, even a withdrawn one.
            previous = db.execute("SELECT scores, note FROM votes WHERE prompt_id = ? ORDER BY id DESC LIMIT 1",
                                  [prompt_id]).fetchone()
            self._retract(db, prompt_id)
            return db["votes"].insert({
                "prompt_id": prompt_id, "created_at": now_iso(), "outcome": outcome,
                "winner_response_id": winner, "response_ids": json.dumps(ids),
                "scores": previous[0] if previous else "{}", "note": previous[1] if previous else None,
                "blind": int(blind), "shown": json.dumps(shown) if shown else None,
            }).last_pk

        return self.store.submit(write)

    def score(self, comparison, scores: dict[int, int], note: str | None) -> Future:
        """Per-answer scores (pane index → 1..5) and a note, kept on the prompt's vote."""
        answers = list(comparison.answers)

        def write(db) -> None:
            prompt_id = self._prompts[id(comparison)]
            by_row = {str(self._rows[id(answers[i])]): v for i, v in scores.items() if id(answers[i]) in self._rows}
            current = db.execute("SELECT id FROM votes WHERE prompt_id = ? AND retracted_at IS NULL "
                                 "ORDER BY id DESC LIMIT 1", [prompt_id]).fetchone()
            if current:
                db["votes"].update(current[0], {"scores": json.dumps(by_row), "note": note})
            else:  # scores before (or without) a vote: a vote row with no outcome holds them
                ids = [self._rows[id(a)] for a in answers if id(a) in self._rows]
                db["votes"].insert({"prompt_id": prompt_id, "created_at": now_iso(), "outcome": None,
                                    "response_ids": json.dumps(ids), "scores": json.dumps(by_row),
                                    "note": note, "blind": 0})

        return self.store.submit(write)

    def undo(self, comparison) -> Future:
        """Withdraw the prompt's vote (kept in the log as retracted)."""
        return self.store.submit(lambda db: self._retract(db, self._prompts[id(comparison)]))

    def tag(self, comparison, tags: list[str]) -> Future:
        """Set the prompt's tags."""
        return self.store.submit(lambda db: db["prompts"].update(self._prompts[id(comparison)],
                                                                 {"tags": json.dumps(tags)}))

    def pair_votes(self) -> Future:
        """Votes so far per unordered pair of model names, for drawing blind pairs that need votes."""
        from workbench.store.queries import battles

        def read(db) -> dict:
            counts: dict = {}
            for b in battles(db):
                key = tuple(sorted((b.model_a, b.model_b)))
                counts[key] = counts.get(key, 0) + 1
            return counts

        return self.store.submit(read)

    @staticmethod
    def _retract(db, prompt_id: int) -> None:
        db.execute("UPDATE votes SET retracted_at = ? WHERE prompt_id = ? AND retracted_at IS NULL",
                   [now_iso(), prompt_id])

    def verified(self, answer, verdict) -> Future:
        """Log a verification of an answer (after its row exists)."""
        row = {"created_at": now_iso(), "outcome": verdict.outcome, "passed": verdict.passed,
               "total": verdict.total, "exit_status": verdict.exit_status,
               "duration_ms": round(verdict.duration_ms, 1), "language": verdict.language,
               "isolated_network": int(verdict.isolated_network), "note": verdict.note,
               "stdout": verdict.stdout, "stderr": verdict.stderr}

        def write(db) -> int | None:
            response_id = self._rows.get(id(answer))
            if response_id is None:
                return None
            return db["verifications"].insert({"response_id": response_id, **row}).last_pk

        return self.store.submit(write)

    def vote(self, prompt_id: int, outcome: str, response_ids: list[int], winner: int | None = None,
             scores: dict | None = None, note: str | None = None, blind: bool = False) -> Future:
        """Commit a vote given by row ids (for scripts and tests; the app uses `cast`)."""
        row = {"prompt_id": prompt_id, "created_at": now_iso(), "outcome": outcome,
               "winner_response_id": winner, "response_ids": json.dumps(response_ids),
               "scores": json.dumps(scores or {}), "note": note, "blind": int(blind)}

        def write(db) -> int:
            self._retract(db, prompt_id)
            return db["votes"].insert(row).last_pk

        return self.store.submit(write)

    def response_id(self, answer) -> Future:
        """The row id of an answer, once written."""
        return self.store.submit(lambda db: self._rows.get(id(answer)))

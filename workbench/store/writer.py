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
from workbench.core import ENDINGS, Answer, Comparison, Event
from workbench import fingerprint
from workbench.store.db import StoreError, _explain, open_db

CHECKPOINT_S = 1.0
BACKLOG = 200  # writes that may wait for the writer before the engines' threads wait for it


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
        self._hasher = None  # started on the first GGUF to hash, not at import
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

    def wait_for_room(self, most: int = BACKLOG, timeout: float = 30.0) -> None:
        """Block (an engine thread, never the UI's) while more than `most` writes wait: the log sets the pace.

        A replayed batch finishes answers far faster than one writer commits them; without this the
        queue held thousands of answers' texts and the process's memory grew with the batch.
        """
        deadline = time.monotonic() + timeout
        while self._queue.qsize() > most and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)

    def hold(self, future: Future) -> None:
        """Make `close` wait for `future`: work off the writer thread that has more to write."""
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._release)

    def _release(self, future: Future) -> None:
        with self._guard:
            self._pending.discard(future)

    def explain(self, exc: BaseException) -> str:
        """A failed write as one line naming the log."""
        if isinstance(exc, StoreError):
            return str(exc)
        text = str(exc).lower()
        if "malformed" in text or "corrupt" in text or "not a database" in text:
            # Found while writing, so the file was a log when it was opened: a page is damaged since.
            return (f"{self.path}: the log file is damaged ({exc}); export what it holds and start a new "
                    "one with --db")
        if isinstance(exc, (sqlite3.Error, OSError)):
            return _explain(self.path, exc)
        return f"{self.path}: {type(exc).__name__}: {exc}"

    def file_sha256(self, path: str) -> Future:
        """A file's SHA-256, computed once per (path, size, mtime) and cached in the log; off every UI thread."""
        from concurrent.futures import ThreadPoolExecutor

        with self._guard:
            if self._hasher is None:
                self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gguf-sha256")
            hasher = self._hasher

        def work() -> str | None:
            try:
                st = os.stat(path)
            except OSError:
                return None
            key = [str(path), st.st_size, st.st_mtime_ns]
            cached = self.submit(lambda db: db.execute(
                "SELECT sha256 FROM gguf_hashes WHERE path = ? AND size = ? AND mtime_ns = ?", key).fetchone()
            ).result()
            if cached:
                return cached[0]
            sha = fingerprint.file_sha256(path)
            self.submit(lambda db: db["gguf_hashes"].insert(
                {"path": key[0], "size": key[1], "mtime_ns": key[2], "sha256": sha}, replace=True))
            return sha

        return hasher.submit(work)

    def add_ticker(self, fn: Callable[[Any], None]) -> None:
        """Call `fn(db)` on the writer thread about once a second (checkpoints)."""
        self._tickers.append(fn)

    def remove_ticker(self, fn: Callable[[Any], None]) -> None:
        """Stop calling `fn` (a recorder that has closed)."""
        try:
            self._tickers.remove(fn)
        except ValueError:
            pass

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
        if self._hasher is not None:
            self._hasher.shutdown(wait=False)

    def start_session(self, source: str, name: str | None = None, args: dict | None = None,
                      on_error: Callable[[str], None] | None = None) -> "Recorder":
        """Begin a session (one per app start or `run`) and return its recorder."""
        try:
            return Recorder(self, source, name, args=args, on_error=on_error)
        except sqlite3.Error as exc:  # locked or read-only since it was opened
            raise StoreError(_explain(self.path, exc)) from None

    def continue_session(self, session_id: int, on_error: Callable[[str], None] | None = None) -> "Recorder":
        """Record more into an existing session (`run --resume`)."""
        try:
            return Recorder(self, "run", session_id=session_id, on_error=on_error)
        except sqlite3.Error as exc:
            raise StoreError(_explain(self.path, exc)) from None


_STOP = object()


class Recorder:
    """Writes one session's prompts and answers; `on_event` is a `Comparison` subscriber.

    Answers are known by the ids made with them: while one streams, the recorder maps its id to its
    row (for checkpoints); once its final row is written it forgets it, and anything later (a vote,
    a verification) finds the row by the id stored in it. Memory stays flat over a long batch.

    Every write's failure is counted in `errors` and handed to `on_error` (one line naming the log),
    on whichever thread noticed it: callers that draw must hop to their own thread.
    """

    def __init__(self, store: Store, source: str, name: str | None = None, session_id: int | None = None,
                 args: dict | None = None, on_error: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.on_error = on_error
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._live: dict[str, Answer] = {}  # answer id -> answer, while it streams (checkpoints read it)
        self._rows: dict[str, int] = {}  # answer id -> responses.id while it streams; writer thread only
        self._written: dict[str, int] = {}  # answer id -> pieces saved at the last checkpoint; writer thread only
        self._hashes: dict[str, Future] = {}  # GGUF path -> Future of its SHA-256
        self._new_session: dict | None = None
        self.session_id: int | None = session_id
        """The session's row id; for a new session, None until its first prompt is written."""
        if session_id is not None:  # continuing a session (a resumed batch): it is ours now
            owner = {"host": socket.gethostname(), "pid": os.getpid()}
            store.submit(lambda db: db["sessions"].update(session_id, owner)).result(10)
        else:  # written with the first prompt: a launch that sends nothing leaves no empty session behind
            self._new_session = {"name": name, "source": source, "started_at": now_iso(),
                                 "workbench_version": __version__, "host": socket.gethostname(), "pid": os.getpid(),
                                 "args": json.dumps(args) if args else None}
        store.add_ticker(self._checkpoint)

    def _session(self, db) -> int:
        """The session's row id, writing the row now if this is its first prompt (writer thread)."""
        if self.session_id is None:
            self.session_id = db["sessions"].insert(self._new_session, alter=True).last_pk
        return self.session_id

    def _submit(self, fn: Callable[[Any], Any], what: str) -> Future:
        """Enqueue a write; a failure reaches `errors` and `on_error` as '<what> was not saved: <why>'."""
        future = self.store.submit(fn)
        future.add_done_callback(lambda f: f.exception() is not None and self._report(what, f.exception()))
        return future

    def _report(self, what: str, exc: BaseException) -> None:
        """One failed write: counted in `errors` and handed to `on_error` as one line."""
        message = f"{what} was not saved: {self.store.explain(exc)}"
        with self._lock:
            self.errors.append(message)
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # noqa: BLE001 - a broken reporter must not hide the next failure
                pass

    # -- called from the UI thread or `run` ---------------------------------
    def record(self, comparison: Comparison, blind: bool = False, tags: list[str] | None = None,
               prompt_id: int | None = None, extra: dict | None = None) -> Future:
        """Write the latest turn's prompt and a row per answer, before any event of theirs; returns the prompt id.

        With `prompt_id`, the answers join that existing prompt (a resumed batch). `extra` adds
        prompt columns (key, repeat, title). A follow-up turn is recorded the same way, after it is made.
        """
        if comparison.started:
            raise RuntimeError("record a turn before starting it (its answers' rows must exist first)")
        turn = comparison.turn
        previous = comparison.turns[-2].id if len(comparison.turns) > 1 else None
        request = turn.request
        answers = list(turn.answers)
        with self._lock:
            for answer in answers:
                self._live[answer.id] = answer

        def write(db) -> int:
            nonlocal prompt_id
            if prompt_id is None:
                parent = _prompt_of(db, previous) if previous else None
                prompt_id = db["prompts"].insert({
                    "session_id": self._session(db), "text": request.prompt, "system": request.system,
                    "params": json.dumps(request.params()), "created_at": now_iso(), "blind": int(blind),
                    "tags": json.dumps(list(tags or [])), "conversation": comparison.id, "turn": turn.index + 1,
                    "turn_uid": turn.id, "parent_id": parent, **(extra or {}),
                }, alter=True).last_pk
            else:
                db["prompts"].update(prompt_id, {"turn_uid": turn.id})
            for answer in answers:
                self._insert(db, answer, prompt_id)
            return prompt_id

        return self._submit(write, "the prompt")

    def on_event(self, answer: Answer, event: Event) -> None:
        """Engine threads call this for every event; only endings and new answers cause writes."""
        with self._lock:
            new = answer.id not in self._live and not answer.finished
            if new:
                self._live[answer.id] = answer
        if new:  # a regenerated answer: a new row beside the old one, under the same prompt
            self._submit(lambda db: self._insert(db, answer), f"{answer.model}'s answer")
        if isinstance(event, ENDINGS):
            self.store.wait_for_room()  # on the engine's thread: the answer waits for the log, not the reverse
            self._submit(lambda db: self._final(db, answer), f"{answer.model}'s answer")

    # -- the writer thread ---------------------------------------------------
    def _row(self, db, answer: Answer) -> int | None:
        """The answer's row id: from the live map while it streams, else from the id stored in the row."""
        row = self._rows.get(answer.id)
        return row if row is not None else _response_of(db, answer.id)

    def _insert(self, db, answer: Answer, prompt_id: int | None = None) -> int:
        """The answer's row, written now (under `prompt_id`, or its turn's prompt) unless it exists."""
        row = self._row(db, answer)
        if row is not None:
            return row  # already written (a vote on a regenerated answer can write it before its first event)
        if prompt_id is None:
            prompt_id = _prompt_of(db, answer.turn_id)
        if prompt_id is None:
            raise StoreError(f"{self.store.path}: no prompt row for {answer.model}'s answer (turn {answer.turn_id})")
        position = answer.position if answer.position is not None else answer.index
        blind = db.execute("SELECT coalesce(blind, 0) FROM prompts WHERE id = ?", [prompt_id]).fetchone()
        row = db["responses"].insert({
            "prompt_id": prompt_id, "model_name": answer.model, "position": position,
            "label": chr(ord("A") + position), "blind": blind[0] if blind else 0,
            "attempt": answer.attempt, "status": "streaming", "text": "", "where_run": answer.where,
            "started_at": now_iso(), "updated_at": now_iso(), "answer_uid": answer.id,
            "parent_response_id": _response_of(db, answer.parent_id), "cutoff": answer.cutoff,
        }).last_pk
        self._rows[answer.id] = row  # forgotten by `_final`, which every recorded answer reaches
        return row

    def _checkpoint(self, db) -> None:
        """Save the text so far of every answer still streaming (at most once a second each)."""
        with self._lock:
            live = [(k, a) for k, a in self._live.items() if k in self._rows]
        try:
            for key, answer in live:
                state = answer.snapshot()
                if state.finished or state.total == self._written.get(key, 0):
                    continue
                state, text = answer.read(0)
                db.execute("UPDATE responses SET text = ?, completion_tokens = ?, updated_at = ? WHERE id = ?",
                           [text, state.count, now_iso(), self._rows[key]])
                self._written[key] = state.total  # only once written: a failed checkpoint is tried again
        except Exception as exc:  # noqa: BLE001 - reported like any failed write; the writer goes on
            self._report("the answers' progress", exc)
            raise

    def _final(self, db, answer: Answer) -> None:
        try:
            self._write_final(db, answer)
        finally:
            self._drop(answer)  # forgotten even if this write fails: the error says so, and memory stays flat

    def _write_final(self, db, answer: Answer) -> None:
        row_id = self._insert(db, answer)  # its row, or one written now (an answer `record` never saw)
        row = answer.as_dict()
        db["responses"].update(row_id, {
            "status": row["status"], "text": row["text"], "error": row["error"],
            "finish_reason": row["finish_reason"], "where_run": row["where"],
            "ttft_ms": row["ttft_ms"], "duration_ms": row["duration_ms"], "load_ms": row["load_ms"],
            "prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
            "tokens_per_s": row["tokens_per_s"], "cost_usd": row["cost_usd"], "updated_at": now_iso(),
            "model_id": self._model_row(db, answer, row_id), "received": _received(answer),
        })

    def _drop(self, answer: Answer) -> None:
        self._rows.pop(answer.id, None)
        self._written.pop(answer.id, None)
        with self._lock:
            self._live.pop(answer.id, None)

    def _model_row(self, db, answer: Answer, row_id: int) -> str | None:
        """Insert the answer's model fingerprint; if its GGUF is still being hashed, attach it later."""
        if answer.identity is None:
            return None
        identity = fingerprint.answered_identity(answer.identity, answer)
        path = identity.fields.get("file")
        if path and path not in self._hashes:
            # Hashed once the answer is done, so it never competes with the model for the CPU.
            self._hashes[path] = self.store.file_sha256(path)
        future = self._hashes.get(path) if path else None
        if future is not None and not future.done():
            attached: Future = Future()
            self.store.hold(attached)  # so that `close` does not stop the writer before the row lands

            def attach(db) -> None:
                row = fingerprint.model_row(identity, future.result() if future.exception() is None else None)
                db["models"].insert({**row, "first_seen": now_iso()}, pk="id", ignore=True)
                db["responses"].update(row_id, {"model_id": row["id"]})

            def hashed(_f: Future) -> None:
                self._submit(attach, f"{answer.model}'s fingerprint").add_done_callback(
                    lambda _g: attached.set_result(None))

            future.add_done_callback(hashed)
            return None
        sha = future.result() if future is not None and future.exception() is None else None
        row = fingerprint.model_row(identity, sha)
        db["models"].insert({**row, "first_seen": now_iso()}, pk="id", ignore=True)
        return row["id"]

    def close(self, wait_s: float = 3.0) -> None:
        """End the session's answers: wait a little for stopped ones to end, then log the rest as cancelled.

        Called when the app quits (its answers were just cancelled): without it, a row whose ending
        had not arrived yet stayed `streaming` until the next open called it `interrupted`.
        """
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self._lock:
                live = [a for a in self._live.values() if not a.finished]
            if not live:
                break
            time.sleep(0.05)
        with self._lock:
            left = list(self._live.values())

        def write(db) -> None:
            for answer in left:
                row_id = self._row(db, answer)
                if row_id is None:
                    continue
                state, text = answer.read(0)
                status = state.status if state.finished else "cancelled"
                db["responses"].update(row_id, {"status": status, "text": text, "completion_tokens": state.count,
                                                "error": state.error, "updated_at": now_iso(),
                                                "received": _received(answer)})
                self._drop(answer)

        if left:
            self._submit(write, "the stopped answers").exception(10)
        self.store.remove_ticker(self._checkpoint)

    # -- votes, scores and tags ---------------------------------------------
    def cast(self, comparison: Comparison, outcome: str | None, winner_index: int | None = None,
             blind: bool = False, shown: dict | None = None) -> Future:
        """Commit a vote on the latest turn's answers at once; it replaces the turn's earlier vote.

        `outcome` is winner, tie or both_bad. Scores and a note already given carry over.
        """
        turn = comparison.turn
        answers = list(turn.answers)

        def write(db) -> int:
            prompt_id = self._need_prompt(db, turn.id)
            ids = [self._insert(db, a, prompt_id) for a in answers]  # a just-regenerated answer may lack its row
            winner = ids[winner_index] if winner_index is not None else None
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

        return self._submit(write, "the vote")

    def score(self, comparison: Comparison, scores: dict[int, int], note: str | None) -> Future:
        """Per-answer scores (pane index → 1..5) and a note, kept on the turn's vote."""
        turn = comparison.turn
        answers = list(turn.answers)

        def write(db) -> None:
            prompt_id = self._need_prompt(db, turn.id)
            rows = [self._insert(db, a, prompt_id) for a in answers]
            by_row = {str(rows[i]): v for i, v in scores.items() if i < len(rows)}
            current = db.execute("SELECT id FROM votes WHERE prompt_id = ? AND retracted_at IS NULL "
                                 "ORDER BY id DESC LIMIT 1", [prompt_id]).fetchone()
            if current:
                db["votes"].update(current[0], {"scores": json.dumps(by_row), "note": note})
            else:  # scores before (or without) a vote: a vote row with no outcome holds them
                db["votes"].insert({"prompt_id": prompt_id, "created_at": now_iso(), "outcome": None,
                                    "response_ids": json.dumps(rows), "scores": json.dumps(by_row),
                                    "note": note, "blind": 0})

        return self._submit(write, "the scores")

    def undo(self, comparison: Comparison) -> Future:
        """Withdraw the turn's vote (kept in the log as retracted)."""
        turn_id = comparison.turn.id
        return self._submit(lambda db: self._retract(db, self._need_prompt(db, turn_id)), "the withdrawal")

    def tag(self, comparison: Comparison, tags: list[str]) -> Future:
        """Set the turn's tags."""
        turn_id = comparison.turn.id
        return self._submit(lambda db: db["prompts"].update(self._need_prompt(db, turn_id),
                                                            {"tags": json.dumps(tags)}), "the tags")

    def _need_prompt(self, db, turn_id: str) -> int:
        prompt_id = _prompt_of(db, turn_id)
        if prompt_id is None:
            raise StoreError(f"{self.store.path}: the prompt was never logged")
        return prompt_id

    def pair_votes(self) -> Future:
        """The votes so far, for drawing the next blind pair (`workbench.blind.draw_pair`): a future of (votes,
        wins), votes counting the standing votes per unordered pair of model names, wins[(x, y)] the points x
        scored against y (a win 1, a tie or "both bad" half to each)."""
        from workbench.blind import pair_points
        from workbench.store.queries import battles

        def read(db) -> tuple[dict, dict]:
            counts: dict = {}
            wins: dict = {}
            for b in battles(db):
                key = tuple(sorted((b.model_a, b.model_b)))
                counts[key] = counts.get(key, 0) + 1
                for x, y, points in pair_points(b.model_a, b.model_b, b.winner):
                    wins[(x, y)] = wins.get((x, y), 0) + points
            return counts, wins

        return self.store.submit(read)

    @staticmethod
    def _retract(db, prompt_id: int) -> None:
        db.execute("UPDATE votes SET retracted_at = ? WHERE prompt_id = ? AND retracted_at IS NULL",
                   [now_iso(), prompt_id])

    def verified(self, answer: Answer, verdict, response_id: int | None = None) -> Future:
        """Log a verification of an answer (after its row exists), or of the row `response_id`."""
        fields = {"created_at": now_iso(), "outcome": verdict.outcome, "passed": verdict.passed,
               "total": verdict.total, "exit_status": verdict.exit_status,
               "duration_ms": round(verdict.duration_ms, 1), "language": verdict.language,
               "isolated_network": int(verdict.isolated_network), "note": verdict.note,
               "stdout": verdict.stdout, "stderr": verdict.stderr}
        shown = getattr(verdict, "visual", None) or {}
        animation = None
        if getattr(verdict, "animation", None):  # a graphics program's frames, kept with its run
            size = shown.get("size") or [None, None]
            animation = {"mime": "image/webp", "data": verdict.animation, "frames": shown.get("frames"),
                         "width": size[0], "height": size[1], "times": json.dumps(shown.get("times") or []),
                         "summary": shown.get("line")}

        def write(db) -> int:
            row = response_id if response_id is not None else self._row(db, answer)
            if row is None:
                raise StoreError(f"{self.store.path}: {answer.model}'s answer is not in the log")
            pk = db["verifications"].insert({"response_id": row, **fields}).last_pk
            if animation is not None:
                db["animations"].insert({"verification_id": pk, "response_id": row, **animation})
            return pk

        return self._submit(write, "the test run")

    def vote(self, prompt_id: int, outcome: str, response_ids: list[int], winner: int | None = None,
             scores: dict | None = None, note: str | None = None, blind: bool = False) -> Future:
        """Commit a vote given by row ids (for scripts and tests; the app uses `cast`)."""
        row = {"prompt_id": prompt_id, "created_at": now_iso(), "outcome": outcome,
               "winner_response_id": winner, "response_ids": json.dumps(response_ids),
               "scores": json.dumps(scores or {}), "note": note, "blind": int(blind)}

        def write(db) -> int:
            self._retract(db, prompt_id)
            return db["votes"].insert(row).last_pk

        return self._submit(write, "the vote")

    def response_id(self, answer: Answer) -> Future:
        """The row id of an answer, once written."""
        return self.store.submit(lambda db: self._row(db, answer))


def _received(answer: Answer) -> str | None:
    """What the model was given (its engine's parity record), as the log's JSON text; None when not reported."""
    record = answer.snapshot().received
    if record is None:
        return None
    try:  # an engine's record is bounded JSON (parity.bounded); anything else must not lose the answer's row
        return json.dumps(record, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return None


def _response_of(db, answer_id: str | None) -> int | None:
    """The response row of an answer, by the id stored in it."""
    found = db.execute("SELECT id FROM responses WHERE answer_uid = ?", [answer_id]).fetchone() if answer_id else None
    return found[0] if found else None


def _prompt_of(db, turn_id: str | None) -> int | None:
    """The prompt row of a turn, by the id stored in it."""
    if not turn_id:
        return None
    found = db.execute("SELECT id FROM prompts WHERE turn_uid = ? ORDER BY id DESC LIMIT 1", [turn_id]).fetchone()
    return found[0] if found else None

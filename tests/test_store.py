"""The log: migrations, bad files, what an answer records, checkpoints, kill -9, and `sessions`.

tests/data/schema_v1.db was made by the first schema (commit 09d262c, migration m001 only):
one `run` session named "schema v1 fixture" in which smollm2 and a replayed "reference" answer
"Write a Python function add(a, b).", and a vote for the reference. Never regenerate it with
newer code: it stands for a log a user made with the first release.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from servers import assert_one_line
from workbench.cli import main
from workbench.core import Comparison
from workbench.core import Request
from workbench.engines.replay import ReplayEngine
from workbench.store import Store, StoreError, open_db
from workbench.store import db as store_db
from workbench.store.queries import answers
from workbench.store.schema import KNOWN
from workbench.store.writer import now_iso

FIXTURE = Path(__file__).parent / "data" / "schema_v1.db"
FIXTURE_SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LONG_PROMPT = ("Write a very long story about a dragon who learns to code. "
               "Make it at least 3000 words, with many chapters.")
FIELDS = ("status", "text", "ttft_ms", "duration_ms", "prompt_tokens", "completion_tokens", "tokens_per_s",
          "finish_reason")


# -- helpers -----------------------------------------------------------------

def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def error_line(result: Result, path: Path) -> str:
    """The one line a failing command wrote: `workbench: error: <path>: ...`, exit 2."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"workbench: error: {path}: "), lines[0]
    assert_one_line(lines[0])
    return lines[0]


def state(path: Path) -> tuple:
    """What must not change about a file the log refused: its bytes and its mtime."""
    if path.is_dir():
        return ("dir", sorted(os.listdir(path)), path.stat().st_mtime_ns)
    return (path.read_bytes(), path.stat().st_mtime_ns)


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read with a connection of our own, as another program would."""
    conn = sqlite3.connect(path, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def peek(path: Path, sql: str) -> list[tuple]:
    """`query`, but nothing while the log is still being made by the process under test."""
    try:
        return query(path, sql) if path.exists() else []
    except sqlite3.OperationalError:  # no such table yet, or busy
        return []


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def worker_pids(parent: int) -> list[int]:
    """Running llama workers started by process `parent` (their argv names it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"workbench.engines.local_worker" in argv and str(parent).encode() in argv:
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def smollm2_sha256(smollm2) -> str:
    """The demo GGUF's SHA-256, computed here rather than trusted from the code under test."""
    return sha256_of(smollm2.resolved_path())


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "v1.db"
    shutil.copyfile(FIXTURE, copy)
    return copy


# -- 1. migrations -------------------------------------------------------------

def test_first_schema_log_opens_with_its_rows(v1_copy: Path) -> None:
    assert query(v1_copy, "SELECT name FROM _sqlite_migrations") == [("m001_initial",)]
    db = open_db(v1_copy)
    assert {r["name"] for r in db["_sqlite_migrations"].rows} == KNOWN  # migrated to this version
    (session,) = db["sessions"].rows
    assert session["name"] == "schema v1 fixture" and session["source"] == "run"
    rows = list(answers(db))
    assert [r["model_name"] for r in rows] == ["smollm2", "reference"]
    assert [r["position"] for r in rows] == [0, 1] and [r["label"] for r in rows] == ["A", "B"]
    assert all(r["status"] == "complete" for r in rows)
    assert all(r["prompt_text"] == "Write a Python function add(a, b)." for r in rows)
    assert rows[1]["text"] == "def add(a, b):\n    return a + b\n"
    assert "def add" in rows[0]["text"]
    assert rows[0]["completion_tokens"] == 24 and rows[0]["finish_reason"] == "length"
    assert rows[0]["model"]["sha256"] == FIXTURE_SMOLLM2_SHA256
    assert rows[0]["model"]["architecture"] == "llama"
    vote = rows[1]["votes"][0]
    assert vote["outcome"] == "winner" and vote["won"] is True and rows[0]["votes"][0]["won"] is False
    assert vote["scores"] == {str(rows[0]["id"]): 2, str(rows[1]["id"]): 5} and vote["note"] == "fixture"
    db.conn.close()

    store = Store(v1_copy)  # and it takes new sessions (a session's row is written with its first prompt)
    recorder = store.start_session("run", "after upgrade")
    comparison = Comparison([ReplayEngine("r", "ok")], Request("q"), [recorder.on_event])
    recorder.record(comparison)
    comparison.start().wait(5)
    store.close()
    assert query(v1_copy, "SELECT name FROM sessions ORDER BY id") == [("schema v1 fixture",), ("after upgrade",)]
    assert query(v1_copy, "PRAGMA integrity_check") == [("ok",)]


def newer(path: Path) -> Path:
    shutil.copyfile(FIXTURE, path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('workbench', 'm999_from_the_future', '2030-01-01')")
    conn.close()
    return path


def corrupt(path: Path) -> Path:
    path.write_bytes(random.Random(3).randbytes(16384))
    return path


def text_file(path: Path) -> Path:
    path.write_text("name,score\nsmollm2,3\n" * 200)
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    return path


def foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE bookmarks (url TEXT)")
        conn.execute("INSERT INTO bookmarks VALUES ('https://example.org')")
    conn.close()
    return path


BAD = {"newer": (newer, "newer workbench"), "corrupt": (corrupt, "not a workbench log"),
       "text": (text_file, "not a workbench log"), "folder": (folder, "is a folder"),
       "foreign": (foreign, "not a workbench log")}


@pytest.mark.parametrize("kind", BAD)
def test_bad_file_one_line_error_and_never_touched(tmp_path: Path, kind: str) -> None:
    make, words = BAD[kind]
    path = make(tmp_path / "log.db")
    before = state(path)
    for attempt in (lambda: open_db(path), lambda: Store(path)):
        with pytest.raises(StoreError) as err:
            attempt()
        message = str(err.value)
        assert message.startswith(f"{path}: ") and words in message
        assert_one_line(message)
    assert words in error_line(invoke("run", "hi", "-m", "smollm2", "--db", str(path)), path)
    assert words in error_line(invoke("sessions", "--db", str(path)), path)
    assert words in error_line(invoke("--db", str(path), "sessions", "--json"), path)
    assert state(path) == before


@contextmanager
def read_only(path: Path):
    """Make `path` unwritable even for root (tests here run as root, where chmod stops nothing)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("running as root without a working `chattr +i`: a read-only file cannot be made here")
    try:
        try:
            open(path, "r+b").close()
        except PermissionError:
            pass
        else:
            pytest.skip("`chattr +i` did not stop writes on this filesystem")
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_log(v1_copy: Path) -> None:
    open_db(v1_copy).conn.close()  # migrated, WAL: only a write would notice it is read-only
    before = state(v1_copy)
    with read_only(v1_copy):
        for attempt in (lambda: open_db(v1_copy), lambda: Store(v1_copy)):
            with pytest.raises(StoreError, match="read-only") as err:
                attempt()
            assert str(err.value).startswith(f"{v1_copy}: ")
        assert "read-only" in error_line(invoke("run", "hi", "-m", "smollm2", "--db", str(v1_copy)), v1_copy)
        # Commands that only read still work on a read-only log (one someone shared, say).
        listed = invoke("sessions", "--db", str(v1_copy), "--json")
        assert listed.exit_code == 0 and json.loads(listed.stdout), listed.output
        exported = invoke("export", "--format", "jsonl", "--db", str(v1_copy))
        assert exported.exit_code == 0 and exported.stdout.strip(), exported.output
        assert state(v1_copy) == before


def test_locked_log(v1_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_db(v1_copy).conn.close()
    before = state(v1_copy)
    holder = sqlite3.connect(v1_copy, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        with pytest.raises(StoreError, match="locked") as err:
            Store(v1_copy)
        took = time.monotonic() - start
        assert str(err.value).startswith(f"{v1_copy}: ")
        assert store_db.BUSY_TIMEOUT_MS / 1000 - 0.2 <= took < store_db.BUSY_TIMEOUT_MS / 1000 + 2
        monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 300)  # the CLI's wait is the same code: keep it short
        assert "locked" in error_line(invoke("run", "hi", "-m", "smollm2", "--db", str(v1_copy)), v1_copy)
        # A write lock does not stop readers of a WAL log: listing still works.
        assert invoke("sessions", "--db", str(v1_copy)).exit_code == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert state(v1_copy) == before
    assert query(v1_copy, "SELECT count(*) FROM sessions") == [(1,)]  # no half-made session


# -- 3. what a `run` records -------------------------------------------------------

def test_run_records_every_field_and_the_fingerprint(workbench_home: Path, smollm2, smollm2_sha256: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = smollm2.resolved_path()
    (workbench_home / "config.toml").write_text(
        f'[[models]]\nname = "twin"\nengine = "llama"\npath = "{gguf}"\nn_ctx = 1024\n')
    log = workbench_home / "log.db"
    result = invoke("run", "Write a Python function is_even(n).", "-m", "smollm2", "-m", "twin",
                    "--max-tokens", "16", "--temperature", "0", "--json", "--db", str(log))
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert query(log, "PRAGMA journal_mode") == [("wal",)]
    conn = sqlite3.connect(log)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM responses ORDER BY position")]
    models = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM models")}
    hashes = [dict(r) for r in conn.execute("SELECT * FROM gguf_hashes")]
    conn.close()
    assert [(r["position"], r["label"], r["model_name"]) for r in rows] == [(0, "A", "smollm2"), (1, "B", "twin")]
    for row, out in zip(rows, printed):
        assert out["status"] == "complete"
        for key in FIELDS:
            assert row[key] == out[key], key
        assert row["text"].strip() and row["error"] is None
        assert row["ttft_ms"] > 0 and row["duration_ms"] >= row["ttft_ms"] and row["tokens_per_s"] > 0
        assert row["prompt_tokens"] > 0 and 0 < row["completion_tokens"] <= 16
    smol, twin = (models[r["model_id"]] for r in rows)
    assert smol["name"] == "smollm2" and twin["name"] == "twin"
    for model in (smol, twin):
        assert model["engine"] == "llama"
        assert model["sha256"] == smollm2_sha256
        assert model["path"] == str(gguf)
        assert model["architecture"] == "llama"
        assert model["quantization"] and model["quantization"] in gguf.name  # Q4_1
        assert 130e6 < model["parameters"] < 140e6  # SmolLM2-135M
        assert model["context_length"] == 8192
        assert len(model["chat_template_sha256"]) == 64
        assert model["llama_cpp_version"] == version("llama_cpp_python")
        assert model["gpu_offload"] in (0, 1)
    st = gguf.stat()
    assert hashes == [{"path": str(gguf), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": smollm2_sha256}]

    # A second run in the same log takes the hash from the cache: the file is not read again.
    from workbench import fingerprint

    def no_rehash(path: str) -> str:
        raise AssertionError(f"re-hashed {path}")

    monkeypatch.setattr(fingerprint, "file_sha256", no_rehash)
    assert invoke("run", "Say hi.", "-m", "smollm2", "--max-tokens", "4", "--db", str(log)).exit_code == 0
    assert query(log, "SELECT model_id FROM responses ORDER BY id DESC LIMIT 1") == [(smol["id"],)]


def test_same_name_different_weights_are_told_apart(workbench_home: Path, tmp_path: Path, smollm2,
                                                    smollm2_sha256: str) -> None:
    original = smollm2.resolved_path()
    altered = tmp_path / "altered.gguf"
    shutil.copyfile(original, altered)
    with altered.open("r+b") as fh:  # one weight byte changed: it loads and runs, but it is other weights
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0x01]))
    config, log = workbench_home / "config.toml", workbench_home / "log.db"
    for path in (original, altered):
        config.write_text(f'[[models]]\nname = "mine"\nengine = "llama"\npath = "{path}"\nn_ctx = 512\n')
        result = invoke("run", "Say hi.", "-m", "mine", "--max-tokens", "4", "--db", str(log))
        assert result.exit_code == 0, result.stderr
    rows = query(log, "SELECT r.model_name, m.id, m.name, m.sha256, m.path FROM responses r "
                      "JOIN models m ON m.id = r.model_id ORDER BY r.id")
    assert [r[0] for r in rows] == ["mine", "mine"] and [r[2] for r in rows] == ["mine", "mine"]
    assert rows[0][1] != rows[1][1]
    assert rows[0][3:] == (smollm2_sha256, str(original))
    assert rows[1][3:] == (sha256_of(altered), str(altered))


def test_gguf_hash_cached_by_path_size_and_mtime(tmp_path: Path, smollm2, smollm2_sha256: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import fingerprint

    gguf = tmp_path / "copy.gguf"
    shutil.copyfile(smollm2.resolved_path(), gguf)
    calls: list[str] = []
    real = fingerprint.file_sha256
    monkeypatch.setattr(fingerprint, "file_sha256", lambda p: calls.append(p) or real(p))
    log = tmp_path / "log.db"
    store = Store(log)
    try:
        assert store.file_sha256(str(gguf)).result(30) == smollm2_sha256
        assert len(calls) == 1
        store.flush()
        st = gguf.stat()
        assert query(log, "SELECT path, size, mtime_ns, sha256 FROM gguf_hashes") == [
            (str(gguf), st.st_size, st.st_mtime_ns, smollm2_sha256)]
        # What the cache says is believed while path, size and mtime match ...
        store.submit(lambda db: db.execute("UPDATE gguf_hashes SET sha256 = ?", ["f" * 64])).result(5)
        assert store.file_sha256(str(gguf)).result(30) == "f" * 64
        assert len(calls) == 1
        # ... and a new mtime means the file is read again.
        os.utime(gguf, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        assert store.file_sha256(str(gguf)).result(30) == smollm2_sha256
        assert len(calls) == 2
        store.flush()
        assert query(log, "SELECT count(*) FROM gguf_hashes") == [(2,)]
    finally:
        store.close()


def test_run_waits_for_a_slow_gguf_hash_before_closing_the_log(tmp_path: Path, smollm2_sha256: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import fingerprint

    real = fingerprint.file_sha256

    def slow(path: str) -> str:  # a big GGUF on a slow disk: hashed long after the answer ended
        time.sleep(2)
        return real(path)

    monkeypatch.setattr(fingerprint, "file_sha256", slow)
    log = tmp_path / "log.db"
    assert invoke("run", "Say hi.", "-m", "smollm2", "--max-tokens", "2", "--db", str(log)).exit_code == 0
    assert query(log, "SELECT m.sha256 FROM responses r JOIN models m ON m.id = r.model_id") == [(smollm2_sha256,)]
    assert query(log, "SELECT sha256 FROM gguf_hashes") == [(smollm2_sha256,)]


# -- 4. checkpoints --------------------------------------------------------------

def test_streaming_text_checkpointed_each_second_not_each_token(tmp_path: Path) -> None:
    words = [f"w{i} " for i in range(100)]
    delay = 0.035  # 100 pieces: about 3.5 s
    log = tmp_path / "log.db"
    store = Store(log)
    statements: list[str] = []
    store.submit(lambda db: db.conn.set_trace_callback(statements.append)).result(5)
    recorder = store.start_session("run")
    comparison = Comparison([ReplayEngine("slow", "".join(words), delays=[delay] * len(words))],
                            Request("go"), subscribers=[recorder.on_event])
    recorder.record(comparison).result(5)
    seen: list[tuple[float, str]] = []
    conn = sqlite3.connect(log, timeout=5)
    comparison.start()
    start = time.monotonic()
    try:
        while not comparison.finished:
            (text, status), = conn.execute("SELECT text, status FROM responses").fetchall()
            if status == "streaming" and (not seen or text != seen[-1][1]):
                seen.append((time.monotonic(), text))
            time.sleep(0.02)
        comparison.wait(5)
        store.flush()
        (text, status), = conn.execute("SELECT text, status FROM responses").fetchall()
    finally:
        conn.close()
        store.close()
    elapsed = time.monotonic() - start
    assert status == "complete" and text == "".join(words)
    snapshots = [(t, s) for t, s in seen if s]
    # Grows while streaming: every snapshot is a longer prefix of the answer ...
    assert all(text.startswith(s) for _, s in snapshots)
    assert all(len(a) < len(b) for (_, a), (_, b) in zip(snapshots, snapshots[1:]))
    # ... about once a second, never a second and a half without news ...
    assert snapshots and snapshots[0][0] - start < 1.6
    gaps = [b - a for (a, _), (b, _) in zip(snapshots, snapshots[1:])]
    assert all(g < 1.6 for g in gaps), gaps
    assert elapsed - 1 - 0.5 <= len(snapshots) <= elapsed + 1, (len(snapshots), elapsed)
    # ... and the writer issued one UPDATE per checkpoint (plus the final one), not one per token.
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE") and "responses" in s]
    assert 2 <= len(updates) <= elapsed + 2, (len(updates), elapsed)


# -- 5. kill -9 mid-stream ------------------------------------------------------------

def test_kill_9_of_run_mid_stream(workbench_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    earlier = invoke("run", "Say hello.", "-m", "smollm2", "--max-tokens", "8", "--json", "--db", str(log))
    assert earlier.exit_code == 0, earlier.stderr
    (earlier_answer,) = json.loads(earlier.stdout)
    store = Store(log)
    store.submit(lambda db: db["votes"].insert({"prompt_id": 1, "outcome": "both_bad", "response_ids": "[1]",
                                                "scores": '{"1": 1}', "note": "kept"})).result(5)
    store.close()

    out = (tmp_path / "run.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", LONG_PROMPT, "-m", "smollm2", "--max-tokens", "2000",
         "--temperature", "0", "--db", str(log)],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        checkpoint = ""
        while not checkpoint:
            assert proc.poll() is None, (tmp_path / "run.out").read_text()
            assert time.monotonic() < deadline, "no checkpointed text within 90 s"
            time.sleep(0.1)
            rows = peek(log, "SELECT text FROM responses WHERE id = 2")
            checkpoint = rows[0][0] if rows else ""
        assert len(worker_pids(proc.pid)) == 1
        open_db(log).conn.close()  # another program opening the log leaves a live run's answer alone
        assert query(log, "SELECT status FROM responses WHERE id = 2") == [("streaming",)]
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        while worker_pids(proc.pid) and time.monotonic() - killed_at < 10:
            time.sleep(0.05)
        assert worker_pids(proc.pid) == [], "the llama worker outlived the killed run"
        assert time.monotonic() - killed_at < 3.5
        # Not reaped yet, the run is a zombie whose pid still answers os.kill(pid, 0): it must count as gone.
        assert Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"

        assert query(log, "PRAGMA integrity_check") == [("ok",)]
        (status, text), = query(log, "SELECT status, text FROM responses WHERE id = 2")
        assert status == "streaming" and text.startswith(checkpoint)  # as it was left; not yet looked at
        listed = invoke("sessions", "--json", "--db", str(log))  # opening the log again ...
        assert listed.exit_code == 0, listed.stderr
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        out.close()
    assert [s["id"] for s in json.loads(listed.stdout)] == [2, 1]
    # ... marks the killed answer interrupted, with its checkpointed text ...
    assert query(log, "SELECT status, text FROM responses WHERE id = 2") == [("interrupted", text)]
    # ... and leaves the earlier answer and its vote as they were.
    (row,) = query(log, "SELECT status, text, completion_tokens, ttft_ms FROM responses WHERE id = 1")
    assert row == ("complete", earlier_answer["text"], earlier_answer["completion_tokens"],
                   earlier_answer["ttft_ms"])
    assert query(log, "SELECT outcome, scores, note FROM votes") == [("both_bad", '{"1": 1}', "kept")]
    assert query(log, "PRAGMA integrity_check") == [("ok",)]


def test_streaming_answer_of_a_reused_pid_is_interrupted(tmp_path: Path) -> None:
    """A pid that is alive but belongs to a process started after the answer began is not its writer."""
    log = tmp_path / "log.db"
    store = Store(log)  # this test's own process: alive, and started before "now"
    recorder = store.start_session("app")

    def rows(db) -> None:
        db["prompts"].insert({"id": 1, "session_id": recorder._session(db), "text": "p"})
        for rid, began in ((1, "2001-01-01T00:00:00.000+00:00"), (2, now_iso())):
            db["responses"].insert({"id": rid, "prompt_id": 1, "status": "streaming", "text": "so far",
                                    "started_at": began})

    store.submit(rows).result(5)
    store.close()
    open_db(log).conn.close()
    assert query(log, "SELECT id, status, text FROM responses ORDER BY id") == [
        (1, "interrupted", "so far"), (2, "streaming", "so far")]


class App:
    """The real TUI in a pseudo-terminal (160x45): type into it, read its log; the screen is drained, not parsed."""

    def __init__(self, *args: str) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a terminal of a known size, then the app
            import fcntl
            import struct
            import termios

            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
            env = dict(os.environ, TERM="xterm-256color", COLUMNS="160", LINES="45")
            os.execve(sys.executable, [sys.executable, "-m", "workbench", *args], env)
        self.screen = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:  # a full pty buffer would stall the app
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.screen += chunk
            del self.screen[:-20000]

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait_for(self, what: str, check, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not check():
            tail = self.screen[-3000:].decode("utf-8", "replace")
            assert time.monotonic() < deadline, f"the app never showed {what}; its terminal ended with: {tail!r}"
            assert os.waitpid(self.pid, os.WNOHANG) == (0, 0), f"the app exited; it wrote: {tail!r}"
            time.sleep(0.1)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        finally:
            os.close(self.fd)


def test_kill_9_of_the_app_mid_stream(workbench_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    app = App("-m", "smollm2", "--db", str(log))
    try:
        app.wait_for("its prompt bar", lambda: b"Enter sends" in app.screen and b"ready" in app.screen)
        app.type("Say hello.\r")
        app.wait_for("a complete first answer",
                     lambda: peek(log, "SELECT status FROM responses WHERE id = 1") == [("complete",)])
        app.type("1")  # the winner: committed at once
        app.wait_for("the vote in the log", lambda: peek(log, "SELECT count(*) FROM votes") == [(1,)])
        earlier = query(log, "SELECT status, text, completion_tokens FROM responses WHERE id = 1")
        app.type("/")
        time.sleep(0.3)
        app.type(LONG_PROMPT + "\r")
        app.wait_for("a checkpoint of the second answer",
                     lambda: (peek(log, "SELECT text FROM responses WHERE prompt_id = 2") or [("",)])[0][0])
        (checkpoint,), = query(log, "SELECT text FROM responses WHERE prompt_id = 2")
        assert len(worker_pids(app.pid)) == 1
    finally:
        app.kill()
    killed_at = time.monotonic()
    while worker_pids(app.pid) and time.monotonic() - killed_at < 10:
        time.sleep(0.05)
    assert worker_pids(app.pid) == [], "the llama worker outlived the killed app"
    assert time.monotonic() - killed_at < 3.5

    assert query(log, "PRAGMA integrity_check") == [("ok",)]
    (status, text), = query(log, "SELECT status, text FROM responses WHERE prompt_id = 2")
    assert status == "streaming" and text.startswith(checkpoint)
    open_db(log).conn.close()  # opening the log again marks it
    assert query(log, "SELECT status, text FROM responses WHERE prompt_id = 2") == [("interrupted", text)]
    assert query(log, "SELECT status, text, completion_tokens FROM responses WHERE id = 1") == earlier
    assert query(log, "SELECT outcome, winner_response_id FROM votes") == [("winner", 1)]
    assert query(log, "PRAGMA integrity_check") == [("ok",)]


# -- 6. sessions ---------------------------------------------------------------------

def test_sessions_lists_runs_with_prompts_models_votes_and_names(tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    for args in (["Say hello.", "--name", "first try"], ["Say goodbye."]):
        result = invoke("run", *args, "-m", "smollm2", "--max-tokens", "4", "--db", str(log))
        assert result.exit_code == 0, result.stderr
    store = Store(log)
    store.submit(lambda db: db["votes"].insert({"prompt_id": 1, "outcome": "winner", "winner_response_id": 1,
                                                "response_ids": "[1]"})).result(5)
    store.close()
    result = invoke("sessions", "--json", "--db", str(log))
    assert result.exit_code == 0, result.stderr
    second, first = json.loads(result.stdout)
    assert (first["name"], second["name"]) == ("first try", None)
    assert (first["first_prompt"], second["first_prompt"]) == ("Say hello.", "Say goodbye.")
    for session, votes in ((first, 1), (second, 0)):
        assert session["source"] == "run" and session["started_at"]
        assert session["prompts"] == 1 and session["answers"] == 1
        assert session["models"] == ["smollm2"]
        assert session["votes"] == votes
    plain = invoke("sessions", "--db", str(log)).stdout.splitlines()
    assert len(plain) == 2 and "'first try'" in plain[1] and "Say goodbye." in plain[0]

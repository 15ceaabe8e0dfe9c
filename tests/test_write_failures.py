"""A write to the log that fails is never silent: the app says so (and takes back its claim), `run` exits 1.

The fault is real: the log file (and its WAL) made immutable with `chattr +i` while the session
runs, so SQLite's own write fails with a disk I/O error. Where the file system or the user cannot
do that, SQLite's `query_only` switch on the writer's connection refuses writes the same way a
read-only file does.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pilot import send_prompt
from pilot import wait_for

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.store import Store
from workbench.ui.app import build_app
from workbench.ui.screens.compare import CompareScreen


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True)
    return done.returncode == 0


@contextmanager
def unwritable(log: Path, store: Store | None = None):
    """The log cannot be written while inside (immutable file, or the writer's connection made query-only)."""
    files = [p for p in (log, Path(f"{log}-wal")) if p.exists()]
    if _chattr("+i", *files):
        try:
            yield "immutable"
        finally:
            _chattr("-i", *files)
        return
    assert store is not None, "this check needs chattr (root on ext4) when it has no store to switch"
    store.submit(lambda db: db.execute("PRAGMA query_only = ON")).result(5)
    try:
        yield "query_only"
    finally:
        store.submit(lambda db: db.execute("PRAGMA query_only = OFF")).result(5)


def _messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _app_over_a_log(log: Path):
    """Two replayed models in the app, logging to `log`: (app, store)."""
    store = Store(log)
    recorder = store.start_session("app")
    engines = {n: ReplayEngine(n, f"answer from {n}\n") for n in ("alpha", "beta")}
    specs = [ModelSpec(name=n, engine="replay") for n in engines]
    app = build_app(load_settings(), [catalog.Entry(s) for s in specs], list(engines), recorder=recorder,
                    pool_factory=lambda chosen: EnginePool([engines[s.name] for s in chosen]))
    return app, store


async def test_a_vote_that_cannot_be_written_is_reported_and_taken_back(tmp_path: Path) -> None:
    """Press 1 on an unwritable log: one error line naming the log, no 'Vote saved', no ★ left on screen."""
    log = tmp_path / "log.db"
    app, store = _app_over_a_log(log)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await send_prompt(pilot, "compare")
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
            store.flush()
            with unwritable(log, store):
                await pilot.press("1")
                await wait_for(pilot, lambda: any("not saved" in m for m in _messages(app)), timeout=15)
            failures = [m for m in _messages(app) if "not saved" in m]
            assert len(failures) == 1 and failures[0].startswith(f"the vote was not saved: {log}: "), failures
            assert "\n" not in failures[0] and "Traceback" not in failures[0]
            assert not any(m.startswith("Vote saved") for m in _messages(app))
            await wait_for(pilot, lambda: screen.round.vote is None, timeout=5)
            assert all(p.vote_mark == "" for p in screen.panes), [p.vote_mark for p in screen.panes]
            # Once the log can be written again, the same key saves and says so.
            await pilot.press("1")
            await wait_for(pilot, lambda: any(m.startswith("Vote saved") for m in _messages(app)), timeout=15)
    finally:
        store.close()
    conn = sqlite3.connect(log)
    try:
        assert conn.execute("SELECT count(*) FROM votes WHERE retracted_at IS NULL").fetchone() == (1,)
    finally:
        conn.close()


async def test_two_failed_votes_in_a_row_leave_the_screen_showing_what_the_log_holds(tmp_path: Path) -> None:
    """A tie and then a winner, both refused by the log: the screen ends with the saved vote (none), not the tie."""
    log = tmp_path / "log.db"
    app, store = _app_over_a_log(log)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await send_prompt(pilot, "compare")
            screen = app.screen
            await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
            store.flush()
            with unwritable(log, store):
                await pilot.press("t", "1")
                await wait_for(pilot, lambda: sum("not saved" in m for m in _messages(app)) == 2, timeout=15)
            await wait_for(pilot, lambda: screen.round.vote is None, timeout=5)
            assert all(p.vote_mark == "" for p in screen.panes), [p.vote_mark for p in screen.panes]
    finally:
        store.close()


def test_run_exits_1_when_its_answer_could_not_be_logged(tmp_path: Path) -> None:
    """`workbench run` whose log turns unwritable mid-answer stops it, prints what came, one error line, exit 1."""
    if not _chattr("+i", tmp_path) or not _chattr("-i", tmp_path):
        import pytest

        pytest.skip("chattr +i is not available here (needs root on ext4)")
    stored = tmp_path / "stored.md"
    stored.write_text("word " * 40, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "stored"\nengine = "replay"\npath = "{stored}"\ntokens_per_s = 20\n',
                      encoding="utf-8")
    log = tmp_path / "log.db"
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--config", str(config), "run", "say it",
                             "-m", "stored", "--db", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the answer's row is written: it is streaming now
            try:
                conn = sqlite3.connect(f"file:{log}?mode=ro", uri=True, timeout=1)
                try:
                    if conn.execute("SELECT count(*) FROM responses").fetchone()[0]:
                        break
                finally:
                    conn.close()
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        with unwritable(log):
            out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, (out, err)
    assert 0 < out.count("word") < 40 and "cancelled" in out, "stopped at the failed write, what came is shown"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("workbench: error: the log could not be written: "), err
    assert f"was not saved: {log}: " in lines[0], err


@contextmanager
def small_disk(folder: Path, size: str):
    """A tmpfs of `size` mounted at `folder` (root only); yields a remount function to grow it."""
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        import pytest

        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")

    def grow(new_size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(folder)], check=True)

    try:
        yield grow
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_stops_the_batch_and_resume_finishes_it(tmp_path: Path) -> None:
    """The log's disk fills mid-batch: exit 1, one line saying so, the resume command; resume completes it."""
    stored = tmp_path / "long.md"
    stored.write_text("x" * 60_000, encoding="utf-8")  # each answer is 60 kB of log
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "long"\nengine = "replay"\npath = "{stored}"\n', encoding="utf-8")
    with small_disk(tmp_path / "disk", "1m") as grow:
        log = tmp_path / "disk" / "log.db"
        base = [sys.executable, "-m", "workbench", "--config", str(config), "run"]
        first = subprocess.run(base + ["say it", "-m", "long", "--repeat", "40", "--db", str(log)],
                               capture_output=True, text=True, timeout=120)
        assert first.returncode == 1, (first.stdout, first.stderr)
        assert "Traceback" not in first.stderr
        assert f"workbench: error: the log could not be written: " in first.stderr
        assert "the disk is full" in first.stderr, first.stderr
        assert "workbench run --resume 1" in first.stderr, first.stderr
        grow("64m")
        second = subprocess.run(base[:-1] + ["run", "--resume", "1", "--db", str(log)], capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 0, (second.stdout, second.stderr)
        conn = sqlite3.connect(log)
        try:
            complete = conn.execute("SELECT count(*) FROM responses WHERE status = 'complete'").fetchone()[0]
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            conn.close()
        assert complete == 40


def test_a_damaged_page_stops_run_with_one_line_and_exit_1(tmp_path: Path) -> None:
    """A log whose answers' table page is overwritten with junk: the next `run` says the file is damaged, exit 1."""
    stored = tmp_path / "a.md"
    stored.write_text("word " * 3000, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "ref"\nengine = "replay"\npath = "{stored}"\n', encoding="utf-8")
    log = tmp_path / "log.db"
    base = [sys.executable, "-m", "workbench", "--config", str(config), "run"]
    for n in range(4):
        assert subprocess.run(base + [f"prompt {n}", "-m", "ref", "--db", str(log)], capture_output=True).returncode == 0
    conn = sqlite3.connect(log)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'responses'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with log.open("r+b") as fh:  # what a bad sector or a crashed copy leaves
        fh.seek((root - 1) * size)
        fh.write(b"\xde\xad" * (size // 2))
    done = subprocess.run(base + ["again", "-m", "ref", "--db", str(log)], capture_output=True, text=True)
    assert done.returncode in (1, 2), (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(log) in lines[0] and ("damaged" in lines[0] or "corrupt" in lines[0]), lines[0]


async def test_a_launch_that_sends_nothing_leaves_no_session(tmp_path: Path) -> None:
    """Opening the app and quitting without a prompt writes no empty session into the log."""
    log = tmp_path / "log.db"
    app, store = _app_over_a_log(log)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
    finally:
        store.close()
    conn = sqlite3.connect(log)
    try:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    finally:
        conn.close()


def test_a_bad_theme_leaves_no_session(tmp_path: Path) -> None:
    """`workbench --theme nope` fails with one line and writes nothing into the log."""
    log = tmp_path / "log.db"
    done = subprocess.run([sys.executable, "-m", "workbench", "--theme", "nope", "-m", "smollm2", "--db", str(log)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown theme 'nope'" in done.stderr, done.stderr
    conn = sqlite3.connect(log)
    try:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    finally:
        conn.close()

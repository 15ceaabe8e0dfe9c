"""engines/local.py with real GGUF models: SmolLM2 (chat template) and Gemma 3 270M (base model)."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from servers import assert_one_line
from workbench.core import Answer, Comparison
from workbench.config import ModelSpec
from workbench.core import Cancel, Done, Event, Failed, Received, Request, Status, Token, Usage
from workbench.engines.local import LocalEngine, check_gguf

CODE = "Write a Python function is_prime(n)."
LONG = "Count from 1 to 500, one number per line, and nothing else."


@pytest.fixture
def make() -> Iterator[Callable[..., LocalEngine]]:
    """Build LocalEngines that are closed when the test ends, whatever happens."""
    engines: list[LocalEngine] = []

    def build(spec: ModelSpec, n_threads: int = 1, **changes) -> LocalEngine:
        engine = LocalEngine(dataclasses.replace(spec, **changes) if changes else spec, n_threads=n_threads)
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.close()


def run(engines: list[LocalEngine], req: Request, limit_s: float = 90.0) -> tuple[list[Answer], list[list[Event]]]:
    """Run engines through the headless core; answers and each one's events."""
    events: list[list[Event]] = [[] for _ in engines]
    comparison = Comparison(engines, req, [lambda a, e: events[a.index].append(e)]).start()
    assert comparison.wait(limit_s), [a.status for a in comparison.answers]
    return comparison.answers, events


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for_tokens(comparison: Comparison, index: int, n: int, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while comparison.answers[index].tokens < n:
        assert not comparison.answers[index].finished, comparison.answers[index].error
        assert time.monotonic() < deadline, "no tokens arrived"
        time.sleep(0.005)


def test_smollm2_streams_with_figures(make, smollm2: ModelSpec, capfd: pytest.CaptureFixture) -> None:
    engine = make(smollm2)
    (answer,), (events,) = run([engine], Request(CODE, max_tokens=32, temperature=0, seed=1))
    assert answer.status == "complete", answer.error
    kinds = [type(e) for e in events]
    assert kinds[0] is Status and not events[0].ready  # "loading …" first
    assert any(isinstance(e, Status) and e.ready for e in events)
    assert kinds[-2:] == [Usage, Done]
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) >= 8
    assert answer.text == "".join(t.text for t in tokens) and answer.text.strip()
    assert answer.finish_reason in ("length", "stop")
    assert 1 <= answer.completion_tokens <= 32
    assert answer.prompt_tokens and answer.prompt_tokens > 5
    assert answer.ttft_ms is not None and 0 < answer.ttft_ms < 30_000
    assert answer.tokens_per_s is not None and answer.tokens_per_s > 1
    assert answer.load_ms is not None and answer.load_ms > 0
    assert engine.info["chat"] is True  # the GGUF's own chat template is used
    assert engine.where() == "CPU · 1 thread"
    out, err = capfd.readouterr()
    assert "llama" not in (out + err).lower()  # llama.cpp's chatter goes to the log, not the terminal


def test_same_seed_same_answer(make, smollm2: ModelSpec) -> None:
    engine = make(smollm2)
    req = Request("Name three colours.", max_tokens=16, temperature=0.8, seed=42)
    (first,), _ = run([engine], req)
    (second,), _ = run([engine], req)
    assert first.status == second.status == "complete"
    assert first.text == second.text


def test_gemma_base_model_continues_the_text(make, gemma: ModelSpec) -> None:
    engine = make(gemma)
    (answer,), _ = run([engine], Request("def is_prime(n):\n    ", max_tokens=24, temperature=0, seed=1))
    assert answer.status == "complete", answer.error
    assert engine.info["chat"] is False  # no template: plain completion mode
    assert answer.text.strip(), "a base model must not answer with nothing"
    assert answer.completion_tokens and answer.completion_tokens > 0


def test_missing_file(make, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    engine = make(ModelSpec(name="ghost", engine="llama", path=str(missing)))
    events = list(engine.stream(Request("hi"), Cancel()))
    assert events == [Failed(f"file not found: {missing}")]
    assert engine.pid is None  # no worker spent on it


def test_not_a_gguf(make, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(os.urandom(64 * 1024))
    engine = make(ModelSpec(name="junk", engine="llama", path=str(junk)))
    (answer,), _ = run([engine], Request("hi"))
    assert answer.status == "failed"
    assert_one_line(answer.error)
    assert "not a GGUF" in answer.error and str(junk) in answer.error
    assert engine.pid is None


def test_folder_is_not_a_model(tmp_path: Path) -> None:
    assert "is a folder" in check_gguf(str(tmp_path))


def test_truncated_gguf_fails_in_one_line_and_the_app_survives(make, smollm2: ModelSpec, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with open(smollm2.resolved_path(), "rb") as src:
        truncated.write_bytes(src.read(1 << 20))
    broken = make(ModelSpec(name="truncated", engine="llama", path=str(truncated)))
    good = make(smollm2)
    (bad, ok), _ = run([broken, good], Request("Say hi.", max_tokens=8))
    assert bad.status == "failed"
    assert_one_line(bad.error)
    assert str(truncated) in bad.error
    assert broken.pid is None  # the worker is gone; this process is still here to check
    assert ok.status == "complete" and ok.text.strip()


def test_worker_crash_mid_stream_fails_that_pane_only(make, smollm2: ModelSpec, gemma: ModelSpec) -> None:
    victim, other = make(smollm2), make(gemma)
    killed: list[int] = []

    def kill_on_first_token(answer: Answer, event: Event) -> None:
        if answer.index == 0 and isinstance(event, Token) and not killed:
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    comparison = Comparison([victim, other], Request(LONG, max_tokens=120), [kill_on_first_token]).start()
    assert comparison.wait(90)
    crashed, survivor = comparison.answers
    assert killed
    assert crashed.status == "failed"
    assert_one_line(crashed.error)
    assert "crashed" in crashed.error and "SIGKILL" in crashed.error
    assert crashed.text  # what arrived before the crash is kept
    assert survivor.status == "complete" and survivor.text.strip()
    assert not alive(killed[0])
    # The next request starts a fresh worker.
    (again,), _ = run([victim], Request("Say hi.", max_tokens=8))
    assert again.status == "complete", again.error
    assert victim.pid not in (None, killed[0])


def test_prompt_longer_than_the_context(make, smollm2: ModelSpec) -> None:
    engine = make(smollm2, n_ctx=256)
    (answer,), _ = run([engine], Request("word " * 400, max_tokens=16))
    assert answer.status == "failed"
    assert_one_line(answer.error)
    assert "context window of 256" in answer.error
    # The worker is still fine for a prompt that fits.
    (short,), _ = run([engine], Request("Say hi.", max_tokens=8))
    assert short.status == "complete", short.error


def test_cancel_stops_between_tokens_and_the_engine_goes_on(make, smollm2: ModelSpec) -> None:
    engine = make(smollm2)
    comparison = Comparison([engine], Request(LONG, max_tokens=1000)).start()
    wait_for_tokens(comparison, 0, 5)
    pid = engine.pid
    asked = time.monotonic()
    comparison.cancel()
    assert comparison.wait(5)
    answer = comparison.answers[0]
    assert answer.status == "cancelled"
    assert answer.finish_reason == "cancelled"
    assert answer.ended_at - asked < 2.5
    assert answer.tokens < 1000
    assert engine.pid == pid  # stopped between tokens, not killed
    (after,), (events,) = run([engine], Request("Say hi.", max_tokens=8))
    assert after.status == "complete", after.error
    assert events[0] == Status("ready", ready=True)  # the model is loaded: no "loading" status
    assert isinstance(events[1], Received)  # what it was given (parity), then its answer
    assert isinstance(events[2], Token)  # no reload, no leftovers from the cancelled answer
    assert LONG not in after.text


def test_cancel_while_loading(make, gemma: ModelSpec) -> None:
    engine = make(gemma)
    cancel = Cancel()
    events = []
    for event in engine.stream(Request("hi", max_tokens=8), cancel):
        events.append(event)
        cancel.set()  # right after "loading …"
    assert isinstance(events[0], Status)
    assert events[-1] == Done(finish_reason="cancelled", cancelled=True)
    assert engine.pid is None


def test_close_leaves_no_worker(make, smollm2: ModelSpec) -> None:
    engine = make(smollm2)
    assert engine.preload() is None
    pid = engine.pid
    assert pid and alive(pid)
    (answer,), _ = run([engine], Request("Say hi.", max_tokens=8))
    assert answer.status == "complete"
    assert engine.pid == pid  # preloaded worker reused
    engine.close()
    assert engine.pid is None
    assert not alive(pid)
    engine.close()  # twice is fine


def test_preload_reports_a_load_error(make, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"NOPE" + os.urandom(100))
    assert "not a GGUF" in make(ModelSpec(name="junk", engine="llama", path=str(junk))).preload()


def test_where_describes_cpu_and_gpu(smollm2: ModelSpec) -> None:
    assert LocalEngine(smollm2, n_threads=4).where() == "CPU · 4 threads"
    assert LocalEngine(dataclasses.replace(smollm2, n_threads=3)).where() == "CPU · 3 threads"
    gpu = LocalEngine(dataclasses.replace(smollm2, n_gpu_layers=-1), n_threads=2)
    assert gpu.where() == "GPU · all layers"
    gpu.info = {"gpu_offload": False}
    assert gpu.where() == "CPU · 2 threads (no GPU in this llama.cpp build)"


# -- only regular files are hashed and loaded ----------------------------------------------------

def test_a_device_or_fifo_is_not_a_model(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        reason = LocalEngine.check(ModelSpec(name="z", engine="llama", path=path))
        assert reason and "not a regular file" in reason and path in reason, reason
        assert_one_line(reason)
    from bounded import python

    # A blocking open of a FIFO waits for a writer forever: check it in a child that can time out.
    done = python(f"from workbench.engines.local import check_gguf; print(check_gguf({str(fifo)!r}))", timeout=20)
    assert done.returncode == 0 and "not a regular file" in done.stdout, done.stderr


def test_the_fingerprint_hashes_only_regular_files(tmp_path: Path) -> None:
    from bounded import python

    # Once, hashing /dev/zero never ended (and its thread kept the process from exiting).
    done = python(
        "from workbench import fingerprint\n"
        "from workbench.store import Store\n"
        "try:\n"
        "    fingerprint.file_sha256('/dev/zero')\n"
        "except (OSError, ValueError) as exc:\n"
        "    print('refused:', exc)\n"
        f"store = Store({str(tmp_path / 'log.db')!r})\n"
        "future = store.file_sha256('/dev/zero')\n"
        "print('store:', future.exception(timeout=10) is not None or future.result() is None)\n"
        "store.close()\n", timeout=30)
    assert done.returncode == 0, done.stderr
    assert "refused: /dev/zero: not a regular file" in done.stdout and "store: True" in done.stdout, done.stdout


# -- worker logs live under $WORKBENCH_HOME/logs and do not outlive a killed app ----------------------

def test_worker_logs_live_under_workbench_home(workbench_home: Path, smollm2: ModelSpec) -> None:
    engine = LocalEngine(smollm2, n_threads=1)
    assert Path(engine._log).parent == workbench_home / "logs"
    assert Path(engine._log).name.startswith(f"workbench-{os.getpid()}-{smollm2.name}-")


def test_stale_worker_logs_are_removed_at_the_next_start(workbench_home: Path, smollm2: ModelSpec) -> None:
    import subprocess
    import sys

    logs = workbench_home / "logs"
    logs.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has exited: its log is a leftover of a kill
    stale = logs / f"workbench-{dead_pid}-smollm2-abc.log"
    live = logs / f"workbench-{os.getppid()}-other-def.log"  # a running process's log stays
    unrelated = logs / "notes.txt"
    for path in (stale, live, unrelated):
        path.write_text("x")
    LocalEngine(smollm2, n_threads=1)
    assert not stale.exists()
    assert live.exists() and unrelated.exists()


# -- base models: completion mode, and the repetition guard (issue 12) ----------------------------------

def test_mode_is_completion_for_a_base_model_and_chat_for_a_chat_model(make, smollm2: ModelSpec,
                                                                        gemma: ModelSpec) -> None:
    chat, base = make(smollm2), make(gemma)
    assert (chat.mode, base.mode) == ("chat", "completion")  # from the GGUF's metadata, before any load
    assert (chat.repeat_guard, base.repeat_guard) == (0, 4)  # the guard: on for base models only
    assert make(gemma, chat_format="chatml").mode == "chat"  # a named chat format prompts it as chat
    assert make(gemma, repeat_guard=0).repeat_guard == 0
    assert chat.preload() is None and base.preload() is None
    assert (chat.info["chat"], base.info["chat"]) == (True, False)
    assert (chat.mode, base.mode) == ("chat", "completion")  # the worker's own answer agrees


def test_a_looping_base_model_is_stopped_as_repeating_and_the_worker_freed(make, gemma: ModelSpec) -> None:
    """Gemma 3 270M continues `print("hello")` forever at temperature 0; the guard stops it at the 4th."""
    engine = make(gemma)
    started = time.monotonic()
    (answer,), (events,) = run([engine], Request('def hello():\n    print("hello")\n', max_tokens=400,
                                                 temperature=0, seed=1))
    assert answer.status == "complete", answer.error
    assert answer.finish_reason == "repeating"
    assert answer.text.count('print("hello")') >= 4 and answer.tokens < 60, answer.text
    assert answer.prompt_tokens and answer.prompt_tokens > 5  # reported as the worker stopped: kept
    assert [e for e in events if isinstance(e, (Done, Failed))] == [Done(finish_reason="repeating")]
    pid = engine.pid
    assert pid, "the worker was killed, not stopped between tokens"
    # The worker stopped generating: the next answer starts at once, with nothing left of the loop.
    (after,), (events,) = run([engine], Request("The capital of France is", max_tokens=8, temperature=0))
    assert after.status == "complete", after.error
    assert events[0] == Status("ready", ready=True) and 'print("hello")' not in after.text
    assert engine.pid == pid
    assert time.monotonic() - started < 20

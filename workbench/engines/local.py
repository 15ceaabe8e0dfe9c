"""Local GGUF models through llama-cpp-python, one worker process per model."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, Iterator

from workbench import demo_models
from workbench.config import ModelSpec
from workbench.core import (Cancel, Done, Engine, Event, Failed, Mode, ModelIdentity, Received, Request, Status, Token,
                            Usage, new_id)
from workbench.engines.worker_logs import worker_log
from workbench.inputs import InputFileError, open_regular
from workbench.inputs import kind as file_kind

_CANCEL_GRACE_S = 2.0  # after this, a worker that ignores a cancel is killed
_POLL_S = 0.05


def default_threads(n_local: int) -> int:
    """Split the machine's cores among the local models loaded at once."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, n_local))


def _not_regular(path: str) -> str | None:
    """Why `path` is not a regular file (missing, a folder, a FIFO, a device), or None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"file not found: {path}"
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        return f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
    if stat.S_ISDIR(mode):
        return f"is a folder, not a GGUF file: {path}"
    if not stat.S_ISREG(mode):  # /dev/zero would be hashed forever, a FIFO blocks the load
        return f"not a regular file ({file_kind(mode)}), so not a GGUF file: {path}"
    return None


def check_gguf(path: str) -> str | None:
    """Why `path` cannot be a GGUF model, checked before spending a process on it."""
    problem = _not_regular(path)
    if problem:
        return problem
    try:
        fd = open_regular(path)  # checked again on the open file: it may have been replaced since
    except InputFileError as exc:
        return str(exc)
    with open(fd, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        return f"not a GGUF file (no GGUF header): {path}"
    return None




def gguf_has_chat_template(path: str) -> bool | None:
    """Whether the GGUF's metadata holds a non-empty `tokenizer.chat_template`, read without llama.cpp.

    None when the file cannot be read or is not a GGUF the reader follows.
    """
    from workbench.fingerprint import gguf_chat_template

    try:
        return bool(gguf_chat_template(path))
    except (OSError, InputFileError, ValueError, struct.error):
        return None


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    """The exit status, waiting up to `timeout` seconds; None if it is still running."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class LocalEngine(Engine):
    """A GGUF model served by its own worker process."""

    kind = "llama"

    def __init__(self, spec: ModelSpec, n_threads: int | None = None) -> None:
        super().__init__(spec.name)
        self.spec = spec
        self.n_threads = spec.n_threads or n_threads or default_threads(1)
        self.info: dict[str, Any] = {}
        self._proc: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()
        self._closing = Cancel()
        self._log = worker_log(spec.name, new_id())
        self._template: bool | str | None = "unread"  # whether the GGUF has a chat template (None: unknown)

    @classmethod
    def from_spec(cls, spec: ModelSpec, n_local: int = 1) -> "LocalEngine":
        """The engine for a `llama` config entry; the cores are split among `n_local` models."""
        return cls(spec, n_threads=default_threads(n_local))  # __init__ prefers the spec's own n_threads

    @classmethod
    def check(cls, spec: ModelSpec) -> str | None:
        """Anything but a regular file (a demo model is assembled on first use, so it is fine)."""
        if spec.source == "demo":
            return None
        path = spec.resolved_path()
        return _not_regular(str(path)) if path is not None else "file not found: None"

    # -- describing -----------------------------------------------------
    def identity(self) -> ModelIdentity:
        """The GGUF (hashed by the log), its metadata once loaded, and where its layers run."""
        info = self.info or {}
        path = str(self.spec.resolved_path())
        return ModelIdentity(self.name, self.kind, {
            "path": path, "file": path,
            "architecture": info.get("architecture"), "quantization": info.get("quantization"),
            "parameters": info.get("parameters"), "context_length": info.get("context_length"),
            "chat_template_sha256": info.get("chat_template_sha256"),
            "llama_cpp_version": info.get("llama_cpp_version"),
            "gpu_offload": int(bool(info.get("gpu_offload")) and self.spec.n_gpu_layers != 0),
            "n_gpu_layers": self.spec.n_gpu_layers,
        }, key=("name", "sha256", "chat_template_sha256", "llama_cpp_version", "gpu_offload"))

    def where(self) -> str:
        """'CPU · 2 threads' or 'GPU · 99 layers', with a note when offload is not possible."""
        cpu = f"CPU · {self.n_threads} thread{'s' if self.n_threads != 1 else ''}"
        if self.spec.n_gpu_layers == 0:
            return cpu
        if self.info and not self.info.get("gpu_offload"):
            return f"{cpu} (no GPU in this llama.cpp build)"
        layers = "all" if self.spec.n_gpu_layers < 0 else str(self.spec.n_gpu_layers)
        return f"GPU · {layers} layers"

    @property
    def mode(self) -> Mode:
        """`completion` for a base model (no chat template in the GGUF and no `chat_format`), else `chat`.

        Once loaded, the worker's own answer (the same rule it prompts by); before that, the GGUF's
        metadata read here (once). A file that cannot be read yet (a demo model not assembled) is
        taken as chat until it loads.
        """
        if self.spec.chat_format:
            return "chat"
        if "chat" in self.info:
            return "chat" if self.info["chat"] else "completion"
        if self._template == "unread":
            self._template = gguf_has_chat_template(str(self.spec.resolved_path()))
        return "completion" if self._template is False else "chat"

    @property
    def pid(self) -> int | None:
        """The worker's process id, when one is running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    # -- the worker -----------------------------------------------------
    def _start(self, cancel: Cancel) -> Iterator[Event]:
        """Start the worker and wait for the model to load; yields Status, ends in Failed on error."""
        try:
            path = str(demo_models.prepare(self.spec))
        except OSError as exc:
            yield Failed(f"cannot prepare {self.spec.name}: {exc}")
            return
        problem = check_gguf(path)
        if problem:
            yield Failed(problem)
            return
        yield Status(f"loading {os.path.basename(path)}…")
        args = {
            "path": path,
            "n_ctx": self.spec.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.spec.n_gpu_layers,
            "chat_format": self.spec.chat_format,
        }
        # A plain subprocess, not multiprocessing: it needs no usable sys.stderr in the parent
        # (Textual replaces it) and leaves no resource tracker behind.
        ours, theirs = socket.socketpair()
        try:
            with open(self._log, "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "workbench.engines.local_worker", str(theirs.fileno()),
                     str(os.getpid()), self._log, json.dumps(args)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(theirs.fileno(),), start_new_session=True,
                )
        except OSError as exc:
            ours.close()
            yield Failed(f"cannot start a worker for {self.name}: {exc.strerror}")
            return
        finally:
            theirs.close()
        parent = Connection(ours.detach())
        self._proc, self._conn = proc, parent
        while True:
            if cancel.is_set() or self._closing.is_set():
                self._kill()
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            try:
                ready = parent.poll(_POLL_S)
                msg = parent.recv() if ready else None
            except (EOFError, OSError):
                code = _wait(proc, 1)
                self._kill()
                yield Failed(
                    f"llama.cpp crashed loading {path} ({_signal_name(code)}); "
                    "is the file truncated or corrupt?"
                )
                return
            if msg is None:
                continue
            if msg[0] == "loaded":
                self.info = msg[1]
                yield Status("loaded", ready=True)
                return
            if msg[0] == "load_failed":
                self._kill()
                yield Failed(msg[1])
                return

    def preload(self) -> str | None:
        """Load the model ahead of the first prompt; returns an error message or None."""
        with self._lock:
            if self.pid:
                return None
            for event in self._start(self._closing):
                if isinstance(event, Failed):
                    return event.message
        return None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is not None and proc.poll() is None:
            proc.kill()
            _wait(proc, 2)

    # -- the engine API -------------------------------------------------
    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Send one request to the worker and relay what it says."""
        # Wait for our turn (a load, or the previous answer winding down) without going deaf
        # to a cancel; the answer's clock restarts when the model is ready for it.
        while not self._lock.acquire(timeout=_POLL_S):
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
        try:
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            if not self.pid:
                for event in self._start(cancel):
                    yield event
                    if isinstance(event, (Failed, Done)):
                        return
            else:
                yield Status("ready", ready=True)
            yield from self._relay(request, cancel)
        finally:
            self._lock.release()

    def _relay(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        conn, proc = self._conn, self._proc
        try:
            conn.send(("generate", request.as_dict()))
        except OSError:
            self._kill()
            yield Failed(f"model worker for {self.name} is gone; try again to restart it")
            return
        deadline = None
        while True:
            if (cancel.is_set() or self._closing.is_set()) and deadline is None:
                deadline = time.monotonic() + _CANCEL_GRACE_S
                try:
                    conn.send(("cancel",))
                except OSError:
                    pass
            if deadline is not None and time.monotonic() > deadline:
                self._kill()  # it would not stop between tokens: a hard stop
                yield Done(finish_reason="cancelled", cancelled=True)
                return
            try:
                if not conn.poll(_POLL_S):
                    if proc.poll() is not None:
                        raise EOFError
                    continue
                msg = conn.recv()
            except (EOFError, OSError):
                code = _wait(proc, 1)
                self._kill()
                yield Failed(f"model worker for {self.name} crashed ({_signal_name(code)})")
                return
            kind = msg[0]
            if kind == "token":
                yield Token(msg[1])
            elif kind == "received":
                yield Received(self._received(msg[1]))
            elif kind == "usage":
                yield Usage(prompt_tokens=msg[1], completion_tokens=msg[2])
            elif kind == "done":
                yield Done(finish_reason=msg[1], cancelled=msg[2] or cancel.is_set())
                return
            elif kind == "error":
                yield Failed(msg[1])
                return

    def _received(self, record: dict) -> dict:
        """The worker's parity record, with what only the engine knows (threads, the loop guard), bounded."""
        from workbench.parity import bounded

        try:
            guard = self.repeat_guard
        except Exception:  # noqa: BLE001 - unknown: the record says so rather than failing the answer
            guard = None
        return bounded({**record, "n_threads": self.n_threads, "repeat_guard": guard})

    def close(self) -> None:
        """Stop the worker process (a load in progress is abandoned)."""
        self._closing.set()
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("close",))
            except OSError:
                pass
        if self._proc is not None:
            _wait(self._proc, 1)
        self._kill()
        try:
            os.unlink(self._log)
        except OSError:
            pass

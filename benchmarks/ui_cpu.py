"""UI CPU: what the app's process spends showing a stream from a loopback server, per 1,000 chunks.

The installed `workbench` runs as a user runs it, on a pseudo-terminal (160x48, xterm-256color, its
output read and thrown away as a terminal would draw it), with one hosted model (litellm) whose
`api_base` is an OpenAI-compatible server on 127.0.0.1 run by this script. The server streams the
code answer of `render_stream` (prose, a fenced Python block, prose) cut into N chunks of a few
characters, either paced at R chunks a second (deadlines from the first chunk, so sleeps do not
drift) or flat out. The prompt is typed into the prompt bar and Enter pressed.

Measured from the server's first chunk until the pane shows the answer's last line (its words, new
each run, are in the terminal's output) and 0.5 s more (the last frame and figures),
from /proc: the CPU seconds of the app's whole process and of its main thread (Textual's event loop:
the UI), the rest being litellm's stream parsing on the answer's thread, the log writer and Textual's
input thread. Reported per 1,000 chunks and as cores (CPU seconds per wall second) during the paced
stream; the idle rate (the app waiting with nothing to do, once its start-up work is over, under 0.05
of a core over a second) is given too. A stream paced at 100 chunks/s is the issue-15 case (target: at most 0.10 core).

Prints one JSON object and a line of prose. `--quick`: 200 chunks instead of 3,000. `--profile OUT`:
py-spy samples the app during the paced stream (raw, per thread: `pip install py-spy`).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from render_stream import answer  # noqa: E402
from servers import chunk  # noqa: E402

from workbench.engines.replay import split_tokens  # noqa: E402
from startup import MARKER, workbench_cmd  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CONFIG = """
default_models = ["loopback"]

[[models]]
name = "loopback"
engine = "litellm"
model = "openai/fake-model"
api_base = "{base}"
api_key_env = "WB_BENCH_KEY"
"""


def pieces(n: int, end: str) -> list[str]:
    """The code answer in `n` word-sized chunks (as a model's tokens): its first n - 4, then the block's
    closing fence and the last line of prose, `end`."""
    head = split_tokens(answer(4000))[:n - 4]
    return [*head, "\n```\n\n", end, ".", "\n"]


class Stream:
    """What the server sends next, and when it sent it."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.rate: float | None = None
        self.first = threading.Event()
        self.last = threading.Event()


def make_server(stream: Stream) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            start = time.monotonic()
            stream.first.set()
            for i, piece in enumerate(stream.chunks):
                if stream.rate:
                    wait = start + i / stream.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                self._event(chunk(piece))
            self._event(chunk(finish="stop"))
            self._send(b"data: [DONE]\n\n")
            self._send(b"")
            stream.last.set()

        def _send(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: dict) -> None:
            self._send(b"data: " + json.dumps(payload).encode() + b"\n\n")

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass  # the app quitting closes its connection: not an error

    return Server(("127.0.0.1", 0), Handler)


def wait_idle(pid: int, window: float = 1.0, idle: float = 0.05, limit: float = 60.0) -> float:
    """Wait until the process uses under `idle` of a core over `window` s (start-up work is over); its rate."""
    end = time.monotonic() + limit
    while True:
        c0, t0 = cpu_s(pid), time.monotonic()
        time.sleep(window)
        rate = (cpu_s(pid) - c0) / (time.monotonic() - t0)
        if rate < idle or time.monotonic() > end:
            return rate


def cpu_s(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a process (or one of its threads)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class App:
    """The workbench on a pty; its output drained on a thread, as a terminal would."""

    def __init__(self, env: dict, extra_env: dict | None = None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        self.proc = subprocess.Popen(workbench_cmd(), env=dict(env, **(extra_env or {})), stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True, close_fds=True,
                                     # the pty is its controlling terminal, as in a real one: if this script
                                     # dies, closing the pty hangs the app up (SIGHUP) instead of leaving it
                                     # behind, its input thread spinning on the closed terminal
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.seen = bytearray()
        self.painted = threading.Event()
        self.end_marker: bytes | None = None
        self.ended = threading.Event()
        self.done = False
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while not self.done:
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not self.painted.is_set() or self.end_marker is not None:
                    self.seen += data
                    if MARKER in self.seen:
                        self.painted.set()
                    if self.end_marker is not None and self.end_marker in self.seen:
                        self.ended.set()
                        self.end_marker = None

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        try:
            self.type(b"\x11")  # Ctrl+Q
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.done = True
        self.reader.join(2)
        os.close(self.master)


class Bench:
    """A loopback server and the app started on a pty against it, ready for prompts."""

    def __init__(self, extra_env: dict | None = None) -> None:
        self.stream = Stream()
        self.runs = 0
        self.server = make_server(self.stream)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        host, port = self.server.server_address[:2]
        self.home = Path(tempfile.mkdtemp(prefix="wb-bench-uicpu-"))
        (self.home / "config.toml").write_text(CONFIG.format(base=f"http://{host}:{port}/v1"), encoding="utf-8")
        env = dict(os.environ, WORKBENCH_HOME=str(self.home), TERM="xterm-256color", COLORTERM="truecolor",
                   WB_BENCH_KEY="wb-bench-key-not-real")
        env.pop("TEXTUAL", None)
        self.app = App(env, extra_env)
        if not self.app.painted.wait(60):
            self.close()
            raise TimeoutError("no first frame within 60 s")
        self.pid = self.app.proc.pid
        self.idle = wait_idle(self.pid)  # litellm's import (the app warms it up after the first frame) is over

    def run(self, n: int, rate: float | None, settle: float = 0.5, profile: str | None = None) -> dict:
        """One stream of `n` chunks at `rate` chunks/s (None: flat out), as a new comparison."""
        stream, app, pid = self.stream, self.app, self.pid
        self.runs += 1
        end = f"That is all for run {self.runs}"  # what the pane shows last: its own words each run
        stream.chunks, stream.rate = pieces(n, end), rate
        stream.first.clear()
        stream.last.clear()
        app.type(b"\x0e")  # Ctrl+N: a new comparison, not a follow-up
        time.sleep(0.3)
        app.type(b"/stream a long code answer")  # / focuses the prompt bar
        time.sleep(0.3)
        app.ended.clear()
        app.seen.clear()
        app.end_marker = end.encode()
        app.type(b"\r")
        if not stream.first.wait(30):
            raise TimeoutError("the app never asked the server")
        spy = None
        if profile:  # py-spy (pip install py-spy) samples the app, every thread, for the stream
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "-r",
                                    "250", "--threads", "-f", "raw", "-o", profile], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        c0, m0, w0 = cpu_s(pid), cpu_s(pid, pid), time.monotonic()
        if not stream.last.wait(600) or not app.ended.wait(600):
            raise TimeoutError("the stream did not end")
        streamed = time.monotonic() - w0  # until the pane shows the end of the answer
        time.sleep(settle)
        c1, m1, w1 = cpu_s(pid), cpu_s(pid, pid), time.monotonic()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        chunks = len(stream.chunks)
        total, main = c1 - c0, m1 - m0
        return {
            "chunks": chunks,
            "rate_chunks_s": rate,
            "stream_s": round(streamed, 2),
            "cpu_s": round(total, 2),
            "main_thread_cpu_s": round(main, 2),
            "cpu_s_per_1000": round(total / chunks * 1000, 2),
            "main_thread_cpu_s_per_1000": round(main / chunks * 1000, 2),
            "cores": round(total / (w1 - w0), 3),
            "main_thread_cores": round(main / (w1 - w0), 3),
            "idle_cores": round(self.idle, 3),
        }

    def close(self) -> None:
        self.app.close()
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.home, ignore_errors=True)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 200 if quick else int(sys.argv[sys.argv.index("--chunks") + 1]) if "--chunks" in sys.argv else 3000
    load = os.getloadavg()[0]
    bench = Bench()
    try:
        profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
        bench.run(50, None)  # untimed: litellm's first request loads its tokenizer (~0.3 s once a process)
        bench.idle = wait_idle(bench.pid)
        paced = bench.run(n, 100.0, profile=profile)
        bench.idle = wait_idle(bench.pid)
        flat = bench.run(n, None)
    finally:
        bench.close()
    result = {
        "benchmark": "ui_cpu",
        "terminal": "160x48",
        "load_at_start": round(load, 2),
        "paced_100_chunks_s": paced,
        "flat_out": flat,
        "target_cores_at_100": 0.10,
    }
    print(json.dumps(result))
    print(f"Showing {paced['chunks']:,} chunks at 100 chunks/s cost the app {paced['cores']} of a core "
          f"({paced['cpu_s_per_1000']} CPU-s per 1,000 chunks, {paced['main_thread_cpu_s_per_1000']} of them on the "
          f"UI thread); flat out {flat['cpu_s_per_1000']} CPU-s per 1,000 in {flat['stream_s']} s "
          f"(load {load:.2f} at the start).")


if __name__ == "__main__":
    main()

"""Hosted engine CPU: what `RemoteEngine` (litellm) spends per streamed chunk, without the UI.

A loopback OpenAI-compatible server, run as a separate process (so its CPU is not counted), streams an
answer of N word-sized chunks, either paced at R chunks a second (deadlines from the first chunk, so
sleeps do not drift) or flat out, then a finish chunk, a usage chunk (as a server does for
`stream_options.include_usage`) and `[DONE]`. This process consumes it through
`workbench.engines.remote.RemoteEngine.stream` on one thread (`engine`), as the app's answer thread
does; an untimed 50-chunk answer comes first (litellm's import and first-request set-up).

From the request until the engine's `Done`, it measures the CPU seconds of the whole process
(`time.process_time`) and of each kind of thread: every thread started with `threading` is followed
from its start to its end (its own CPU clock while it lives, `time.thread_time` as it exits), so
short-lived threads (litellm's per-request logging threads, `litellm-logging_N`) are counted too;
thread names are grouped by kind (a trailing `_N` or `-N` dropped). `unattributed` is the process's
rest (threads not started by `threading`). Reported per 1,000 chunks and, for the paced run, as
cores (CPU seconds per wall second). The issue-15 case is a stream paced at 100 chunks/s.

Prints one JSON object and a line of prose. `--quick`: 200 chunks per run instead of 3,000 (paced)
and 5,000 (flat out). `--runs K`: each arm K times (alternating). `--profile OUT`: cProfile of the
engine thread during the flat-out run, written to OUT (pstats).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = ("def", " fib", "(n", "):", "\n   ", " return", " n", " if", " n", " <", " 2", " else", " fib", "(n",
         " -", " 1", ")", " +", " fib", "(n", " -", " 2", ")\n", "The", " answer", " is", " short", ".\n")


# --- the server (its own process) -------------------------------------------------------------------

def _chunk(content: str | None = None, finish: str | None = None) -> dict:
    delta = {"role": "assistant", "content": content} if content is not None else {}
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "fake-model", "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def serve() -> None:
    """Serve until stdin closes; the port is the first line printed. Path: /n<chunks>/r<rate>[/nousage]/v1/…"""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = re.match(r"/n(\d+)/r([\d.]+)/(nousage/)?", self.path)
            n, rate = (int(match[1]), float(match[2])) if match else (50, 0.0)
            send_usage = not (match and match[3])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            start = time.monotonic()
            for i in range(n):
                if rate:
                    wait = start + i / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                self._event(_chunk(WORDS[i % len(WORDS)]))
            self._event(_chunk(finish="stop"))
            usage = {**_chunk(), "choices": [],
                     "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}}
            if send_usage:
                self._event(usage)
            self._send(b"data: [DONE]\n\n")
            self._send(b"")

        def _send(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: dict) -> None:
            self._send(b"data: " + json.dumps(payload).encode() + b"\n\n")

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


# --- per-thread CPU accounting --------------------------------------------------------------------------

class Threads:
    """CPU seconds of every thread started with `threading`, alive or ended, by kind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[int, tuple[str, int]] = {}  # ident -> (kind, cpu clock id)
        self.ended: dict[str, float] = {}  # kind -> CPU seconds of its ended threads
        self.started: dict[str, int] = {}
        self.main = (threading.main_thread().ident, time.pthread_getcpuclockid(threading.main_thread().ident))
        original = threading.Thread._bootstrap_inner
        accounts = self

        def bootstrap_inner(thread: threading.Thread) -> None:
            kind = re.sub(r"[_-]\d+$", "", thread.name or "?")
            kind = re.sub(r"^Thread-\d+.*", "Thread-N", kind)
            with accounts.lock:
                accounts.live[threading.get_ident()] = (kind, time.pthread_getcpuclockid(threading.get_ident()))
                accounts.started[kind] = accounts.started.get(kind, 0) + 1
            try:
                original(thread)
            finally:
                spent = time.thread_time()
                with accounts.lock:
                    accounts.live.pop(threading.get_ident(), None)
                    accounts.ended[kind] = accounts.ended.get(kind, 0.0) + spent

        threading.Thread._bootstrap_inner = bootstrap_inner  # type: ignore[method-assign]

    def snapshot(self) -> tuple[float, dict[str, float], dict[str, int]]:
        """(process CPU, CPU by thread kind, threads started by kind), all cumulative."""
        with self.lock:
            kinds = dict(self.ended)
            for kind, clock in self.live.values():
                try:
                    kinds[kind] = kinds.get(kind, 0.0) + time.clock_gettime(clock)
                except OSError:
                    pass  # it is ending: counted in `ended` by the next snapshot
            kinds["main"] = time.clock_gettime(self.main[1])
            started = dict(self.started)
        return time.process_time(), kinds, started


def diff(before: tuple, after: tuple) -> tuple[float, dict[str, float], dict[str, int]]:
    cpu = after[0] - before[0]
    kinds = {k: after[1].get(k, 0.0) - before[1].get(k, 0.0) for k in after[1]}
    kinds = {k: v for k, v in kinds.items() if v > 0.0005}
    kinds["unattributed"] = cpu - sum(kinds.values())
    started = {k: after[2].get(k, 0) - before[2].get(k, 0) for k in after[2]}
    return cpu, kinds, {k: v for k, v in started.items() if v}


# --- the client ---------------------------------------------------------------------------------------

def answer(engine, chunks: int, profile: str | None = None) -> tuple[int, float, str | None]:
    """Stream one answer through the engine on an `engine` thread; (chunks of text seen, wall s, error)."""
    from workbench.core import Cancel, Done, Failed, Request, Token

    result: dict = {"chunks": 0, "error": None}

    def consume() -> None:
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for event in engine.stream(Request("Write fib.", max_tokens=chunks + 10), Cancel()):
            if isinstance(event, Token):
                result["chunks"] += event.count
            elif isinstance(event, Failed):
                result["error"] = event.message
            elif isinstance(event, Done):
                result["done"] = True
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)

    started = time.monotonic()
    thread = threading.Thread(target=consume, name="engine")
    thread.start()
    thread.join()
    return result["chunks"], time.monotonic() - started, result["error"]


def measure(accounts: Threads, port: int, chunks: int, rate: float, profile: str | None = None) -> dict:
    from workbench.config import ModelSpec
    from workbench.engines.remote import RemoteEngine

    spec = ModelSpec(name="loopback", engine="litellm", model="openai/fake-model",
                     api_base=f"http://127.0.0.1:{port}/n{chunks}/r{rate:g}/v1", api_key_env=None, timeout=120.0)
    engine = RemoteEngine(spec)
    before = accounts.snapshot()
    seen, wall, error = answer(engine, chunks, profile)
    time.sleep(0.3)  # threads the request left behind (litellm's logging) finish and are counted
    cpu, kinds, started = diff(before, accounts.snapshot())
    per_k = 1000 / max(1, seen)
    return {"chunks": seen, "rate": rate or None, "wall_s": round(wall, 3), "error": error,
            "cpu_s_per_1000": round(cpu * per_k, 3),
            "cores": round(cpu / wall, 3) if rate else None,
            "by_thread_cpu_s_per_1000": {k: round(v * per_k, 3) for k, v in sorted(kinds.items(), key=lambda i: -i[1])},
            "threads_started": started,
            "load_1min": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paced", type=int, default=3000, help="chunks of the paced run")
    parser.add_argument("--flat", type=int, default=5000, help="chunks of the flat-out run")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", help="cProfile of the engine thread during the (first) flat-out run")
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    if args.quick:
        args.paced = args.flat = 200

    accounts = Threads()
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        import workbench.engines.remote as remote

        warm = measure(accounts, port, 50, 0.0)
        if warm["error"]:
            raise SystemExit(f"warm-up failed: {warm['error']}")
        paced, flat = [], []
        for i in range(args.runs):
            paced.append(measure(accounts, port, args.paced, args.rate))
            flat.append(measure(accounts, port, args.flat, 0.0, args.profile if i == 0 else None))
    finally:
        server.stdin.close()
        server.wait(10)
    result = {"benchmark": "remote_cpu", "remote_py": remote.__file__, "paced": paced, "flat_out": flat}
    print(json.dumps(result))
    p, f = paced[-1], flat[-1]
    print(f"RemoteEngine alone: {p['cores']} core at {args.rate:g} chunks/s ({p['cpu_s_per_1000']} CPU-s per 1,000 "
          f"chunks; engine thread {p['by_thread_cpu_s_per_1000'].get('engine', 0)}), flat out {f['cpu_s_per_1000']} "
          f"CPU-s per 1,000 ({f['chunks'] / f['wall_s']:.0f} chunks/s); load {os.getloadavg()[0]:.2f}")
    return 0 if not any(r["error"] for r in paced + flat) else 1


if __name__ == "__main__":
    sys.exit(main())

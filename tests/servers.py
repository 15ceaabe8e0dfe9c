"""A misbehaving OpenAI-compatible server on 127.0.0.1, for faults a real server won't make on demand.

(Also the fake key and `assert_one_line`, shared by the test modules.)

The fault is chosen by the first part of the path, so one server covers every case:
litellm is pointed at `api_base=f"{server.url}/<mode>/v1"` and posts to
`/<mode>/v1/chat/completions`.

Modes:
  429       answers 429 with an OpenAI-style rate-limit error
  500       answers 500 with an OpenAI-style server error
  drop      streams two valid chunks, then closes the socket mid-body
  error     streams two valid chunks, then an SSE error event, then ends
  stall     streams two valid chunks, then says nothing more (read timeout)
  hang      reads the request and never answers (timeout before any byte)
  endless   streams a chunk every 50 ms until the client goes away
  echo400   answers 400 with the request's Authorization header in the error message
  echo503   answers 503 with the Authorization header in a plain-text body
  echokey   streams an answer that spells out the key, split across chunks
  hugeusage streams a short answer, then usage of 1e30 tokens
  html200   answers 200 with an HTML page instead of a stream
  json200   answers 200 with a whole (non-stream) chat.completion object
  ok        streams a short, well-formed answer with usage
  mixed     like `ok`, but about 1 request in 20 gets one of the faults above (seeded: the soak benchmark)
  script    streams `FaultyServer.script` (a list of raw body pieces) as a 200 event stream: fuzzing
  paced     like `ok`, after `FaultyServer.latency` seconds (0.5 by default): a server of fixed latency

Whatever the mode, the server counts the requests it holds open at once (`in_flight`, and the most
ever: `max_in_flight`). With `capacity` set, it works on that many at a time and the rest wait their
turn, as a llama.cpp server with one slot does. `inject` is a list of HTTP statuses (429, 500, 503…)
that the next requests get instead of an answer, one each; `fail_with`, while set, is the status of
every request (a replica that is down).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A recognisably fake key: never a real provider's format (no "sk-" prefix).
FAKE_KEY = "wb-test-key-not-real"
KEY_ENV = "WB_TEST_KEY"

MODES = ("429", "500", "drop", "error", "stall", "hang", "endless", "echo400", "echo503", "echokey", "hugeusage",
         "html200", "json200", "ok", "mixed", "script", "paced")
MIXED_FAULTS = ("429", "500", "drop", "error", "echo400", "hugeusage", "html200")


def chunk(content: str | None = None, finish: str | None = None) -> dict:
    """One `chat.completion.chunk` as an OpenAI server sends it."""
    delta = {"content": content} if content is not None else {}
    if content is not None:
        delta["role"] = "assistant"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked bodies, so a dropped stream is visibly incomplete
    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        mode = self.path.strip("/").split("/", 1)[0]
        self.server.requests.append((mode, self.path, dict(self.headers), body))
        with self.server.lock:
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
            injected = self.server.inject.pop(0) if self.server.inject else self.server.fail_with
        try:
            if injected:
                self._injected(injected)
            elif self.server.slots is not None:
                with self.server.slots:
                    self._answer(mode)
            else:
                self._answer(mode)
        finally:
            with self.server.lock:
                self.server.in_flight -= 1

    def _injected(self, status: int) -> None:
        """An error status instead of an answer (`inject`, `fail_with`), worded as OpenAI words it."""
        kind = "rate_limit_error" if status == 429 else "server_error"
        self._json(status, {"error": {"message": f"injected HTTP {status}", "type": kind}})

    def _answer(self, mode: str) -> None:
        if mode == "paced":
            time.sleep(self.server.latency)
            mode = "ok"
        if mode == "mixed":
            with self.server.lock:
                mode = self.server.rng.choice(MIXED_FAULTS) if self.server.rng.random() < 0.05 else "ok"
        if mode == "429":
            self._json(429, {"error": {"message": "Rate limit reached for fake-model", "type": "rate_limit_error",
                                       "code": "rate_limit_exceeded"}})
        elif mode == "500":
            self._json(500, {"error": {"message": "The server had an error while processing your request",
                                       "type": "server_error"}})
        elif mode == "echo400":
            self._json(400, {"error": {"message": f"bad request; you sent {self.headers.get('Authorization')}",
                                       "type": "invalid_request_error"}})
        elif mode == "echo503":
            self._plain(503, f"upstream unavailable (auth: {self.headers.get('Authorization')})", "text/plain")
        elif mode == "html200":
            self._plain(200, "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>", "text/html")
        elif mode == "json200":
            self._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                             "model": "fake-model", "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "a whole answer, not a stream"}}]})
        elif mode == "script":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in list(self.server.script):
                if piece:
                    self._send_chunk(piece)
            self._send_chunk(b"")
        elif mode in ("echokey", "hugeusage", "ok"):
            self._special_stream(mode)
        elif mode == "hang":
            self.server.stop.wait()
            self.close_connection = True
        elif mode in ("drop", "error", "stall", "endless"):
            self._stream(mode)
        else:
            self._json(404, {"error": {"message": f"unknown mode {mode!r}", "type": "invalid_request_error"}})

    # -- helpers --------------------------------------------------------
    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _plain(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _special_stream(self, mode: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if mode == "echokey":
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            middle = len(key) // 2
            for piece in ("Your key is ", key[:middle], key[middle:], " — keep it safe."):
                self._event(chunk(piece))
            self._event(chunk(finish="stop"))
        else:
            self._event(chunk("Short answer."))
            self._event(chunk(finish="stop"))
            count = 1e30 if mode == "hugeusage" else 3
            self._event({**chunk(), "choices": [], "usage": {"prompt_tokens": count, "completion_tokens": count,
                                                              "total_tokens": 2 * count}})
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: dict) -> None:
        self._send_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _stream(self, mode: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self._event(chunk("Hello"))
        self._event(chunk(" there"))
        if mode == "drop":
            # Close the socket without the terminating zero-length chunk: the body is cut short.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "error":
            self._event({"error": {"message": "upstream model crashed mid-answer", "type": "server_error",
                                   "code": 500}})
            self._send_chunk(b"data: [DONE]\n\n")
            self._send_chunk(b"")
            return
        if mode == "stall":
            self.server.stop.wait()
            self.close_connection = True
            return
        # endless: keep streaming until the client closes the connection.
        try:
            while not self.server.stop.is_set():
                time.sleep(0.05)
                self._event(chunk(" more"))
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.server.disconnects.append(time.monotonic())
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A client that went away (killed, cancelled) is part of the tests, not an error to print."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop = threading.Event()
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.lock = threading.Lock()
        self.script: list[bytes] = []
        self.rng = __import__("random").Random(20261129)
        self.disconnects: list[float] = []
        self.latency = 0.5
        self.slots: threading.Semaphore | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.inject: list[int] = []
        self.fail_with: int | None = None


class FaultyServer:
    """Runs the misbehaving server in a thread; use as a context manager."""

    def __init__(self) -> None:
        self._server = _Server()
        self._capacity: int | None = None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="faulty-server", daemon=True)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def api_base(self, mode: str) -> str:
        """The `api_base` that selects a fault."""
        assert mode in MODES, mode
        return f"{self.url}/{mode}/v1"

    @property
    def script(self) -> list[bytes]:
        """What the `script` mode streams: raw pieces of the response body."""
        return self._server.script

    @script.setter
    def script(self, pieces: list[bytes]) -> None:
        self._server.script = list(pieces)

    @property
    def requests(self) -> list[tuple[str, str, dict, bytes]]:
        """(mode, path, headers, body) of every POST received."""
        return self._server.requests

    @property
    def latency(self) -> float:
        """Seconds the `paced` mode waits before it answers."""
        return self._server.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._server.latency = seconds

    @property
    def capacity(self) -> int | None:
        """Requests worked on at once (the rest wait their turn); None: all of them."""
        return self._capacity

    @capacity.setter
    def capacity(self, n: int | None) -> None:
        self._capacity = n
        self._server.slots = None if n is None else threading.Semaphore(n)

    @property
    def max_in_flight(self) -> int:
        """The most requests this server held open at once."""
        return self._server.max_in_flight

    @property
    def inject(self) -> list[int]:
        """HTTP statuses the next requests get instead of an answer, one each (append to it)."""
        return self._server.inject

    @property
    def fail_with(self) -> int | None:
        """The status every request gets while set (a replica that is down)."""
        return self._server.fail_with

    @fail_with.setter
    def fail_with(self, status: int | None) -> None:
        self._server.fail_with = status

    @property
    def disconnects(self) -> list[float]:
        """Monotonic times at which an `endless` stream found its client gone."""
        return self._server.disconnects

    def __enter__(self) -> "FaultyServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line(message: str | None, *secrets: str) -> None:
    """An error fit to show a user: one non-empty line, no traceback, no key."""
    assert message, "expected an error message"
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message, message
    for secret in secrets:
        assert secret not in message, f"the key leaked into: {message}"

"""Hosted models (and any OpenAI-compatible server) through litellm, imported lazily."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Iterator
from urllib.parse import urlparse

from workbench.config import ModelSpec
from workbench.redact import DEFAULT_KEY_ENV, Redactor, known_keys
from workbench.core import Cancel, Done, Engine, Event, Failed, Ignored, ModelIdentity, Request, Status, Token, Usage


NO_KEY = "no-key"  # sent to an `api_base` server when the config names no key variable
_import_lock = threading.Lock()
_litellm: Any = None


def import_litellm() -> Any:
    """Import litellm once, offline: its price map comes from the package, not the network."""
    global _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            import litellm

            litellm.telemetry = False
            litellm.suppress_debug_info = True
            litellm.drop_params = True  # a provider without `seed` ignores it rather than failing
            _litellm = litellm
    return _litellm


def unsupported(litellm: Any, spec: ModelSpec, request: Request) -> tuple[str, ...]:
    """The request's set parameters that litellm says this provider does not take (it drops them)."""
    model = spec.model or ""
    prefix, _, name = model.partition("/")
    try:
        supported = litellm.get_supported_openai_params(model=name or model, custom_llm_provider=prefix or None)
    except Exception:  # noqa: BLE001 - unknown provider: nothing to say
        return ()
    if not supported:
        return ()
    asked = [k for k in ("temperature", "seed", "top_p") if getattr(request, k) is not None]
    return tuple(k for k in asked if k not in supported)


def provider(spec: ModelSpec) -> str:
    """The provider part of the model string, or the server's host for `api_base` models."""
    if spec.api_base:
        return urlparse(spec.api_base).netloc or spec.api_base
    return (spec.model or "").split("/", 1)[0] or "litellm"


def api_host(api_base: str | None) -> str | None:
    """The host (and port) of an `api_base`, without credentials or path."""
    if not api_base:
        return None
    parsed = urlparse(api_base)
    return parsed.hostname + (f":{parsed.port}" if parsed.port else "") if parsed.hostname else None


class RemoteEngine(Engine):
    """A model reached over HTTP by litellm."""

    kind = "litellm"

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec.name)
        self.spec = spec
        self._slots = threading.BoundedSemaphore(max(1, spec.max_parallel))

    @classmethod
    def from_spec(cls, spec: ModelSpec, n_local: int = 1) -> "RemoteEngine":
        """The engine for a `litellm` config entry."""
        return cls(spec)

    @classmethod
    def warm_up(cls) -> None:
        """Import litellm now (3 s), so it is nobody's time to first token."""
        import_litellm()

    @classmethod
    def check(cls, spec: ModelSpec) -> str | None:
        """An unset key variable (the one named, or the provider's default when there is no api_base)."""
        env = spec.api_key_env
        if env is None and not spec.api_base:
            env = DEFAULT_KEY_ENV.get((spec.model or "").split("/", 1)[0])
        if env and not os.environ.get(env):
            return f"key variable {env} is unset"
        return None

    def identity(self) -> ModelIdentity:
        """The litellm model string and the server's host (the answer adds the provider's own ids)."""
        return ModelIdentity(self.name, self.kind, {"litellm_model": self.spec.model,
                                                    "api_host": api_host(self.spec.api_base)},
                             key=("name", "litellm_model", "api_host", "provider_model_id", "system_fingerprint"))

    def where(self) -> str:
        """The provider or host, for the pane header."""
        return provider(self.spec)

    def _key(self) -> tuple[str | None, str | None]:
        """(key, error): the key from the named variable, or why it is missing."""
        env = self.spec.api_key_env
        if env is None:
            return None, None
        key = os.environ.get(env)
        if not key:
            return None, f"key variable {env} is unset"
        return key, None

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        """Stream one completion; the HTTP stream is closed when cancelled."""
        key, problem = self._key()
        if problem:
            yield Failed(problem)
            return
        if _litellm is None:
            yield Status("importing litellm…")
        try:
            litellm = import_litellm()
        except ImportError as exc:
            yield Failed(f"litellm is not installed ({exc})")
            return
        while not self._slots.acquire(timeout=0.1):  # max_parallel requests in flight, no more
            if cancel.is_set():
                yield Done(finish_reason="cancelled", cancelled=True)
                return
        ignored = unsupported(litellm, self.spec, request)
        if ignored:
            yield Ignored(ignored)
        try:
            yield Status("ready", ready=True)  # the answer's clock starts now, not before the import
            yield from self._request(litellm, key, request, cancel)
        finally:
            self._slots.release()

    def _request(self, litellm: Any, key: str | None, request: Request, cancel: Cancel) -> Iterator[Event]:
        """One streamed completion, once a slot is free."""
        params: dict[str, Any] = {
            "model": self.spec.model,
            "messages": request.messages(),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "timeout": self.spec.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if self.spec.api_base:
            params["api_base"] = self.spec.api_base
        if key:
            params["api_key"] = key
        elif self.spec.api_base:
            # A local OpenAI-compatible server (llama.cpp's, vLLM, Ollama) usually wants no key, but the
            # client refuses to send without one; and a provider's key from the environment must not go
            # to a server the config names only by address.
            params["api_key"] = NO_KEY
        for name in ("temperature", "seed", "top_p"):
            value = getattr(request, name)
            if value is not None:
                params[name] = value
        response = None
        finish = model_id = fingerprint = None
        saw_text = saw_usage = False
        failure: Failed | None = None
        pieces = 0  # received but not yet passed on (a possible start of a key is held back)
        redact = Redactor(known_keys(self.spec.api_key_env) + ([key] if key else []))
        text = redact.stream()  # a key echoed in the answer is cut out, even split across chunks
        ended = threading.Event()
        try:
            response = litellm.completion(**params)
            _close_on_cancel(response, cancel, ended)
            for chunk in response:
                if cancel.is_set():
                    break
                model_id = getattr(chunk, "model", None) or model_id
                fingerprint = getattr(chunk, "system_fingerprint", None) or fingerprint
                usage = getattr(chunk, "usage", None)
                if usage and getattr(usage, "completion_tokens", None) is not None:
                    saw_usage = True
                    yield Usage(usage.prompt_tokens, usage.completion_tokens)
                for choice in chunk.choices or []:
                    piece = getattr(choice.delta, "content", None)
                    if piece:
                        saw_text = True
                        pieces += 1
                        if shown := text.feed(piece):
                            yield Token(shown, count=pieces)
                            pieces = 0
                    finish = choice.finish_reason or finish
        except Exception as exc:  # litellm maps every provider failure to its own exception types
            # A cancel closes the stream under the loop: no failure. An answer that ended and then got
            # a nonsense usage chunk (1e30 tokens) stands, with our own token count.
            if not cancel.is_set() and not (finish is not None and _is_usage_error(exc)):
                failure = Failed(redact(explain(exc, self.spec)))
        finally:
            ended.set()
            _close(response)
        if rest := text.flush():
            yield Token(rest, count=pieces)
        if failure is not None:
            yield failure
            return
        if not cancel.is_set() and not saw_text and not saw_usage:
            yield Failed(f"{self.spec.api_base or self.spec.model} answered without a stream of text "
                         "(an empty or non-streaming 200 response; is it an OpenAI-compatible server?)")
            return
        yield Done(finish_reason="cancelled" if cancel.is_set() else finish, cancelled=cancel.is_set(),
                   model_id=redact(model_id), system_fingerprint=redact(fingerprint))

    def close(self) -> None:
        """Nothing is held between requests."""


def _is_usage_error(exc: Exception) -> bool:
    """litellm refusing a usage chunk it cannot parse (absurd token counts), after the answer ended."""
    return any(type(e).__name__ == "ValidationError" and "Usage" in str(e) for e in _causes(exc)) or (
        "validation error" in str(exc) and "Usage" in str(exc))


def _close_on_cancel(response: Any, cancel: Cancel, ended: threading.Event) -> None:
    """Close the stream from a watcher thread once cancelled, so a silent server cannot delay the stop."""

    def watch() -> None:
        while not ended.is_set():
            if cancel.wait(0.1):
                if not ended.is_set():
                    _interrupt(response)
                return

    threading.Thread(target=watch, name="remote-cancel", daemon=True).start()


def _interrupt(response: Any) -> None:
    """Shut down the socket under a read blocked in another thread (closing it does not wake the read)."""
    http = getattr(getattr(response, "completion_stream", None), "response", None)
    stream = (getattr(http, "extensions", None) or {}).get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _close(response: Any) -> None:
    """Close the HTTP stream under litellm's wrapper, so a cancelled answer stops costing tokens."""
    if response is None:
        return
    for obj in (getattr(response, "completion_stream", None), getattr(response, "response", None), response):
        close = getattr(obj, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                pass


def explain(exc: Exception, spec: ModelSpec) -> str:
    """One line that says what went wrong with a hosted model, without the traceback or the key."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    where = spec.api_base or spec.model
    if name == "AuthenticationError" or status == 401:
        env = spec.api_key_env or "the provider's key variable"
        return f"authentication failed at {where}: check {env}"
    if name == "RateLimitError" or status == 429:
        return f"rate limited by {where} (429): wait and try again"
    if name == "ContextWindowExceededError":
        return f"prompt is longer than {spec.model}'s context window"
    if name in ("Timeout", "APITimeoutError") or "timed out" in str(exc).lower():
        return f"{where} did not answer within {spec.timeout:g} s"
    # litellm reports socket failures as HTTP 500s; the wrapped httpx error says what really happened.
    causes = {type(e).__name__ for e in _causes(exc)}
    if causes & {"ConnectError", "ConnectionRefusedError"}:
        return f"cannot connect to {where}: connection refused or failed"
    if causes & {"RemoteProtocolError", "ReadError", "ConnectionResetError"}:
        return f"connection to {where} broke off mid-answer"
    if name == "APIConnectionError":
        text = str(exc).lower()
        if "refused" in text or "connect" in text and "error" in text:
            return f"cannot connect to {where}: connection refused or failed"
        return f"connection to {where} failed: {_first_line(exc)}"
    if name == "NotFoundError" or status == 404:
        return f"{where} does not know model {spec.model!r} (404)"
    if isinstance(status, int) and status >= 500:
        return f"{where} failed with HTTP {status}: {_first_line(exc)}"
    if name == "BadRequestError" or status == 400:
        text = _first_line(exc)
        if "context" in text.lower() and ("exceed" in text.lower() or "length" in text.lower()):
            return f"prompt is longer than the context window of {spec.model}"
        return f"{where} rejected the request (400): {text}"
    return f"{name}: {_first_line(exc)}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and every one it wraps (litellm → openai → httpx → the socket error)."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "original_exception", None)]
    return found


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    # litellm prefixes messages with its own exception path; keep the useful tail.
    for prefix in ("litellm.", "Litellm"):
        if line.startswith(prefix) and " - " in line:
            line = line.split(" - ", 1)[1]
    line = line.split(" Original exception:", 1)[0]  # litellm repeats the wrapped error after this
    return line[:240]

"""Hosted models (and any OpenAI-compatible server) through litellm, imported lazily.

A model whose `api_base` lists several servers (replicas of one model: vLLM, llama.cpp's server, TGI or
Ollama instances) is a pool served by litellm's own Router: least-busy routing, each replica held to
`max_parallel` requests, retries (with backoff when no other replica is healthy) on 429 and 5xx
answers, and a replica that keeps failing cooled down for a while. The Router's async path is the one
that enforces each replica's cap, so a pool's requests run on one event loop thread (`_Pool`) and reach
the engine's thread through a queue. A single `api_base` goes through `litellm.completion` as always.
"""

from __future__ import annotations

import asyncio
import os
import queue
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


def price(litellm: Any, model: str | None) -> tuple[float, float] | None:
    """USD per prompt token and per completion token from litellm's bundled price map, or None.

    Only `litellm.model_cost` is read (the package's own copy: `import_litellm` sets
    LITELLM_LOCAL_MODEL_COST_MAP, and litellm's cost helpers may ask a server, such as Ollama's, about a
    model): no request is made. 'provider/name' is looked up as it is, then as 'name' when the map lists
    it under that provider. A model listed at no cost (one run locally) or not listed has no price.
    """
    if not model:
        return None
    table = getattr(litellm, "model_cost", None) or {}
    prefix, sep, bare = model.partition("/")
    for key in (model, bare) if sep else (model,):
        info = table.get(key)
        if not isinstance(info, dict):
            continue
        listed_under = str(info.get("litellm_provider") or "")
        if key == bare and not (listed_under == prefix or listed_under.startswith(f"{prefix}-")):
            continue  # another provider's model of that name
        prices = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p < 1 for p in prices) and any(prices):
            return float(prices[0]), float(prices[1])
    return None


def replicas(spec: ModelSpec) -> tuple[str, ...]:
    """The model's `api_base`s: none, one, or the replicas of a pool."""
    if not spec.api_base:
        return ()
    return (spec.api_base,) if isinstance(spec.api_base, str) else tuple(spec.api_base)


def provider(spec: ModelSpec) -> str:
    """The provider part of the model string, or the server's host for `api_base` models (a pool: the
    first replica's and how many more)."""
    bases = replicas(spec)
    if len(bases) > 1:
        return f"{urlparse(bases[0]).netloc or bases[0]} +{len(bases) - 1}"
    if bases:
        return urlparse(bases[0]).netloc or bases[0]
    return (spec.model or "").split("/", 1)[0] or "litellm"


def place(spec: ModelSpec, replica: str | None = None) -> str:
    """The server (or pool, or provider model) named in an error message; a pool's `replica` (`host:port`)
    when one had answered (the failure came mid-answer)."""
    bases = replicas(spec)
    if replica:
        return f"{spec.name}'s replica {replica}"
    if len(bases) > 1:
        return f"the replicas of {spec.name} ({', '.join(api_host(b) or b for b in bases)})"
    return bases[0] if bases else spec.model or spec.name


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
        # A pool takes the sum of its replicas' caps: `--parallel N` can fill every replica.
        self._slots = threading.BoundedSemaphore(max(1, spec.max_parallel) * max(1, len(replicas(spec))))
        self._pool: _Pool | None = None
        self._pool_lock = threading.Lock()
        self._answering = threading.local()  # the replica that answered this thread's request (a pool)

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
        """The litellm model string and the server's host (the answer adds the provider's own ids).

        For a pool, the host is the replica that answered this thread's request (`host:port`), or every
        replica's, comma-separated, when none did (the request failed everywhere).
        """
        bases = replicas(self.spec)
        if len(bases) > 1:
            host = getattr(self._answering, "replica", None) or ",".join(api_host(b) or b for b in bases)
        else:
            host = api_host(bases[0] if bases else None)
        return ModelIdentity(self.name, self.kind, {"litellm_model": self.spec.model, "api_host": host},
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
        self._answering.replica = None
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
        }
        pool = len(replicas(self.spec)) > 1
        if not pool:  # a pool's replicas, key and retries are the Router's (see `_Pool`)
            params.update(num_retries=0, max_retries=0)
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
        cost = price(litellm, self.spec.model)
        redact = Redactor(known_keys(self.spec.api_key_env) + ([key] if key else []))
        text = redact.stream()  # a key echoed in the answer is cut out, even split across chunks
        ended = threading.Event()
        try:
            if pool:
                response = self._router(litellm, key).stream(params, cancel)
            else:
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
                    yield Usage(usage.prompt_tokens, usage.completion_tokens, price=cost)
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
                failure = Failed(redact(explain(exc, self.spec, getattr(response, "replica", None))))
        finally:
            ended.set()
            _close(response)
            if pool:
                self._answering.replica = getattr(response, "replica", None)
        if rest := text.flush():
            yield Token(rest, count=pieces)
        if failure is not None:
            yield failure
            return
        if not cancel.is_set() and not saw_text and not saw_usage:
            yield Failed(f"{place(self.spec)} answered without a stream of text "
                         "(an empty or non-streaming 200 response; is it an OpenAI-compatible server?)")
            return
        yield Done(finish_reason="cancelled" if cancel.is_set() else finish, cancelled=cancel.is_set(),
                   model_id=redact(model_id), system_fingerprint=redact(fingerprint))

    def _router(self, litellm: Any, key: str | None) -> "_Pool":
        """The pool's Router, built on first use (and again if the key in the environment changed)."""
        with self._pool_lock:
            if self._pool is None or self._pool.key != key:
                self._pool = _Pool(litellm, self.spec, key)
            return self._pool

    def cooling(self) -> list[str]:
        """The replicas (`host:port`) that litellm's Router has taken out for a while after failures."""
        return self._pool.cooling() if self._pool is not None else []

    def close(self) -> None:
        """Nothing is held between requests."""


POOL_RETRIES = 3
"""Attempts after the first, each on the least busy replica that is not cooling down; with no other
healthy replica, the Router backs off first (honouring a Retry-After header)."""
POOL_ALLOWED_FAILS = 1
"""Failures a replica may have in a minute; one more cools it down."""
POOL_COOLDOWN_S = 30.0
"""How long a cooled-down replica gets no requests."""
_GROUP = "pool"  # the Router's model group: every replica of the one model

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The event loop every pool's requests run on, in a daemon thread started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="litellm-router", daemon=True).start()
            _loop = loop
    return _loop


class _Pool:
    """litellm's Router over the replicas of one model, driven on `_event_loop()`.

    Each replica is a deployment whose id is its `host:port`, capped at `max_parallel` requests
    (litellm's `max_parallel_requests`, which its async path enforces). The engine never has more in
    flight than the caps' sum, so a request finds a free replica, except while one is cooling down:
    then litellm turns the request away (its own 429, no server asked) and it waits here for a request
    of the pool to end, then asks the Router again.
    """

    def __init__(self, litellm: Any, spec: ModelSpec, key: str | None) -> None:
        self.key = key
        self.loop = _event_loop()
        self.ids = _replica_ids(replicas(spec))
        model_list = [{
            "model_name": _GROUP,
            "litellm_params": {"model": spec.model, "api_base": base, "api_key": key or NO_KEY,
                               "max_parallel_requests": max(1, spec.max_parallel), "max_retries": 0,
                               "timeout": spec.timeout, "stream_timeout": spec.timeout},
            "model_info": {"id": rid},
        } for rid, base in zip(self.ids, replicas(spec))]
        self.router = litellm.Router(model_list=model_list, routing_strategy="least-busy",
                                     num_retries=POOL_RETRIES, allowed_fails=POOL_ALLOWED_FAILS,
                                     cooldown_time=POOL_COOLDOWN_S)
        self._freed: asyncio.Condition | None = None  # made on the loop: a request of the pool ended

    def cooling(self) -> list[str]:
        """The replicas (`host:port`) cooling down now."""
        active = self.router.health().cooldowns.get_active_cooldowns(list(self.ids), None)
        return sorted(rid for rid, _value in active)

    def stream(self, params: dict[str, Any], cancel: Cancel) -> "_PoolStream":
        """Start one streamed request on the loop; its chunks come through the returned iterator."""
        chunks: queue.Queue = queue.Queue()
        done = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self._pump({**params, "model": _GROUP}, chunks, done), self.loop)
        return _PoolStream(chunks, future, done, cancel)

    async def _pump(self, params: dict[str, Any], chunks: queue.Queue, done: threading.Event) -> None:
        response = None
        try:
            while True:
                try:
                    response = await self.router.acompletion(**params)
                    break
                except Exception as exc:  # noqa: BLE001 - only a full pool is waited out; the rest is the answer's
                    if not _pool_full(exc):
                        raise
                    await self._wait_for_room()
            hidden = getattr(response, "_hidden_params", None) or {}
            chunks.put(("replica", hidden.get("model_id")))
            async for chunk in response:
                chunks.put(("chunk", chunk))
            chunks.put(("end", None))
        except asyncio.CancelledError:
            chunks.put(("end", None))
            raise
        except Exception as exc:  # noqa: BLE001 - raised again in the engine's thread, which explains it
            chunks.put(("error", exc))
        finally:
            if response is not None:
                try:
                    await response.aclose()  # frees the replica's slot
                except Exception:  # noqa: BLE001
                    pass
            await self._notify()
            done.set()

    async def _wait_for_room(self) -> None:
        if self._freed is None:
            self._freed = asyncio.Condition()
        async with self._freed:
            try:
                await asyncio.wait_for(self._freed.wait(), 0.25)
            except asyncio.TimeoutError:
                pass

    async def _notify(self) -> None:
        if self._freed is not None:
            async with self._freed:
                self._freed.notify_all()


class _PoolStream:
    """The engine thread's side of a pool request: its chunks, in order; `replica` once one answers."""

    def __init__(self, chunks: queue.Queue, future: Any, done: threading.Event, cancel: Cancel) -> None:
        self.chunks = chunks
        self.future = future
        self.done = done
        self.cancel = cancel
        self.replica: str | None = None
        self.ended = False  # the request's last item (its end or its error) was read

    def __iter__(self) -> "_PoolStream":
        return self

    def __next__(self) -> Any:
        while True:
            try:
                kind, value = self.chunks.get(timeout=0.1)
            except queue.Empty:
                if self.cancel.is_set():
                    self.close()
                    raise StopIteration from None
                continue
            if kind == "replica":
                self.replica = value
            elif kind == "chunk":
                return value
            elif kind == "error":
                self.ended = True
                raise value
            else:
                self.ended = True
                raise StopIteration

    def close(self) -> None:
        """Cancel the request on the loop if it is still going (closing its stream), and wait a moment for
        it to let go of its replica."""
        if not self.ended:
            self.future.cancel()
        self.done.wait(2.0)


def _replica_ids(bases: tuple[str, ...]) -> list[str]:
    """Each replica's id for the Router (and for the log): its `host:port`, numbered (`host:port#2`) when
    two replicas share one (different paths on one server)."""
    hosts = [api_host(base) or base for base in bases]
    return [h if hosts.count(h) == 1 else f"{h}#{i + 1}" for i, h in enumerate(hosts)]


def _pool_full(exc: BaseException) -> bool:
    """litellm turning a request away because every replica it may use has its `max_parallel` in flight."""
    return any(getattr(e, "rate_limit_type", None) == "concurrent_requests"
               and getattr(e, "category", None) == "litellm_rate_limit" for e in _causes(exc))


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


def explain(exc: Exception, spec: ModelSpec, replica: str | None = None) -> str:
    """One line that says what went wrong with a hosted model, without the traceback or the key."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    where = place(spec, replica)
    if "No deployments available" in str(exc):  # the Router: every replica is cooling down
        return f"no replica of {spec.name} can take requests now: all are cooling down after failures"
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

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
import logging
import os
import queue
import socket
import threading
from collections.abc import Mapping
from typing import Any, Iterator
from urllib.parse import urlparse

from workbench.config import ModelSpec
from workbench.redact import DEFAULT_KEY_ENV, Redactor, known_keys
from workbench.core import (Cancel, Done, Engine, Event, Failed, Ignored, ModelIdentity, Received, Request, Status,
                            Token, Usage, new_id)


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
            # litellm's sync stream hands every chunk to a logging thread that runs an event loop for it
            # (~0.7-1.4 ms of CPU a chunk, nobody listening): off. The async path (the Router's pools, whose
            # least-busy counts use it) keeps its logging; an OpenAI-compatible stream read from under the
            # wrapper (`_chunks`) skips litellm's end-of-stream success logging too (nobody listens to it).
            litellm.disable_streaming_logging = True
            _watch_bodies(litellm)
            _litellm = litellm
    return _litellm


log = logging.getLogger("workbench")

_BODIES_KEPT = 256  # request bodies awaiting their engine thread; an older one is forgotten
_bodies: dict[str, dict] = {}
_bodies_lock = threading.Lock()


def _watch_bodies(litellm: Any) -> None:
    """Keep the body litellm is about to send (after it mapped and dropped parameters), by call id.

    litellm hands every call's final request body (`complete_input_dict`) to its input callbacks just
    before it is sent; the engine names its call (`litellm_call_id`) and takes the body back once the
    request is made: what the provider was really sent, for the parity record.
    """
    from litellm.integrations.custom_logger import CustomLogger

    class BodyLog(CustomLogger):
        def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
            try:
                call_id = kwargs.get("litellm_call_id")
                body = (kwargs.get("additional_args") or {}).get("complete_input_dict")
                if call_id and isinstance(body, dict):
                    with _bodies_lock:
                        _bodies[call_id] = body
                        while len(_bodies) > _BODIES_KEPT:
                            _bodies.pop(next(iter(_bodies)))
            except Exception:  # noqa: BLE001 - a record we cannot take must never fail the request
                pass

    litellm.input_callback.append(BodyLog())


def sent_body(call_id: str) -> dict | None:
    """The body litellm sent for the call `call_id` (taken: a second call returns None)."""
    with _bodies_lock:
        return _bodies.pop(call_id, None)


_NOT_PARAMS = {"model", "messages", "stream", "stream_options", "extra_body", "extra_headers", "headers", "metadata",
               "tools", "tool_choice", "functions", "user", "api_base", "base_url", "timeout"}
_SECRET = ("key", "secret", "auth", "password", "token_id", "credential")


def received(litellm: Any, spec: ModelSpec, request: Request, body: dict | None, ignored: tuple[str, ...],
             redact: Redactor, repeat_guard: int | None) -> dict:
    """The parity record of a hosted answer: the messages and parameters as litellm sent them (its request
    body when it was seen, else the request's parameters less those litellm drops), and those it dropped."""
    from workbench.parity import bounded

    if body is not None:
        params = {k: v for k, v in body.items() if k not in _NOT_PARAMS and not any(s in k.lower() for s in _SECRET)
                  and (v is None or isinstance(v, (str, int, float, bool, list)))}
        messages = body.get("messages") if isinstance(body.get("messages"), list) else request.messages()
        source = "litellm's request body, as sent"
    else:
        params = {"max_tokens": request.max_tokens}
        for name in ("temperature", "seed", "top_p"):
            if getattr(request, name) is not None:
                params[name] = getattr(request, name)
        params = {k: v for k, v in params.items() if k not in ignored}
        messages = request.messages()
        source = "the request's parameters less those litellm drops (its request body was not seen)"
    stop = params.pop("stop", None)
    record = {
        "v": 1, "engine": "litellm", "mode": "chat", "template": None,
        "prompt_source": "chat messages sent to the provider (its server applies its own template)",
        "messages": messages, "system": request.system, "prompt": request.prompt, "history": len(request.history),
        "params": params, "defaults": [], "ignored": list(ignored), "sent_from": source,
        "n_ctx": context_size(litellm, spec.model), "stop": [stop] if isinstance(stop, str) else list(stop or []),
        "stop_at_eos": True, "repeat_guard": repeat_guard,
    }
    return _redacted(bounded(record), redact)


def _redacted(value: Any, redact: Redactor) -> Any:
    """A JSON-like value with every key the redactor knows cut from its strings (a key echoed in a message)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


def context_size(litellm: Any, model: str | None) -> int | None:
    """The model's context window from litellm's bundled model map (`max_input_tokens`), or None."""
    table = getattr(litellm, "model_cost", None) or {}
    if not model:
        return None
    prefix, sep, bare = model.partition("/")
    for key in (model, bare) if sep else (model,):
        info = table.get(key)
        if isinstance(info, dict):
            value = info.get("max_input_tokens") or info.get("max_tokens")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


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
            yield from self._request(litellm, key, request, cancel, ignored)
        finally:
            self._slots.release()

    def _request(self, litellm: Any, key: str | None, request: Request, cancel: Cancel,
                 ignored: tuple[str, ...] = ()) -> Iterator[Event]:
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
        call_id = params["litellm_call_id"] = f"wb-{new_id()}"  # its request body is kept under this id
        told = False
        try:
            if pool:
                response = self._router(litellm, key).stream(params, cancel)
            else:
                response = litellm.completion(**params)
                _close_on_cancel(response, cancel, ended)
                told = True
                if (record := self._received(litellm, request, call_id, ignored, redact)) is not None:
                    yield Received(record)
            for chunk in _chunks(litellm, response, params["messages"]):
                if not told:  # a pool's request is made on the Router's loop: sent once a chunk is back
                    told = True
                    if (record := self._received(litellm, request, call_id, ignored, redact)) is not None:
                        yield Received(record)
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
        if not told:  # it failed before the stream began: what was sent, if it was sent
            body = sent_body(call_id)
            if body is not None:
                try:
                    record = received(litellm, self.spec, request, body, ignored, redact, self._guard())
                except Exception as exc:  # noqa: BLE001 - a record we cannot make must never hide the failure
                    log.warning("%s: no parity record: %s", self.name, exc)
                else:
                    yield Received(record)
        if failure is not None:
            yield failure
            return
        if not cancel.is_set() and not saw_text and not saw_usage:
            yield Failed(f"{place(self.spec)} answered without a stream of text "
                         "(an empty or non-streaming 200 response; is it an OpenAI-compatible server?)")
            return
        yield Done(finish_reason="cancelled" if cancel.is_set() else finish, cancelled=cancel.is_set(),
                   model_id=redact(model_id), system_fingerprint=redact(fingerprint))

    def _received(self, litellm: Any, request: Request, call_id: str, ignored: tuple[str, ...],
                  redact: Redactor) -> dict | None:
        try:
            return received(litellm, self.spec, request, sent_body(call_id), ignored, redact, self._guard())
        except Exception as exc:  # noqa: BLE001 - a record we cannot make must never fail the answer
            log.warning("%s: no parity record: %s", self.name, exc)
            return None

    def _guard(self) -> int | None:
        try:
            return self.repeat_guard
        except Exception:  # noqa: BLE001 - unknown: the record says none rather than failing the answer
            return None

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


def _chunks(litellm: Any, response: Any, messages: list[dict[str, str]]) -> Any:
    """The stream's chunks: litellm's own, or for an OpenAI-format stream (litellm's `openai` provider, its
    wrapper over the OpenAI client's `Stream`) the chunks read from under litellm's wrapper
    (`_openai_chunks`, `_plain_chunks`): per chunk about a fifth of the CPU of litellm's wrapper.
    Anything else (another provider, a pool's Router stream) reads as litellm gives it."""
    stream = getattr(response, "completion_stream", None)
    if (type(response).__name__ != "CustomStreamWrapper" or getattr(response, "custom_llm_provider", None) != "openai"
            or not callable(getattr(response, "_handle_stream_fallback_error", None))
            or not callable(getattr(response, "_stream_eof_error", None))):
        return response
    try:
        from openai import Stream
    except ImportError:
        return response
    if not isinstance(stream, Stream):
        return response
    return _openai_chunks(litellm, response, _plain_chunks(stream) or stream, messages)


def _plain_chunks(stream: Any) -> Iterator[Any] | None:
    """The OpenAI client's stream with each plain text chunk built as a few small objects, not as the
    client's `ChatCompletionChunk` (its reflective `construct`: two thirds of what is left per chunk).

    The client's own server-sent-event decoding, timeouts and connection errors are kept (`_iter_events`),
    and so is its handling of every event: `[DONE]`, an `error` event raised as its `APIError`, and any
    chunk not of the plain shape (a tool call, odd types, a non-object) built by the client itself. None
    when the client is not the one this was written against (its stream then reads as it is).
    """
    options = getattr(stream, "_options", None)
    try:
        events = stream._iter_events
        process = stream._client._process_response_data
        cast_to = stream._cast_to
        http = stream.response
    except AttributeError:
        return None
    if options is not None and (getattr(options, "stream_mode", "legacy") != "legacy"
                                or getattr(options, "synthesize_event_and_data", None)):
        return None
    return _read_events(events(), process, cast_to, http)


def _read_events(events: Iterator[Any], process: Any, cast_to: Any, http: Any) -> Iterator[Any]:
    """The loop of the OpenAI client's `Stream.__stream__` (legacy mode), with `_plain_chunk` first."""
    try:
        for sse in events:
            if sse.data.startswith("[DONE]"):
                break
            data = sse.json()
            if sse.event and sse.event.startswith("thread."):  # Assistants events, as the client reads them
                if sse.event == "error" and isinstance(data, Mapping) and data.get("error"):
                    raise _stream_error(data, http)
                yield process(data={"data": data, "event": sse.event}, cast_to=cast_to, response=http)
                continue
            if isinstance(data, Mapping) and data.get("error"):
                raise _stream_error(data, http)
            yield _plain_chunk(data) or process(data=data, cast_to=cast_to, response=http)
    finally:
        http.close()


def _stream_error(data: Mapping, http: Any) -> Exception:
    """The OpenAI client's error for an `error` event in a stream."""
    from openai import APIError

    error = data.get("error")
    message = error.get("message") if isinstance(error, Mapping) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return APIError(message=message, request=http.request, body=data["error"])


class _Fields:
    """A chunk's part with the attributes the engine reads."""

    __slots__ = ("model", "system_fingerprint", "usage", "choices", "delta", "finish_reason", "content",
                 "reasoning_content", "prompt_tokens", "completion_tokens", "total_tokens")


def _plain_chunk(data: Any) -> _Fields | None:
    """A text chunk (`choices` of `delta`s with at most a string `content`, a string `finish_reason`, integer
    usage) as small objects; None for any other shape."""
    if type(data) is not dict:
        return None
    choices = data.get("choices")
    usage = data.get("usage")
    fingerprint = data.get("system_fingerprint")
    model = data.get("model")
    if (type(choices) is not list or not (fingerprint is None or type(fingerprint) is str)
            or not (model is None or type(model) is str) or not (usage is None or type(usage) is dict)):
        return None
    chunk = _Fields()
    chunk.model, chunk.system_fingerprint, chunk.choices, chunk.usage = model, fingerprint, [], None
    for item in choices:
        if type(item) is not dict:
            return None
        delta, reason = item.get("delta"), item.get("finish_reason")
        if type(delta) is not dict or not (reason is None or type(reason) is str) or delta.keys() - _PLAIN_DELTA:
            return None
        content, thought = delta.get("content"), delta.get("reasoning_content")
        if not (content is None or type(content) is str) or not (thought is None or type(thought) is str):
            return None
        choice = _Fields()
        choice.delta = _Fields()
        choice.finish_reason, choice.delta.content, choice.delta.reasoning_content = reason, content, thought
        chunk.choices.append(choice)
    if usage is not None:
        counts = [usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")]
        if not all(n is None or type(n) is int for n in counts):
            return None
        chunk.usage = _Fields()
        chunk.usage.prompt_tokens, chunk.usage.completion_tokens, chunk.usage.total_tokens = counts
    return chunk


_PLAIN_DELTA = frozenset(("content", "role", "refusal", "reasoning_content"))
"""The keys of a plain text delta (a tool call or anything else is left to the client's own chunk)."""


class _Chunk:
    """One chunk as the engine reads it (litellm's attribute names)."""

    __slots__ = ("model", "system_fingerprint", "usage", "choices")

    def __init__(self, model: Any, system_fingerprint: Any, usage: Any, choices: list) -> None:
        self.model = model
        self.system_fingerprint = system_fingerprint
        self.usage = usage
        self.choices = choices


def _openai_chunks(litellm: Any, response: Any, stream: Any, messages: list[dict[str, str]]) -> Iterator[Any]:
    """The chunks of a stream that litellm's `openai` provider (OpenAI itself, and every OpenAI-compatible
    `api_base`) gets from the OpenAI client, read from the client's stream under litellm's wrapper.

    litellm made the request (parameters, key, errors before the stream) and still maps every failure
    (`_handle_stream_fallback_error`, as its wrapper does); what is skipped is its per-chunk rebuilding of
    each chunk (~0.45 ms of CPU a chunk: a new response object, debug strings built whether logged or not)
    and its end-of-stream reassembly of the whole answer for logging. What the engine reads is kept as the
    wrapper gives it: the model as requested, finish reasons mapped by litellm, `abort` as an error, a
    stream that ends without a finish reason as a broken stream, usage validated as litellm's `Usage`, and,
    when the server sent none, usage counted with litellm's token counter. A stream with no chunk at all
    is left to the wrapper's own ending.
    """
    from litellm.litellm_core_utils.core_helpers import map_finish_reason

    model = getattr(response, "model", None)
    received = finished = False
    usage = None
    text: list[str] = []
    reasoning: list[str] = []
    try:
        for chunk in stream:
            received = True
            choices = chunk.choices or []
            for choice in choices:
                reason = choice.finish_reason
                if reason:
                    if str(reason) == "abort":
                        raise litellm.InternalServerError(message="Upstream generation aborted (finish_reason=abort)",
                                                          model=chunk.model, llm_provider="openai")
                    choice.finish_reason = map_finish_reason(reason)
                    finished = True
                delta = choice.delta
                content = getattr(delta, "content", None)
                if isinstance(content, str):
                    text.append(content)
                elif content is not None:
                    delta.content = None  # not text: litellm's wrapper drops it too
                thought = getattr(delta, "reasoning_content", None)
                if thought and isinstance(thought, str):
                    reasoning.append(thought)
            reported = chunk.usage
            if reported is not None:  # passed on at the end, as the wrapper does
                usage = litellm.Usage(prompt_tokens=getattr(reported, "prompt_tokens", None),
                                      completion_tokens=getattr(reported, "completion_tokens", None),
                                      total_tokens=getattr(reported, "total_tokens", None))
            yield _Chunk(model, getattr(chunk, "system_fingerprint", None), None, choices)
    except Exception as exc:  # noqa: BLE001 - mapped as litellm's wrapper maps it (it raises)
        response._handle_stream_fallback_error(exc)
        raise
    if not received:  # the wrapper ends an empty stream its own way (the stream read is over)
        response.completion_stream = iter(())
        yield from response
        return
    if not finished:  # outside the handler above, as in the wrapper: no exception chained to it
        response._handle_stream_fallback_error(response._stream_eof_error())
    if usage is None:
        usage = _counted_usage(litellm, response, model, messages, "".join(text), "".join(reasoning))
    yield _Chunk(model, None, usage, [])


def _counted_usage(litellm: Any, response: Any, model: Any, messages: Any, completion: str, reasoning: str) -> Any:
    """Usage counted with litellm's token counter, as its wrapper counts it for a server that sends none
    (the answer's text, and its reasoning text apart; a tool call's arguments, which litellm counts too, are
    not: this engine asks for none)."""
    try:
        count_prompt = getattr(response, "count_prompt_tokens", None)
        prompt = count_prompt() if callable(count_prompt) else litellm.token_counter(
            model=model, messages=getattr(response, "messages", None) or messages)
    except Exception:  # noqa: BLE001 - as litellm: an uncountable prompt counts 0
        prompt = 0
    completion_tokens = litellm.token_counter(model=model, text=completion, count_response_tokens=True)
    if reasoning:
        completion_tokens += litellm.token_counter(text=reasoning, count_response_tokens=True)
    return litellm.Usage(prompt_tokens=prompt, completion_tokens=completion_tokens,
                         total_tokens=prompt + completion_tokens)


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

"""Calls between the tests' process and the answer's process (both sides load this file; the app never does).

Only plain data crosses: None, bools, ints, floats, strings, bytes, and lists, tuples, dicts,
sets of them, as JSON lines. Any other object stays where it lives and the other side gets a
handle to it; each call through a handle is one request. The tests' side serves only "call" on
the objects the tests handed over (a callback, a fake clock), so the answer cannot walk into the
tests' process; handles compare by identity, so no answer's `__eq__` ever decides a comparison.
A request carries its conversation (one per thread that started it), so callbacks nest and
threads on one side are mirrored by threads on the other.
"""

import builtins
import itertools
import json
import math
import queue
import threading
import traceback

MAX_LINE = 64 << 20
"""Longest message read, in bytes; longer is a broken protocol."""


class Gone(Exception):
    """The other side ended, or sent something that is not this protocol."""


class RemoteError(Exception):
    """An exception of the answer's that is no built-in exception."""


class Peer:
    """One side of the conversation: sends requests, serves the other side's, encodes and decodes values."""

    def __init__(self, sock, side, serve, serve_file=None):
        self.side, self.serve, self.serve_file = side, serve, serve_file
        self.rfile, self.wfile = sock.makefile("rb"), sock.makefile("wb")
        self.wlock, self.lock = threading.Lock(), threading.Lock()
        self.objects, self.ids, self.proxies, self.queues = {}, {}, {}, {}
        self.counter, self.local, self.gone = itertools.count(1), threading.local(), None
        self.methods = {}

    def start(self):
        threading.Thread(target=self.read_all, daemon=True).start()

    def send(self, msg):
        data = json.dumps(msg, separators=(",", ":")).encode() + b"\n"
        with self.wlock:
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except (OSError, ValueError) as exc:
                raise Gone(f"the other process is gone ({exc})") from None

    def read_one(self):
        """One message (blocking), or Gone."""
        line = self.rfile.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise Gone("the other process is gone")
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            raise Gone("the other process broke the protocol") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("c"), str):
            raise Gone("the other process broke the protocol")
        return msg

    def read_all(self):
        """Hand each message to the thread of its conversation; start a thread for a new one."""
        try:
            while True:
                msg = self.read_one()
                with self.lock:
                    q = self.queues.get(msg["c"])
                    if q is None:
                        q = self.queues[msg["c"]] = queue.SimpleQueue()
                        threading.Thread(target=self._worker, args=(msg["c"], q), daemon=True).start()
                q.put(msg)
        except Gone as exc:
            with self.lock:
                self.gone = str(exc)
                for q in self.queues.values():
                    q.put(None)

    def _worker(self, cid, q):
        self.local.cid = cid
        while True:
            msg = q.get()
            if msg is None:
                return
            if "q" in msg:
                self._serve(msg)

    def _queue(self):
        cid = getattr(self.local, "cid", None)
        with self.lock:
            if cid is None:
                cid = self.local.cid = f"{self.side}{next(self.counter)}"
                self.queues[cid] = queue.SimpleQueue()
            if self.gone is not None:
                raise Gone(self.gone)
            return cid, self.queues[cid]

    def request(self, op, **fields):
        """Send a request and wait for its answer, serving the other side's nested requests meanwhile."""
        cid, q = self._queue()
        self.send({"c": cid, "q": op, **fields})
        while True:
            msg = q.get()
            if msg is None:
                raise Gone(self.gone)
            if "q" in msg:
                self._serve(msg)
            elif "e" in msg:
                raise self._error(msg)
            else:
                try:
                    return self.decode(msg.get("r")), msg.get("w")
                except (TypeError, KeyError, ValueError, RecursionError):
                    raise Gone("the other process broke the protocol") from None

    def _serve(self, msg):
        try:
            handler = self.serve.get(msg["q"]) if isinstance(msg["q"], str) else None
            if handler is None:
                raise PermissionError(f"{msg['q']!r} is not served here")
            reply = {"c": msg["c"], "r": None}
            reply["r"], changed = handler(self, msg)
            if changed is not None:
                reply["w"] = changed
        except Gone:
            return
        except BaseException as exc:  # noqa: BLE001 - whatever the code raised goes back to the caller
            reply = {"c": msg["c"], "e": [c.__name__ for c in type(exc).__mro__][:20], "s": _text(exc),
                     "t": formatted(exc, (__file__, self.serve_file))[-4000:]}
            try:
                reply["a"] = self.encode(exc.args)
            except Exception:  # noqa: BLE001
                pass
        self.send(reply)

    def _error(self, msg):
        """The other side's exception as one of ours: a built-in exception class, or RemoteError."""
        names = [n for n in msg.get("e") or [] if isinstance(n, str)] or ["RemoteError"]
        base = next((getattr(builtins, n) for n in names if isinstance(getattr(builtins, n, None), type)
                     and issubclass(getattr(builtins, n), Exception)), RemoteError)
        cls = base if names[0] == base.__name__ else type(names[0][:100], (base,), {"__module__": "answer"})
        try:
            exc = cls(*self.decode(msg.get("a")))
        except Exception:  # noqa: BLE001
            exc = cls(str(msg.get("s"))[:10000])
        if isinstance(msg.get("t"), str):
            exc.add_note("in the answer's process:\n" + msg["t"])
        return exc

    # values

    def encode(self, x, depth=0):
        """A value as JSON: plain data as itself (tagged where JSON has no such type), anything else as a handle."""
        if depth > 200:
            raise ValueError("a value nested too deeply to send")
        if isinstance(x, Proxy):
            return {"#": "r", "o": x._key[0], "i": x._key[1], "m": sorted(x._methods)}
        if x is None or isinstance(x, bool):
            return x if x is None else bool(x)
        if isinstance(x, int):
            return int.__index__(x)
        if isinstance(x, float):
            x = float.__float__(x)
            return x if math.isfinite(x) else {"#": "f", "v": repr(x)}
        if isinstance(x, str):
            return str.__str__(x)
        tag = next((t for t, kind in _KINDS if isinstance(x, kind)), None)
        if tag == "l":
            return [self.encode(v, depth + 1) for v in list.__iter__(x)]
        if tag == "d":
            return {"#": "d", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in dict.items(x)]}
        if tag == "b":
            return {"#": "b", "v": bytes(x).hex()}
        if tag is not None:
            kind = dict(_KINDS)[tag]
            return {"#": tag, "v": [self.encode(v, depth + 1) for v in kind.__iter__(x)]}
        return self._handle(x)

    def _handle(self, x):
        with self.lock:
            key = self.ids.get(id(x))
            if key is None:
                key = self.ids[id(x)] = len(self.objects) + 1
                self.objects[key] = x  # kept alive: the other side may use the handle at any time
        kind = type(x)
        if kind not in self.methods:
            self.methods[kind] = [n for n in dir(kind) if not n.startswith("__") and callable(getattr(kind, n, None))]
        return {"#": "r", "o": self.side, "i": key, "m": self.methods[kind]}

    def decode(self, v):
        """JSON from the other side as plain data and handles (TypeError/KeyError/ValueError if malformed)."""
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is list:
            return [self.decode(x) for x in v]
        if type(v) is not dict:
            raise TypeError("not a value")
        tag = v.get("#")
        if tag == "f":
            return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[v["v"]])
        if tag == "b":
            return bytes.fromhex(v["v"])
        if tag == "d":
            return {self.decode(k): self.decode(x) for k, x in v["v"]}
        if tag in ("t", "s", "fs"):
            return dict(_KINDS)[tag](self.decode(x) for x in v["v"])
        if tag == "r":
            if v["o"] == self.side:
                return self.objects[v["i"]]
            key = (str(v["o"]), int(v["i"]))
            with self.lock:
                if key not in self.proxies:
                    self.proxies[key] = Proxy(self, key, frozenset(m for m in v.get("m", ()) if type(m) is str))
                return self.proxies[key]
        raise TypeError("not a value")


_KINDS = (("l", list), ("t", tuple), ("d", dict), ("fs", frozenset), ("s", set), ("b", (bytes, bytearray)))


def formatted(exc, skip):
    """A traceback without the frames of the files in `skip` (this machinery's own)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in skip]
    return ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
            + "".join(traceback.format_exception_only(type(exc), exc)))


def _text(exc):
    try:
        return str(exc)[:10000]
    except Exception:  # noqa: BLE001
        return type(exc).__name__


def sync(original, new):
    """Make a container the tests passed look as the answer left its copy (list, dict and set, in place)."""
    if isinstance(original, list) and isinstance(new, list):
        if len(original) == len(new):
            for i, (a, b) in enumerate(zip(original, new)):
                if not (type(a) is type(b) and isinstance(a, (list, dict, set)) and sync(a, b)):
                    original[i] = b
        else:
            original[:] = new
    elif isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif isinstance(original, set) and isinstance(new, set):
        original.clear()
        original.update(new)
    else:
        return False
    return True


class Proxy:
    """An object of the other side: attribute access, calls and container protocols go there; equality is identity."""

    __slots__ = ("_peer", "_key", "_methods", "__weakref__")

    def __init__(self, peer, key, methods):
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_methods", methods)

    def _ask(self, op, args=(), kwargs=None, **fields):
        peer = self._peer
        ref = peer.encode(self)
        sent = [args, kwargs or {}]
        value, changed = peer.request(op, r=ref, a=peer.encode(list(args)), k=peer.encode(kwargs or {}), **fields)
        if changed is not None:  # the answer changed a list/dict/set it was given: so do the tests' own
            try:
                new_args, new_kwargs = peer.decode(changed)
                for old, new in zip(sent[0], new_args):
                    sync(old, new)
                for name, new in new_kwargs.items():
                    sync(sent[1].get(name), new)
            except (TypeError, KeyError, ValueError, RecursionError):
                raise Gone("the other process broke the protocol") from None
        return value

    def __getattr__(self, name):
        if name in self._methods:
            return lambda *args, **kwargs: self._ask("callattr", args, kwargs, n=name)
        return self._ask("getattr", n=name)

    def __setattr__(self, name, value):
        self._ask("setattr", (value,), n=name)

    def __delattr__(self, name):
        self._ask("delattr", n=name)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args, kwargs)

    def __len__(self):
        return self._ask("len")

    def __contains__(self, item):
        return self._ask("contains", (item,))

    def __getitem__(self, key):
        return self._ask("getitem", (key,))

    def __setitem__(self, key, value):
        self._ask("setitem", (key, value))

    def __delitem__(self, key):
        self._ask("delitem", (key,))

    def __iter__(self):
        return iter(self._ask("list"))

    def __next__(self):
        return self._ask("next")

    def __bool__(self):
        return self._ask("bool")

    def __str__(self):
        return self._ask("str")

    def __repr__(self):
        try:
            return self._ask("repr")
        except Exception:  # noqa: BLE001 - a repr must not fail while a traceback is printed
            return f"<answer object {self._key[1]}>"


def serving(handlers):
    """Request handlers from plain functions of (target, args, kwargs, message) that return a value.

    The target must be one of this side's own objects; the reply says, in "w", how the call left
    the lists, dicts and sets it was given, when it changed them.
    """
    def wrap(fn):
        def handler(peer, msg):
            target = peer.decode(msg.get("r"))
            if not (isinstance(msg.get("r"), dict) and msg["r"].get("o") == peer.side):
                raise PermissionError("not an object of this process")
            args, kwargs = peer.decode(msg.get("a") or []), peer.decode(msg.get("k") or {"#": "d", "v": []})
            result = fn(target, args, {str(k): v for k, v in kwargs.items()}, msg)
            after = [peer.encode(args), peer.encode(kwargs)]
            return peer.encode(result), (after if after != [msg.get("a"), msg.get("k")] else None)
        return handler
    return {op: wrap(fn) for op, fn in handlers.items()}

"""Runs inside the sandbox as the tests' own user (never imported by the app): the tests' process.

Usage: python -E -s -u _runner.py TEST_NAME...   (in a folder holding tests.py and _rpc.py)

The answer's code runs in another process, as another user (`_answer.py`); this one never runs
it. The tests block runs here with the answer's globals in its namespace (plain data as values,
functions, classes and other objects as handles whose calls go to the answer's process), then
each test function is called in order. Results go to fd 3, one line each, prefixed with the
run's nonce (fd 4): `pass NAME`, `fail NAME`, `load-error answer|tests TYPE`, `load-exit` (the
answer's process ended before the tests), `gone NAME` (it ended during that test), and `done`.
"""

import asyncio
import builtins
import ctypes
import inspect
import os
import socket
import sys
import tempfile
from pathlib import Path

import _rpc

PR_SET_DUMPABLE = 4
SERVED = _rpc.serving({  # all the answer may do with what the tests hand it: call it, ask its truth and text
    "call": lambda t, a, k, m: t(*a, **k),
    "bool": lambda t, a, k, m: bool(t),
    "str": lambda t, a, k, m: str(t),
    "repr": lambda t, a, k, m: repr(t),
})
NONCE = ""


def _send(line):
    """One result line on fd 3, tagged with the nonce."""
    os.write(3, f"{NONCE} {line}\n".encode())


def _show(exc, label):
    """The traceback of a failure, without this runner's own frames."""
    sys.stdout.flush()
    print(f"{label}:", file=sys.stderr)
    print(_rpc.formatted(exc, (__file__, _rpc.__file__)), file=sys.stderr)


def _resolve(namespace, name):
    """`test_x` or `TestClass.test_x` as a callable, or None."""
    owner, _, method = name.partition(".")
    target = namespace.get(owner)
    if method and isinstance(target, type):
        return getattr(target(), method, None)
    return target if callable(target) else None


def _call(fn):
    """Call a test, giving it `tmp_path` if it asks, and running it to the end if it is async."""
    kwargs = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name == "tmp_path":
            kwargs["tmp_path"] = Path(tempfile.mkdtemp())
            kwargs["tmp_path"].chmod(0o777)  # the answer's process may read (and write) what the test puts there
        elif param.default is inspect.Parameter.empty and param.kind not in (param.VAR_POSITIONAL,
                                                                             param.VAR_KEYWORD):
            raise TypeError(f"the test needs a pytest fixture this runner does not have: {param.name}")
    result = fn(**kwargs)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def _finish(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _start():
    """Out of reach first (no ptrace, no /proc/PID/fd), then let init start the answer's process."""
    global NONCE
    prctl = ctypes.CDLL(None).prctl
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        _finish(2)
    os.close(6)
    NONCE = os.read(4, 256).decode().strip()
    os.close(4)
    peer = _rpc.Peer(socket.socket(fileno=5), "t", SERVED, __file__)
    try:
        hello = peer.read_one()
    except _rpc.Gone:
        _send("load-exit")
        _finish(1)
    if "load-error" in hello:
        _send(f"load-error answer {str(hello['load-error'])[:100].replace(' ', '_')}")
        _finish(1)
    try:
        names = {str(k): peer.decode(v) for k, v in dict(hello["ready"]).items()}
    except (TypeError, KeyError, ValueError, RecursionError):
        _send("load-exit")
        _finish(1)
    peer.start()
    return peer, names


def main():
    """Wait for the answer's globals, load the tests, then run each test named on the command line."""
    peer, names = _start()
    namespace = {"__name__": "tests", "__builtins__": builtins, **names}
    source = Path("tests.py").read_text(encoding="utf-8")
    try:
        exec(compile(source, "tests.py", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001
        _show(exc, "ERROR while running tests.py")
        _send(f"load-error tests {type(exc).__name__}")
        _finish(1)
    failed = 0
    for name in sys.argv[1:]:
        try:
            fn = _resolve(namespace, name)
            if fn is None:
                raise NameError(f"test {name} is not defined")
            _call(fn)
        except BaseException as exc:  # a test that calls sys.exit fails; it does not end the run
            failed += 1
            _show(exc, f"FAILED {name}")
            _send(f"{'gone' if peer.gone is not None else 'fail'} {name}")
        else:
            _send(f"pass {name}")
    total = len(sys.argv) - 1
    print(f"{total - failed} passed, {failed} failed", file=sys.stderr)
    _send("done")
    _finish(1 if failed else 0)


if __name__ == "__main__":
    main()

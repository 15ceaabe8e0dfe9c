"""Runs inside the sandbox as the answer's own user (never imported by the app): the answer's process.

Usage: python -E -s -u _answer.py   (in a folder holding answer.py and _rpc.py; fd 3 a socket to the tests)

Loads answer.py as module `answer`, tells the tests' process its globals (plain data as values,
anything else as handles), then serves the tests' requests on those handles until the tests'
process goes. It has no way to the result channel: that fd and the nonce stay in the tests' process.
"""

import builtins
import os
import socket
import sys
import traceback
import types

import _rpc

SERVED = _rpc.serving({
    "call": lambda t, a, k, m: t(*a, **k),
    "callattr": lambda t, a, k, m: getattr(t, m["n"])(*a, **k),
    "getattr": lambda t, a, k, m: getattr(t, m["n"]),
    "setattr": lambda t, a, k, m: setattr(t, m["n"], a[0]),
    "delattr": lambda t, a, k, m: delattr(t, m["n"]),
    "len": lambda t, a, k, m: len(t),
    "contains": lambda t, a, k, m: a[0] in t,
    "getitem": lambda t, a, k, m: t[a[0]],
    "setitem": lambda t, a, k, m: t.__setitem__(a[0], a[1]),
    "delitem": lambda t, a, k, m: t.__delitem__(a[0]),
    "list": lambda t, a, k, m: list(t),
    "next": lambda t, a, k, m: next(t),
    "bool": lambda t, a, k, m: bool(t),
    "str": lambda t, a, k, m: str(t),
    "repr": lambda t, a, k, m: repr(t),
})


def main():
    """Load the answer, then serve; a load that raises is reported, one that exits just ends the process."""
    sock = socket.socket(fileno=3)
    module = types.ModuleType("answer")
    module.__file__ = os.path.abspath("answer.py")
    module.__builtins__ = builtins
    sys.modules["answer"] = module
    peer = _rpc.Peer(sock, "a", SERVED, __file__)
    try:
        with open("answer.py", encoding="utf-8") as f:
            exec(compile(f.read(), "answer.py", "exec"), module.__dict__)
    except Exception as exc:  # SystemExit is not caught: leaving before the tests means no pass
        sys.stdout.flush()
        print("ERROR while running answer.py:", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next, file=sys.stderr)
        peer.send({"c": "-", "load-error": type(exc).__name__})
        os._exit(1)
    names = {}
    for name, value in list(vars(module).items()):
        if not (name.startswith("__") and name.endswith("__")):
            try:
                names[name] = peer.encode(value)
            except (ValueError, RecursionError):
                names[name] = peer._handle(value)
    peer.send({"c": "-", "ready": names})
    peer.read_all()  # until the tests' process goes
    os._exit(0)


if __name__ == "__main__":
    main()

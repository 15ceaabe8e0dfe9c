"""Runs inside the sandbox (never imported by the app): the answer's code, then each named test.

Usage: python -I -u _runner.py TEST_NAME...   (in a folder holding answer.py and tests.py)

The answer's code runs first, as module `answer`, top to bottom; the tests block runs after it
in the same namespace, then each test function is called in order. Results go to fd 3, one line
each, prefixed with the run's nonce, which is read from fd 4 only once the answer's code has run:
`pass NAME`, `fail NAME`, `load-error answer|tests TYPE`, and `done` after the last test. A run
that ends without `done` (the code called sys.exit, os._exit or was killed) did not pass.
"""

import asyncio
import builtins
import inspect
import os
import sys
import tempfile
import traceback
import types
from pathlib import Path

_nonce = None


def _send(line):
    """One result line on fd 3, tagged with the nonce (read on first use)."""
    global _nonce
    if _nonce is None:
        try:
            _nonce = os.read(4, 256).decode().strip()
            os.close(4)
        except OSError:
            _nonce = ""
    os.write(3, f"{_nonce} {line}\n".encode())


def _show(exc, label):
    """The traceback of a failure, without this runner's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    sys.stdout.flush()
    print(f"{label}:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def _load(namespace, path, label):
    """Run one file in the namespace; report and stop the run if it raises."""
    source = Path(path).read_text(encoding="utf-8")
    try:
        exec(compile(source, path, "exec"), namespace)
    except Exception as exc:  # SystemExit is not caught: leaving before the tests means no pass
        _show(exc, f"ERROR while running {path}")
        _send(f"load-error {label} {type(exc).__name__}")
        _finish(1)


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
            kwargs["tmp_path"] = Path(tempfile.mkdtemp(dir="."))
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


def main():
    """Load the answer, then the tests, then run each test named on the command line."""
    module = types.ModuleType("answer")
    module.__file__ = os.path.abspath("answer.py")
    module.__builtins__ = builtins
    sys.modules["answer"] = module
    namespace = module.__dict__
    _load(namespace, "answer.py", "answer")
    _load(namespace, "tests.py", "tests")
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
            _send(f"fail {name}")
        else:
            _send(f"pass {name}")
    total = len(sys.argv) - 1
    print(f"{total - failed} passed, {failed} failed", file=sys.stderr)
    _send("done")
    _finish(1 if failed else 0)


if __name__ == "__main__":
    main()

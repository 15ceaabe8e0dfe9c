"""Run code that used to hang or eat memory in a child process with a time and memory limit.

A regression then fails its test (timeout, MemoryError) instead of stalling the whole run or the
machine: a FIFO opened for reading waits forever, `/dev/zero` read whole never ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 4 << 30  # address space: room for numpy's arenas, far below what an unbounded read wants


# The limit is set by the child itself, first thing: preexec_fn is unsafe while the test process has threads.
_PRELUDE = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"


def python(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """`python -c CODE` under the limits; a hang fails the calling test with TimeoutExpired."""
    return subprocess.run([sys.executable, "-c", _PRELUDE + code], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL)


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """`python -m workbench ARGS` under the limits."""
    code = (f"import sys, runpy; sys.argv = ['workbench', *{list(args)!r}]; "
            "runpy.run_module('workbench', run_name='__main__')")
    return python(code, timeout)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The single `workbench: error:` line of a command that exited 2."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]

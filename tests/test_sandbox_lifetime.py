"""The sandbox ends with the app that started it, and one run's memory is limited as a whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.verify import Limits, sandbox, verify

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not sandbox.kernel_allows_namespaces(),
                                reason="this machine allows no namespaces: code is not run")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(pid))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (not zombies)."""
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    alive.add(pid)
        except OSError:
            pass
    return alive


def test_killing_the_app_takes_the_sandbox_with_it(tmp_path: Path):
    answer = tmp_path / "loop.py"
    answer.write_text("def merge_intervals(xs):\n    while True:\n        pass\n")
    check = subprocess.Popen([sys.executable, "-m", "workbench", "check", str(answer), "--prompt", "merge-intervals",
                              "--timeout", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        sandboxed: set[int] = set()
        while time.monotonic() < deadline and len(sandboxed) < 4:  # launcher, init, the tests', the answer's
            time.sleep(0.2)
            sandboxed = _descendants(check.pid)
        assert len(sandboxed) >= 4, "the sandbox did not start"
        staging = list(Path("/tmp").glob(f"workbench-sandbox-{check.pid}-*"))
        assert staging
        time.sleep(0.5)
        check.kill()
        check.wait()
        deadline = time.monotonic() + 3
        while _alive(sandboxed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(sandboxed), [Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in _alive(sandboxed)]
        assert all(p.exists() for p in staging)  # left behind by the killed app...
        verify("```python\nprint(1)\n```", None, "python")
        assert not any(p.exists() for p in staging)  # ...and removed by the next run
    finally:
        if check.poll() is None:
            check.kill()


def test_the_sandbox_keeps_its_own_wall_clock():
    started = time.monotonic()
    saved = getattr(sandbox, "BACKSTOP_S", None)
    sandbox.BACKSTOP_S = 30.0  # the app's own backstop would not fire in time
    try:
        verdict = verify("```python\nimport time\nwhile True:\n    time.sleep(1)\n```", None, "python",
                         limits=Limits(wall_s=1.5))
    finally:
        sandbox.BACKSTOP_S = saved
    assert verdict.outcome == "timeout" and time.monotonic() - started < 5


HOG = """
import os, sys, time
for i in range(6):
    if os.fork() == 0:
        block = bytearray(100 * 1024 * 1024)
        for at in range(0, len(block), 4096):
            block[at] = 1  # touched, so it is resident
        print('held', i, flush=True)
        time.sleep(2)
        os._exit(0)
for _ in range(6):
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def test_memory_is_limited_for_the_whole_run_not_per_process():
    limit_mb = 256
    run = sandbox.run({"hog.py": HOG}, [os.path.realpath(sys.executable), "-I", "hog.py"],
                      limits=Limits(memory_mb=limit_mb, wall_s=15), expose=(sys.base_prefix,
                                                                                os.path.dirname(os.path.realpath(sys.executable))))
    held = run.stdout.count("held")
    peak = getattr(run, "memory_peak_mb", None)
    if peak is None:
        pytest.skip("no memory cgroup here (not root, or no memory controller): only per-process limits apply")
    # The run's high-water mark is the claim. ("held" counts children that held 100 MiB at some moment:
    # when the limit's OOM kill ends one, a later child can still hold its own, so it is not a sum.)
    assert peak <= limit_mb, (peak, run)
    assert held < 6, run  # six children of 100 MiB each (600 MiB) could not all hold theirs
    print(f"peak {peak:.0f} MiB of {limit_mb} MiB; {held} of 6 children held 100 MiB")

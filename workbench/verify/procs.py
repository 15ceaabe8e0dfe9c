"""Finding and killing the processes a sandboxed run leaves behind, through /proc."""

from __future__ import annotations

import os
import signal
import time


def _status_fields(pid: str) -> dict[str, str]:
    """/proc/PID/status as a mapping (empty when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def pids_of_uid(uid: int | range) -> list[int]:
    """Live (not zombie) processes whose real or effective uid is `uid` (or in the range)."""
    uids = uid if isinstance(uid, range) else range(uid, uid + 1)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        st = _status_fields(pid)
        if not st or st.get("State", "").startswith(("Z", "X")):
            continue
        ids = st.get("Uid", "").split()
        if any(int(i) in uids for i in ids[:2]):
            found.append(int(pid))
    return found


def kill_until_gone(list_pids, patience_s: float = 5.0) -> None:
    """SIGKILL what `list_pids()` lists until it lists nothing (a fork bomb refills for a while)."""
    deadline = time.monotonic() + patience_s
    while True:
        pids = list_pids()
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def kill_uid(uid: int, patience_s: float = 5.0) -> None:
    """SIGKILL every process of `uid` until none is left."""
    kill_until_gone(lambda: pids_of_uid(uid), patience_s)


def kill_marked(token: str) -> None:
    """Plain mode without root: kill our own processes that carry this run's environment marker."""
    marker = f"WORKBENCH_SANDBOX={token}".encode()
    for _ in range(50):
        hits = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        hits.append(int(pid))
            except OSError:
                continue
        if not hits:
            return
        for pid in hits:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def kill_group(pgid: int) -> None:
    """SIGKILL a process group, if it is still there."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def tasks_of_user(uid: int) -> int:
    """Threads the user already runs: RLIMIT_NPROC counts them all, so a limit must sit above them."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        st = _status_fields(pid)
        if st.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(st.get("Threads", "1") or 1)
    return count

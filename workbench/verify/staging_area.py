"""The app's side of a run's footprint: its staging folder and its memory cgroup, and the removal
of those a killed app left behind."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "workbench-sandbox-"
"""Staging folders are PREFIX + the app's pid + "-" + a random tag, in the system's temporary folder."""
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-[0-9a-f]+$")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def make() -> Path:
    """A new staging folder, named after this process so that a later run can tell it is stale."""
    path = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    return path


def _gone(pid: int) -> bool:
    """Whether no process has this pid (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def remove_stale() -> None:
    """Remove the staging folders and memory cgroups of apps that died during a run (kill -9)."""
    for path in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        match = _NAME.match(path.name)
        if match and _gone(int(match.group(1))):
            remove_tree(path)
    parent = MemoryGroup.parent()
    if parent is not None:
        for path in parent.glob(PREFIX + "*"):
            match = _NAME.match(path.name)
            if match and _gone(int(match.group(1))):
                MemoryGroup(path, v2=(path / "memory.max").exists()).remove()


def remove_tree(path: Path) -> None:
    """Remove a run's folder even where the code made parts of it unwritable."""
    def fix(func, name, _exc):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


class MemoryGroup:
    """A memory cgroup (v2, or v1's memory controller) holding one run: one limit for all its processes."""

    def __init__(self, path: Path, v2: bool):
        self.path, self.v2 = path, v2

    @staticmethod
    def parent() -> Path | None:
        """Our own memory cgroup's folder, where run groups go, if it can hold them."""
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, where = line.split(":", 2)
            if controllers == "" and "memory" in _read(CGROUP_ROOT / "cgroup.controllers"):
                # v2: a group with processes cannot enable controllers for children, so runs go beside us
                base = CGROUP_ROOT / where.lstrip("/")
                return base.parent if "memory" in _read(base.parent / "cgroup.subtree_control") else None
            if "memory" in controllers.split(","):
                base = CGROUP_ROOT / "memory" / where.lstrip("/")
                return base if base.is_dir() else CGROUP_ROOT / "memory"
        return None

    @classmethod
    def create(cls, memory_mb: int, name: str) -> MemoryGroup | None:
        """A fresh group limited to `memory_mb` (swap included), or None where this machine allows none."""
        parent = cls.parent()
        if parent is None or os.geteuid() != 0:
            return None
        path = parent / name
        v2 = (parent / "cgroup.subtree_control").exists()
        limit = str(memory_mb * 1024 * 1024)
        try:
            path.mkdir()
            if v2:
                (path / "memory.max").write_text(limit)
                (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(limit)
                if (path / "memory.memsw.limit_in_bytes").exists():
                    (path / "memory.memsw.limit_in_bytes").write_text(limit)
        except OSError:
            cls(path, v2).remove()
            return None
        return cls(path, v2)

    @property
    def procs(self) -> str:
        """The file a process writes its pid to, to join."""
        return str(self.path / "cgroup.procs")

    def peak_mb(self) -> float | None:
        """The group's memory high-water mark, in MiB."""
        text = _read(self.path / ("memory.peak" if self.v2 else "memory.max_usage_in_bytes"))
        return int(text) / (1024 * 1024) if text.strip().isdigit() else None

    def kill_all(self, patience_s: float = 5.0) -> None:
        """SIGKILL whatever is still in the group."""
        from workbench.verify.procs import kill_until_gone

        kill_until_gone(lambda: [int(p) for p in _read(self.path / "cgroup.procs").split()], patience_s)

    def remove(self) -> None:
        """Empty the group and remove it."""
        self.kill_all()
        for _ in range(100):  # the kernel frees a killed group's last task a moment later
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""

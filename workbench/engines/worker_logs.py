"""Where local model workers write llama.cpp's messages: `$WORKBENCH_HOME/logs/`.

An engine removes its log when it closes, but a killed app cannot: its logs are named after its
pid, and the first engine of the next run removes those whose process is gone. They used to lie
in the temporary folder, where nothing ever removed them.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

from workbench.config import default_home

_NAME = re.compile(r"workbench-(\d+)-.+\.log\Z")
_swept: set[Path] = set()  # folders this process has cleaned already: once is enough
_lock = threading.Lock()


def worker_log(model: str, unique: str) -> str:
    """A fresh log path for a worker of `model`, in `$WORKBENCH_HOME/logs/` (the temporary folder if that fails)."""
    folder = default_home() / "logs"
    with _lock:
        if folder not in _swept:
            _swept.add(folder)
            sweep(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home must not stop a model from loading
        folder = Path(tempfile.gettempdir())
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model)[:60]  # a model name may hold '/' (org/model)
    return str(folder / f"workbench-{os.getpid()}-{safe}-{unique}.log")


def sweep(folder: Path) -> list[Path]:
    """Remove the worker logs in `folder` whose app process is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _NAME.match(name)
        if not m or _alive(int(m.group(1))):
            continue
        try:
            os.unlink(folder / name)
            removed.append(folder / name)
        except OSError:
            pass  # another run removed it first, or the folder is read-only: harmless
    return removed


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (ours is, and one of another user's counts too)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, OSError):  # not a pid this system can have
        return False
    return True

"""Reading a file that comes from outside: only a regular file, and only up to a size bound.

A FIFO blocks the reader until someone writes to it, and a device such as /dev/zero never ends,
so whatever the user points the workbench at (config, prompts, battles, models) is checked
with `fstat` on the opened descriptor (no race between check and read) before a byte is read.
This module imports nothing of the workbench.
"""

from __future__ import annotations

import os
import stat

MiB = 1 << 20


class InputFileError(Exception):
    """A file that cannot be read as input: one line naming the file and the reason."""


def kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of `path`, which must be a regular file (symlinks followed)."""
    return _open_regular(path)[0]


def _open_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """`open_regular`, with the `fstat` it made (so a reader need not ask again)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for a regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:  # os.open refuses a path holding a NUL byte with ValueError
        raise InputFileError(f"{os.fsdecode(path)!r}: cannot read: the path holds a NUL byte") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputFileError(f"{path}: not a regular file ({kind(info.st_mode)})")
    return fd, info


def read_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """The whole of a regular file of at most `limit` bytes; InputFileError otherwise."""
    fd, info = _open_regular(path)
    try:
        if info.st_size > limit:
            raise InputFileError(f"{path}: too large ({_size(info.st_size)}; at most {_size(limit)})")
        chunks, total = [], 0
        # Read to the bound, not to the size fstat gave: a file that grows while read stays bounded.
        while total <= limit and (chunk := os.read(fd, min(MiB, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise InputFileError(f"{path}: too large (more than {_size(limit)})")
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, limit: int, encoding: str = "utf-8") -> str:
    """A regular file of at most `limit` bytes as text; a decoding error is an InputFileError too."""
    data = read_bytes(path, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: cannot read: not {encoding.removesuffix('-sig').upper()} text "
                             f"(byte {exc.start})") from None


def _size(n: int) -> str:
    """A size in the unit a person would use: MiB from one up, else KiB, else bytes."""
    if n >= MiB:
        return f"{n / MiB:g} MiB" if n % MiB == 0 else f"{n / MiB:.1f} MiB"
    return f"{n // 1024} KiB" if n >= 1024 else f"{n} bytes"

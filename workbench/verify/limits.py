"""Resource limits for one sandboxed run."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    """What one run of an answer's code may use; every process it starts gets the same rlimits."""

    cpu_s: int = 10
    """CPU seconds per process (SIGXCPU, then SIGKILL a second later)."""
    wall_s: float = 20
    """Wall-clock seconds for the whole run; then everything it started is killed."""
    memory_mb: int = 1024
    """Address space per process, in MiB."""
    processes: int = 64
    """Processes and threads at once (RLIMIT_NPROC of the throwaway user)."""
    file_mb: int = 16
    """Largest file it may write, standard output and error included, in MiB."""
    open_files: int = 64
    """Open file descriptors per process."""
    output_kb: int = 64
    """Most of standard output, and of standard error, kept for the verdict, in KiB."""
    compile_s: float = 60
    """Wall-clock seconds for compiling, for languages that compile (Rust), before wall_s starts; the
    compiler's CPU time may use as much."""

    def as_dict(self) -> dict:
        """The limits as plain values."""
        return asdict(self)

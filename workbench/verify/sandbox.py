"""Run one command on untrusted code in a sandbox and collect what happened (the app's side).

The sandbox itself is built by `_launcher.py`, started here as a separate process in a session
of its own; see its docstring for what the command can see and do. This side picks a throwaway
uid, writes the files, enforces the wall clock (killing the launcher's process group, which takes
the sandbox's PID namespace with it), kills whatever the throwaway uid still runs afterwards, and
reads back bounded excerpts of the output and the nonce-tagged result lines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.verify import staging_area
from workbench.verify.limits import Limits
from workbench.verify.procs import kill_group, kill_marked, kill_uid, pids_of_uid, tasks_of_user

LAUNCHER = Path(__file__).with_name("_launcher.py")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Folders the sandbox sees anyway (keep in step with `_launcher.SYSTEM_DIRS`)."""
WORK_ROOT = "/tmp"
"""Where the sides' folders are inside a full sandbox: work (the answer's, or the only command's), judge, answer."""
BACKSTOP_S = 2.0
"""Seconds past the wall clock after which this side kills a launcher that did not end the run itself."""
PATH = "/usr/local/bin:/usr/bin:/bin"
UID_RANGE = (1_500_000_000, 1_900_000_000)
"""Throwaway uids/gids are drawn from here (no passwd entry, no files on the machine)."""

_unavailable: str | None = None
"""Why namespaces cannot be set up on this machine, once a run has found out."""


@dataclass
class RunResult:
    """What one sandboxed command did."""

    status: int | None = None
    """Exit status, or minus the signal that ended it (as `Popen.returncode`); None if it never ended on its own."""
    timed_out: bool = False
    """Killed by the wall clock."""
    cpu_limited: bool = False
    """Ended by the CPU-time limit."""
    output_limited: bool = False
    """Ended for writing past the file-size limit (SIGXFSZ)."""
    duration_ms: float = 0.0
    stdout: str = ""
    stderr: str = ""
    peer_status: int | None = None
    """The peer's exit status (as `status`), when there was a peer and it ended before the command."""
    memory_peak_mb: float | None = None
    """Peak memory of the whole run (its cgroup's high-water mark), where a cgroup limited it."""
    results: list[str] = field(default_factory=list)
    """Lines the command wrote to fd 3 that carried this run's nonce (nonce removed)."""
    isolated_network: bool = False
    refused: str | None = None
    """Why the command was not run (no network isolation and none allowed)."""
    failure: str | None = None
    """Why the sandbox itself failed, if it did."""


@dataclass
class Peer:
    """A second process in the sandbox (the answer's code), as a throwaway user of its own.

    Its only link to the command is a socket pair: its fd 3, the command's fd 5. It never has the
    command's result fd (3) or nonce (4), cannot read the command's folder, and starts only once
    the command has made itself non-dumpable (fd 6 of the command: write a byte, or close it)
    when `wait_ready`. With `shared_work` the command works in the peer's working folder.
    """

    files: dict[str, str]
    argv: list[str]
    channel: str = "stream"
    """"stream" or "seqpacket" (for passing fds)."""
    wait_ready: bool = False
    shared_work: bool = False


def run(files: dict[str, str], argv: list[str], *, limits: Limits, allow_network: bool = False,
        stdin: str | None = None, expose: tuple[str, ...] = (), plain_program: str | None = None,
        peer: Peer | None = None, env: dict[str, str] | None = None) -> RunResult:
    """Run `argv` (argv[0] an absolute path) in a fresh sandbox holding `files` in its working folder.

    `expose` names folders outside the system ones that the command needs (an interpreter's
    prefix); `stdin` names one of `files` to read as standard input; `plain_program` replaces
    argv[0] in plain mode when the throwaway user cannot reach argv[0] (nothing is exposed there).
    `peer` runs beside the command (see Peer); "{own}" in `argv` and `env` (extra variables for
    the command), and in the peer's argv, stands for the folder that holds that side's files.
    """
    if _unavailable is not None and not allow_network:
        return RunResult(refused=_refusal(_unavailable))
    if _unavailable is None:
        result = _run_once(files, argv, limits, stdin, expose, "full", peer, env)
        if result.refused is None or not allow_network:
            return result
    if os.geteuid() == 0 and not reachable(argv[0]):
        if plain_program is None or not reachable(plain_program):
            return RunResult(failure=f"{argv[0]} cannot be run by an unprivileged user, and without "
                                     "namespaces it cannot be shown to one")
        if peer is not None and peer.argv[0] == argv[0]:
            peer = dataclasses.replace(peer, argv=[plain_program, *peer.argv[1:]])
        argv = [plain_program, *argv[1:]]
    return _run_once(files, argv, limits, stdin, expose, "plain", peer, env)


def reachable(path: str) -> bool:
    """Whether any user may execute `path`: every folder above it searchable, the file executable by others."""
    real = Path(os.path.realpath(path))
    try:
        return all(p.stat().st_mode & 0o001 for p in [real, *real.parents])
    except OSError:
        return False


def kernel_allows_namespaces() -> bool:
    """Whether this machine lets us make the namespaces the sandbox needs (a probe, separate from the launcher)."""
    flags = 0x40000000 | 0x20000000 | 0x00020000 | (0 if os.geteuid() == 0 else 0x10000000)
    probe = f"import ctypes, os; os._exit(0 if ctypes.CDLL(None).unshare({flags}) == 0 else 1)"
    try:
        return subprocess.run([sys.executable, "-I", "-S", "-c", probe], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _refusal(reason: str) -> str:
    return (f"not run: this machine gives no network isolation ({reason}); "
            "pass --allow-network to run it anyway")


def _run_once(files: dict[str, str], argv: list[str], limits: Limits, stdin: str | None,
              expose: tuple[str, ...], mode: str, peer: Peer | None, env: dict[str, str] | None) -> RunResult:
    """One launch in `mode` ("full" or "plain")."""
    global _unavailable
    staging_area.remove_stale()
    root_user = os.geteuid() == 0
    uids = _pick_uids(2 if peer else 1) if root_user else [None, None]
    nonce = secrets.token_hex(16)
    token = secrets.token_hex(8)
    staging = staging_area.make()
    group = staging_area.MemoryGroup.create(limits.memory_mb, staging.name)
    try:
        base = WORK_ROOT if mode == "full" else str(staging)
        main_dir = f"{base}/judge" if peer else f"{base}/work"
        main_work = f"{base}/work" if peer is None or peer.shared_work else main_dir
        own = (lambda text: text.replace("{own}", main_dir))
        sides = {"main": (files, [own(a) for a in argv], main_dir, main_work, uids[0])}
        if peer:
            peer_dir = f"{base}/answer" if peer.shared_work else f"{base}/work"
            sides["peer"] = (peer.files, [a.replace("{own}", peer_dir) for a in peer.argv], peer_dir, f"{base}/work",
                             uids[1])
        (staging / "root").mkdir()
        cfg = {"mode": mode, "root": str(staging / "root"), "expose": _exposures(expose),
               "limits": limits.as_dict(), "app_pid": os.getpid(), "cgroup": group.procs if group else None,
               "nproc": limits.processes + (0 if root_user else tasks_of_user(os.geteuid()))}
        for name, (side_files, side_argv, folder, work, uid) in sides.items():
            (staging / name).mkdir()
            for file_name, text in side_files.items():
                (staging / name / file_name).write_text(text, encoding="utf-8")
            side_env = {"PATH": PATH, "HOME": work, "TMPDIR": "/tmp" if mode == "full" else work,
                        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
            if name == "main":
                side_env.update({k: own(v) for k, v in (env or {}).items()})
            if mode == "plain" and not root_user:
                side_env["WORKBENCH_SANDBOX"] = token  # how leftovers are found when they share our uid
            cfg[name] = {"argv": side_argv, "env": side_env, "uid": uid, "gid": uid, "dir": folder, "work": work,
                         "files": str(staging / name),
                         "stdin": f"{folder}/{stdin}" if stdin and name == "main" else None}
        if peer:
            cfg["peer"].update(channel=peer.channel, wait_ready=peer.wait_ready)
            cfg["main"]["umask"] = 0 if peer.shared_work else 0o022  # what the tests make, the answer may change
        if mode == "plain" and root_user:
            staging.chmod(0o711)  # the throwaway users reach their folders, but cannot list ours
        (staging / "nonce").write_text(nonce)
        outcome = _launch(staging, cfg, limits, [u for u in uids if u is not None],
                          token if not root_user and mode == "plain" else None, group)
        if outcome.refused is not None:
            _unavailable = _unavailable or outcome.refused
            outcome.refused = _refusal(outcome.refused)
        outcome.results = _tagged(staging / "result", nonce, limits.file_mb << 20)
        return outcome
    finally:
        if group is not None:
            group.remove()
        staging_area.remove_tree(staging)


def _launch(staging: Path, cfg: dict, limits: Limits, uids: list[int], token: str | None,
            group: staging_area.MemoryGroup | None) -> RunResult:
    """Start the launcher, hold it to the wall clock, clean up after it, and read its report."""
    out = RunResult()
    with open(staging / "stdout", "wb") as stdout, open(staging / "stderr", "wb") as stderr, \
            open(staging / "result", "wb") as result, open(staging / "nonce", "rb") as nonce, \
            open(staging / "report", "wb") as report:
        cfg.update(result_fd=result.fileno(), nonce_fd=nonce.fileno(), report_fd=report.fileno())
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(cfg)],
            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=staging, env={"PATH": PATH},
            pass_fds=(result.fileno(), nonce.fileno(), report.fileno()), start_new_session=True)
        try:  # the launcher keeps the wall clock itself; this is the backstop should it not
            proc.wait(timeout=limits.wall_s + BACKSTOP_S)
        except subprocess.TimeoutExpired:
            out.timed_out = True
        finally:  # also on Ctrl-C in the app: nothing outlives the run
            if proc.returncode is None:
                kill_group(proc.pid)  # the launcher and init; the PID namespace dies with init
                proc.wait()
            out.duration_ms = (time.monotonic() - started) * 1000
            for uid in uids:
                kill_uid(uid)
            if token is not None:
                kill_marked(token)
            if group is not None:
                group.kill_all()
                out.memory_peak_mb = group.peak_mb()
    events = _events(staging / "report")
    out.timed_out = out.timed_out or "timeout" in events
    limit = limits.output_kb * 1024
    out.stdout = excerpt(staging / "stdout", limit)
    out.stderr = excerpt(staging / "stderr", limit)
    started_event = events.get("started", {})
    out.isolated_network = bool(started_event.get("isolated_network"))
    if "unavailable" in events:
        out.refused = events["unavailable"].get("reason", "namespaces unavailable")
    elif "failed" in events:
        out.failure = events["failed"].get("reason")
    if "exit" in events and events["exit"].get("status") is not None:
        out.status = os.waitstatus_to_exitcode(events["exit"]["status"])
        cpu = float(events["exit"].get("cpu_s") or 0)
        peer = events["exit"].get("peer_status")
        out.peer_status = os.waitstatus_to_exitcode(peer) if peer is not None else None
        out.cpu_limited = any(status == -signal.SIGXCPU or (status == -signal.SIGKILL and used >= limits.cpu_s - 0.05)
                              for status, used in ((out.status, cpu), (out.peer_status,
                                                                       float(events["exit"].get("peer_cpu_s") or 0))))
        out.output_limited = out.status == -signal.SIGXFSZ or any(
            (staging / name).stat().st_size >= limits.file_mb * 1024 * 1024 for name in ("stdout", "stderr"))
    elif not out.timed_out and out.refused is None and out.failure is None:
        out.failure = f"the sandbox ended unexpectedly (launcher status {proc.returncode})"
    return out


def _exposures(paths: tuple[str, ...]) -> list[str]:
    """Of `paths`, the real folders that the system folders do not already show."""
    found = []
    for path in paths:
        real = os.path.realpath(path)
        if os.path.isdir(real) and not any(real == d or real.startswith(d + "/") for d in SYSTEM_DIRS):
            found.append(real)
    return found


def _pick_uids(count: int) -> list[int]:
    """`count` different uids with no passwd entry and no process, used for one run only."""
    found: list[int] = []
    while len(found) < count:
        uid = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in found and not pids_of_uid(uid):
                found.append(uid)
    return found


def _events(path: Path) -> dict[str, dict]:
    """The launcher's report, by event name (the first of each)."""
    events: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.setdefault(event["event"], event)
    return events


def _tagged(path: Path, nonce: str, limit: int = 1 << 20) -> list[str]:
    """Result lines that start with the nonce, without it (at most `limit` bytes are read: the file-size limit)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max(limit, 1 << 20))
    except OSError:
        return []
    prefix = nonce + " "
    return [line[len(prefix):] for line in data.decode("utf-8", "replace").splitlines() if line.startswith(prefix)]


def excerpt(path: Path, limit: int) -> str:
    """At most `limit` bytes of a file as text: all of it, or its head and tail around a note."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size <= limit:
                return f.read(limit).decode("utf-8", "replace")
            head = f.read(limit // 2)
            f.seek(size - (limit - limit // 2))
            tail = f.read()
    except OSError:
        return ""
    return (head.decode("utf-8", "replace") + f"\n[… {size - limit} bytes left out …]\n"
            + tail.decode("utf-8", "replace"))

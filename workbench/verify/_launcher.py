"""Sandbox launcher: run as a script (`python -I -S _launcher.py CONFIG`), never imported by the app.

It starts as the app's user (root or not), builds the sandbox and runs one command in it:

- "full" mode: new mount, network, PID, IPC and UTS namespaces (plus a user namespace when not
  root). The command sees a new root made of read-only binds of the system folders (/usr, /etc,
  /lib...), a few device nodes, its own /proc, and private tmpfs mounts at /tmp (its working
  folder is /tmp/work) and /dev/shm; nothing else of the machine (no /home, /root, /run, /var,
  the project). An init process (PID 1 of the namespace) starts the command and exits when it
  does, and the kernel then kills everything left in the namespace.
- "plain" mode (only when the app allows running without network isolation): no namespaces;
  only the unprivileged user (when root), the limits and the scrubbed environment.

Either way the command runs in a session of its own, as a throwaway uid/gid when started as
root, with no new privileges, under rlimits, with the environment it is given.

Events go to the report fd as JSON lines: `started`, `unavailable` (namespaces could not be
set up; nothing ran) and `exit` (the command's wait status and CPU time).
"""

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
_OPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
              "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""What the command may see of the machine, read-only; the interpreter's own folder is added."""
DEVICES = ("null", "zero", "full", "random", "urandom")
WORK = "/tmp/work"
"""The command's working folder (and HOME) inside the sandbox."""
HIGH_FD = 200

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _call(result: int, what: str) -> None:
    """Raise OSError naming `what` when a libc call failed."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    """mount(2), bytes in, OSError out."""
    enc = (lambda s: s.encode() if s is not None else None)
    _call(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _report(cfg: dict, **event) -> None:
    """One JSON line to the app."""
    try:
        os.write(cfg["report_fd"], (json.dumps(event) + "\n").encode())
    except OSError:
        pass


def _unshare(cfg: dict) -> None:
    """New namespaces; without root, inside a new user namespace that maps only our own ids."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        _call(_libc.unshare(flags), "unshare")
        return
    uid, gid = os.geteuid(), os.getegid()
    _call(_libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _mountinfo() -> list[tuple[str, set[str]]]:
    """(mount point, per-mount options) of every mount we can see."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040 is a space
            out.append((point, set(fields[5].split(","))))
    return out


def _bind(source: str, target: str) -> None:
    """Bind `source` (a folder) at `target` in the new root, creating the mount point."""
    os.makedirs(target, exist_ok=True)
    _mount(source, target, None, MS_BIND | MS_REC)


def _build_root(cfg: dict) -> None:
    """The sandbox's file system under cfg['root']: read-only system folders, private /tmp and /dev/shm."""
    root = cfg["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind(path, root + path)
    # The private /tmp first: an exposed folder may live under /tmp (a virtualenv made there), and is
    # then bound inside it (read-only, like every mount but /tmp itself and /dev/shm), not hidden by it.
    tmp_mb = max(16, cfg["limits"]["file_mb"] * 4)
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,nr_inodes=16384,mode=1777")
    for path in cfg["expose"]:
        if not os.path.exists(root + path):
            _bind(path, root + path)
    os.makedirs(root + "/dev/shm")
    for name in DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        _mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,nr_inodes=1024,mode=1777")
    os.makedirs(root + "/proc")
    _stage_sides(cfg, root)  # before the chroot, while the app's staging folder is in sight
    writable = (root + "/tmp", root + "/dev/shm")
    for point, opts in _mountinfo():
        if (point == root or point.startswith(root + "/")) and point not in writable:
            flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
            for opt in opts:
                flags |= _OPT_FLAGS.get(opt, 0)
            _mount(None, point, None, flags)
    socket.sethostname("sandbox")


def _stage_files(src: str, folder: str, side: dict) -> None:
    """Copy a side's files into its own folder, owned by that side's user (the other side cannot read them)."""
    owned = side.get("uid") is not None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name in os.listdir(src):
        shutil.copyfile(os.path.join(src, name), os.path.join(folder, name))
        os.chmod(os.path.join(folder, name), 0o700 if owned else 0o755)
        if owned:
            os.chown(os.path.join(folder, name), side["uid"], side["gid"])
    if owned:
        os.chown(folder, side["uid"], side["gid"])


def _stage_sides(cfg: dict, root: str) -> None:
    """Each side's files in its folder under `root`; a working folder the two share is world-writable."""
    for side in [cfg["main"]] + ([cfg["peer"]] if cfg.get("peer") else []):
        _stage_files(side["files"], root + side["dir"], side)
        if side["work"] != side["dir"]:
            os.makedirs(root + side["work"], exist_ok=True)
            os.chmod(root + side["work"], 0o777)  # not sticky: the answer may rename what the tests made


def _limit(cfg: dict) -> None:
    """rlimits for this process and everything it starts."""
    lim = cfg["limits"]
    mb = 1024 * 1024
    for res, value in ((resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1)),
                       (resource.RLIMIT_AS, (lim["memory_mb"] * mb,) * 2),
                       (resource.RLIMIT_FSIZE, (lim["file_mb"] * mb,) * 2),
                       (resource.RLIMIT_NOFILE, (max(lim["open_files"], 8),) * 2),
                       (resource.RLIMIT_NPROC, (cfg["nproc"],) * 2),
                       (resource.RLIMIT_CORE, (0, 0)),
                       (resource.RLIMIT_MEMLOCK, (0, 0))):
        resource.setrlimit(res, value)


def _drop_privileges(side: dict) -> None:
    """Become the side's throwaway user (when started as root): another uid cannot ptrace it.

    (PR_SET_DUMPABLE here would not last: execve resets it. The Python tests' process sets it itself,
    after exec, in _py_runner.)
    """
    if side.get("uid") is not None:
        os.setgroups([])
        os.setresgid(side["gid"], side["gid"], side["gid"])
        os.setresuid(side["uid"], side["uid"], side["uid"])


def _exec_side(cfg: dict, side: dict, fds: dict[int, int]) -> None:
    """In a forked child of init: own session, limits, its user, fds 0-2 and `fds` in place, exec."""
    try:
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)  # Python ignores some; an exec keeps what is ignored
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        _limit(cfg)
        os.umask(side.get("umask", 0o022))
        _drop_privileges(side)
        os.chdir(side["work"])
        os.dup2(os.open(side.get("stdin") or os.devnull, os.O_RDONLY), 0)
        for target, source in sorted(fds.items()):
            os.dup2(source, target)  # sources are all at HIGH_FD and above, so none is overwritten
        os.closerange(max(fds, default=2) + 1, 1 << 16)
        os.execve(side["argv"][0], side["argv"], side["env"])
    except BaseException as exc:  # noqa: BLE001 - anything here means the command never started
        try:
            os.write(2, f"sandbox: cannot start {side['argv'][0]}: {exc}\n".encode())
        finally:
            os._exit(127)


def _high(fd: int, at: int) -> int:
    """Move `fd` to `at` (out of the way of fds 0-7 of the children)."""
    os.dup2(fd, at)
    os.close(fd)
    return at


def _supervise(cfg: dict, full: bool) -> None:
    """Init of the sandbox: start the command (and its peer), reap, report their statuses."""
    if full:
        _mount("proc", cfg["root"] + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.chroot(cfg["root"])
        os.chdir("/")
    _call(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _call(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")  # no ptrace of init or its fds
    main, peer = cfg["main"], cfg.get("peer")
    fds = {3: HIGH_FD, 4: HIGH_FD + 1}
    if peer:  # the only link between the two: a socket pair (the peer never gets fds 3 and 4)
        kind = socket.SOCK_SEQPACKET if peer.get("channel") == "seqpacket" else socket.SOCK_STREAM
        ours, theirs = socket.socketpair(socket.AF_UNIX, kind)
        fds[5] = _high(ours.detach(), HIGH_FD + 3)
        peer_sock = _high(theirs.detach(), HIGH_FD + 4)
        ready_r, ready_w = os.pipe()
        if peer.get("wait_ready"):
            fds[6] = _high(ready_w, HIGH_FD + 5)
    pid = os.fork()
    if pid == 0:
        _exec_side(cfg, main, fds)
    statuses: dict[int, tuple] = {}
    peer_pid = None
    if peer:
        os.close(fds[5])
        os.close(fds.get(6, ready_w))
        os.read(ready_r, 1)  # the command is out of the peer's reach (non-dumpable) before the peer starts
        os.close(ready_r)
        peer_pid = os.fork()
        if peer_pid == 0:
            os.close(HIGH_FD)  # the result channel and the nonce stay with init and the command
            os.close(HIGH_FD + 1)
            _exec_side(cfg, peer, {3: peer_sock})
        os.close(peer_sock)
    while pid not in statuses:
        try:
            got, wstatus, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        statuses[got] = (wstatus, usage.ru_utime + usage.ru_stime)
    if peer_pid is not None and peer_pid not in statuses:
        # The command ended first (or was reaped first: wait4(-1) takes any zombie). The peer's own
        # status says why it went (SIGXCPU: the answer hit the CPU limit, a timeout, not a crash):
        # reap it too. A zombie keeps its status through the kill; a live peer is stopped by it.
        try:
            os.kill(peer_pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            _got, wstatus, usage = os.wait4(peer_pid, 0)
            statuses[peer_pid] = (wstatus, usage.ru_utime + usage.ru_stime)
        except ChildProcessError:
            pass
    status, cpu = statuses.get(pid, (None, 0.0))
    peer_status, peer_cpu = statuses.get(peer_pid, (None, 0.0))
    _report(cfg, event="exit", status=status, cpu_s=cpu, peer_status=peer_status, peer_cpu_s=peer_cpu)
    os._exit(0)


def _watch_parent(cfg: dict) -> None:
    """Die with the app: SIGKILL when it goes (and at once if it already has)."""
    _call(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    if os.getppid() != cfg["app_pid"]:
        os._exit(96)


def _wall_clock(cfg: dict, pid: int) -> None:
    """Kill `pid` (init: the namespace dies with it) at the wall-clock limit, even if the app is gone."""
    def expire(_sig, _frame):
        _report(cfg, event="timeout")
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, cfg["limits"]["wall_s"])


def main() -> None:
    """Read the config, set up the sandbox and run the command; the exit status is ours, not the command's."""
    cfg = json.loads(sys.argv[1])
    _watch_parent(cfg)
    os.umask(0o022)  # the folders made here must be searchable by the throwaway user, whatever the app's umask
    for i, fd in enumerate((cfg["result_fd"], cfg["nonce_fd"], cfg["report_fd"])):
        os.dup2(fd, HIGH_FD + i)
        os.close(fd)
    cfg["report_fd"] = HIGH_FD + 2
    if cfg.get("cgroup"):
        with open(cfg["cgroup"], "w") as f:  # this process and all it starts count against one memory limit
            f.write(str(os.getpid()))
    if cfg["mode"] == "plain":
        _report(cfg, event="started", isolated_network=False, mode="plain")
        try:
            _stage_sides(cfg, "/")
            _wall_clock(cfg, os.getpid())
            _supervise(cfg, full=False)
        except BaseException as exc:  # noqa: BLE001
            _report(cfg, event="failed", reason=f"{type(exc).__name__}: {exc}")
            os._exit(98)
    try:
        _unshare(cfg)
        _build_root(cfg)
    except OSError as exc:
        _report(cfg, event="unavailable", reason=str(exc))
        os._exit(97)
    _report(cfg, event="started", isolated_network=True, mode="full")
    pid = os.fork()  # the first child in the new PID namespace: its init
    if pid == 0:
        try:  # init dies with the launcher (and the namespace with it)
            _call(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
            _supervise(cfg, full=True)
        except BaseException as exc:  # noqa: BLE001
            _report(cfg, event="failed", reason=f"{type(exc).__name__}: {exc}")
            os._exit(98)
    _wall_clock(cfg, pid)
    while True:
        try:
            os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    os._exit(0)


if __name__ == "__main__":
    main()

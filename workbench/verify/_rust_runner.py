"""Runs inside the sandbox as the answer's throwaway user (never imported by the app): compiles main.rs
with rustc and runs its tests, or the program.

Usage: python -I -u _rust_runner.py   (in a folder holding main.rs and _rust.json; see rust.py)

First, before anything of the answer's runs: the nonce (fd 4) is read and closed, the process
becomes non-dumpable (no ptrace, no /proc/PID/fd for the same uid) and a child subreaper (what a
test detaches comes back to it, to be killed). Results go to fd 3, one line each, prefixed with
the nonce: `compiled SECONDS`, or `compile-error FIRST_ERROR`, `compile-timeout`,
`compile-killed WHY`, `no-rustc WHY`; then per test `pass PATH`, `fail PATH [WHY]`,
`timeout PATH cpu|wall`, and `done`. Without tests, the program runs with this process's standard
output and error and this process ends as it did (its status, or its signal raised again), or
sends `timeout wall`. Every child starts without fds 3 and 4; the tests run from a sealed copy of
the compiled binary (a memfd), so no test can change what the next one runs.
"""

import ctypes
import fcntl
import json
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import time

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
KEEP = 8192
"""Bytes of a test's output kept from its start, and again from its end, to show and to read libtest's summary."""
NONCE = ""


def _send(line):
    os.write(3, ("%s %s\n" % (NONCE, line)).encode("utf-8", "replace"))


def _finish(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _start():
    global NONCE
    prctl = ctypes.CDLL(None).prctl
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        _finish(2)
    NONCE = os.read(4, 256).decode().strip()
    os.close(4)
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    with open("_rust.json", encoding="utf-8") as f:
        return json.load(f)


def _limiter(cfg):
    """rlimits for an answer's process: the answer's own, lower than the run's (which leave room for rustc)."""
    mb = 1024 * 1024

    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (cfg["cpu_s"], cfg["cpu_s"] + 1))
        resource.setrlimit(resource.RLIMIT_AS, (cfg["memory_mb"] * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["file_mb"] * mb,) * 2)
    return apply


def _children():
    """Processes whose parent is this one (a test's leftovers come back here: we are a subreaper)."""
    me, found = str(os.getpid()), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == me:
            found.append(int(pid))
    return found


def _sweep(pgid):
    """Kill a finished process's group and everything it left, and reap them."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        kids = _children()
        if not kids:
            return
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.01)


def _reap(pid, block):
    """(wait status, CPU seconds) of `pid` if it has ended (or, with `block`, once it has), else None."""
    try:
        got, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # reaped already (never by design): read it as a failure, not a pass
        return (255 << 8, 0.0)
    if got == 0:
        return None
    return status, usage.ru_utime + usage.ru_stime


def _spawn(argv, cfg, limited, **kwargs):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, close_fds=True, start_new_session=True,
                            preexec_fn=_limiter(cfg) if limited else None, **kwargs)


def _watch(proc, deadline, cap):
    """Read a child's piped output until it ends: (status, cpu_s, head, tail, size, why stopped or None)."""
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    head, tail, size, ended, stop, eof = bytearray(), bytearray(), 0, None, None, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            stop = stop or (None if ended is not None else "wall")
            break
        if eof:
            time.sleep(min(left, 0.01))
        elif sel.select(min(left, 0.05)):
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                eof = True
            elif chunk:
                size += len(chunk)
                take = max(0, KEEP - len(head))
                head += chunk[:take]
                tail = (tail + chunk[take:])[-KEEP:]
                if size > cap:
                    stop = "output"
                    break
        if ended is None:
            ended = _reap(proc.pid, False)
            if ended is not None:  # what it left behind may hold the pipe open: it goes now
                _sweep(proc.pid)
                deadline = min(deadline, time.monotonic() + 1)
        if ended is not None and eof:
            break
    sel.close()
    if ended is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        ended = _reap(proc.pid, True)
    _sweep(proc.pid)
    proc.returncode = 0  # reaped here, not by Popen
    proc.stdout.close()
    return ended[0], ended[1], bytes(head), bytes(tail), size, stop


def _signal_name(status):
    try:
        return signal.Signals(status).name
    except ValueError:
        return "signal %d" % status


def _compile(cfg, test):
    """rustc on main.rs, held to its own time budget; the binary's path, or None (reported)."""
    out = "./answer_tests" if test else "./answer"
    argv = [cfg["rustc"], "--sysroot", cfg["sysroot"], "--edition", cfg["edition"], "--color", "never",
            "--crate-name", "answer"] + (["--test"] if test else []) + ["main.rs", "-o", out]
    started = time.monotonic()
    try:
        proc = _spawn(argv, cfg, False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        _send("no-rustc %s" % " ".join(str(exc).split())[:200])
        return None
    status, _cpu, head, tail, size, stop = _watch(proc, started + cfg["compile_s"], 4 * 1024 * 1024)
    text = head.decode("utf-8", "replace")
    if size > len(head):
        text += "\n[... %d bytes left out ...]\n" % (size - len(head) - len(tail)) + tail.decode("utf-8", "replace")
    if stop == "wall" or (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU):
        _send("compile-timeout")
    elif os.WIFSIGNALED(status) and stop is None:
        _send("compile-killed killed by %s" % _signal_name(os.WTERMSIG(status)))
    elif stop or os.WEXITSTATUS(status) != 0:
        errors = [ln for ln in text.splitlines() if ln.startswith("error") and not ln.startswith("error: aborting")]
        where = re.search(r"^\s*--> (main\.rs:\d+)", text, re.M)
        count = re.search(r"^error: aborting due to (\d+) previous errors", text, re.M)
        first = errors[0] if errors else "rustc exited with status %d" % os.WEXITSTATUS(status)
        place = [where.group(1)] if where else []
        place += ["%s errors in all" % count.group(1)] if count else []
        _send("compile-error %s%s" % (" ".join(first.split())[:200], " (%s)" % "; ".join(place) if place else ""))
    else:
        _send("compiled %.2f" % (time.monotonic() - started))
        return out
    sys.stderr.write(text)
    return None


def _seal(path):
    """The compiled binary copied into a sealed memory file: what every test runs, and no test can change.

    (executable, fds to pass); the file itself where this kernel or Python has no memfd sealing.
    """
    try:
        fd = os.memfd_create("answer_tests", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        _copy(path, fd)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    except (AttributeError, OSError):
        return os.path.abspath(path), ()
    return "/proc/self/fd/%d" % fd, (fd,)


def _copy(path, fd):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]


def _test(binary, name, cfg, deadline):
    """Run one test in a process of its own and report it: pass, fail, timeout, or `timeout wall` (all time spent)."""
    proc = _spawn(["answer_tests", "--exact", name, "--test-threads=1", "--color", "never"], cfg, True,
                  executable=binary[0], pass_fds=binary[1],
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    status, cpu, head, tail, size, stop = _watch(proc, deadline, cfg["file_mb"] * 1024 * 1024)
    signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    if stop == "wall":
        kind, why = "timeout", "wall"
    elif stop == "output":
        kind, why = "fail", "stopped for writing more than %d MB" % cfg["file_mb"]
    elif signalled == signal.SIGXCPU or (signalled == signal.SIGKILL and cpu >= cfg["cpu_s"] - 0.05):
        kind, why = "timeout", "cpu"
    elif signalled is not None:
        kind, why = "fail", "killed by %s" % _signal_name(signalled)
    elif os.WEXITSTATUS(status) == 0:
        summary = re.search(rb"^test result: ok\. 1 passed; 0 failed;", head + b"\n" + tail, re.M)
        kind, why = ("pass", "") if summary else ("fail", "exited with status 0 before the test finished")
    else:
        kind, why = "fail", ""
    if kind == "pass":  # what libtest shows of a passing test (its own output is captured)
        out = b"test %s ... ok\n" % name.encode()
    else:
        out = head + (b"\n[... %d bytes left out ...]\n" % (size - len(head) - len(tail)) + tail
                      if size > len(head) + len(tail) else tail)
        said = {"wall": "stopped at the wall-clock limit", "cpu": "stopped at the CPU-time limit"}.get(why, why)
        said = said or "exit status %d" % os.WEXITSTATUS(status)
        out += b"" if out.endswith(b"\n") or not out else b"\n"
        out += ("[workbench] %s: %s (%s)\n\n" % (name, "failed" if kind == "fail" else "timeout", said)).encode()
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    _send(" ".join(filter(None, [kind, name, why])))
    return "timeout wall" if why == "wall" else kind


def _run(binary, cfg):
    """The program itself, on our standard output and error; we end as it ended."""
    proc = _spawn([binary], cfg, True)
    deadline = time.monotonic() + cfg["wall_s"]
    ended = None
    while ended is None and time.monotonic() < deadline:
        ended = _reap(proc.pid, False)
        if ended is None:
            time.sleep(0.01)
    if ended is None:
        _sweep(proc.pid)
        _send("timeout wall")
        _finish(1)
    _sweep(proc.pid)
    status, cpu = ended
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and cpu >= cfg["cpu_s"] - 0.05:
            sig = signal.SIGXCPU  # killed at the hard CPU limit: the run reads as CPU-limited
        sys.stdout.flush()
        sys.stderr.flush()
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        time.sleep(1)
        _finish(128 + sig)
    _finish(os.WEXITSTATUS(status))


def main():
    cfg = _start()
    binary = _compile(cfg, test=not cfg["run"])
    if binary is None:
        _finish(1)
    if cfg["run"]:
        _run(binary, cfg)
    binary = _seal(binary)
    deadline = time.monotonic() + cfg["wall_s"]
    passed = 0
    for name in cfg["tests"]:
        kind = _test(binary, name, cfg, deadline)
        passed += kind == "pass"
        if kind == "timeout wall":
            break
    _send("done")
    _finish(0 if passed == len(cfg["tests"]) else 1)


if __name__ == "__main__":
    main()

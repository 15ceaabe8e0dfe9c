"""The sandbox against hostile code: each attack ends within its limits, is reported as the
failure it is, and leaves the machine and the test process as they were."""

from __future__ import annotations

import ast
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from answers import MERGE_INTERVALS

from workbench.prompts import parse
from workbench.verify import Limits, Verdict, sandbox, verify

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
SANDBOX_UIDS = range(*sandbox.UID_RANGE)
MERGE = MERGE_INTERVALS

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not sandbox.kernel_allows_namespaces(),
                                reason="this machine allows no network/mount/PID namespaces (the verdict would be "
                                       "'refused'; see test_without_network_isolation_it_refuses_unless_allowed)")


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """After every test: no process of any throwaway sandbox uid is alive."""
    yield
    deadline = time.monotonic() + 2
    while sandbox.pids_of_uid(SANDBOX_UIDS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.pids_of_uid(SANDBOX_UIDS) == []


def run_python(code: str, **limits) -> Verdict:
    """Run `code` as an answer to a prompt without tests ("run it")."""
    return verify(f"```python\n{code}\n```", None, "python", limits=Limits(**limits))


def test_a_plain_program_runs_isolated():
    verdict = run_python("import os; print('hello', os.getcwd(), os.environ['HOME'])")
    assert verdict.outcome == "no-tests" and verdict.exit_status == 0
    assert verdict.stdout == "hello /tmp/work /tmp/work\n"
    assert verdict.isolated_network


def test_it_sees_only_the_system_folders_and_its_own():
    here = Path(__file__).resolve()
    code = (f"import os\nprint(sorted(os.listdir('/')))\nprint(os.path.exists({str(here)!r}), "
            "len([p for p in os.listdir('/proc') if p.isdigit()]))")
    verdict = run_python(code)
    shown = ast.literal_eval(verdict.stdout.splitlines()[0])
    assert set(shown) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr", "root"}
    assert here.parts[1] not in shown or here.parts[1] in ("usr", "root", "tmp")
    assert verdict.stdout.splitlines()[1] == "False 2"  # no project; in its /proc only itself and its init


def test_an_infinite_loop_is_stopped_by_the_cpu_limit():
    verdict = run_python("while True:\n    pass", cpu_s=1, wall_s=10)
    assert verdict.outcome == "timeout"
    assert "CPU-time limit" in verdict.note
    assert verdict.duration_ms < 4000


def test_a_sleeping_loop_is_stopped_by_the_wall_clock():
    started = time.monotonic()
    verdict = run_python("import time\nwhile True:\n    time.sleep(1)", wall_s=1.5)
    assert verdict.outcome == "timeout" and "wall-clock limit (1.5 s)" in verdict.note
    assert verdict.exit_status is None
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("language, code", [
    ("python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"),
    ("bash", ":(){ :|:& };:\n:\nwait"),
])
def test_a_fork_bomb_ends_and_leaves_nothing(language, code):
    started = time.monotonic()
    verdict = verify(f"```{language}\n{code}\n```", None, language, limits=Limits(wall_s=3, cpu_s=2))
    if language == "python":  # it spins until the wall clock; bash's retries may also give up first
        assert verdict.outcome == "timeout"
    assert verdict.outcome in ("timeout", "error", "no-tests")
    assert time.monotonic() - started < 10
    assert sandbox.pids_of_uid(SANDBOX_UIDS) == []  # every process of the throwaway uid is gone
    assert subprocess.run(["true"]).returncode == 0  # and this machine can still start processes


def test_allocating_50_gb_fails_and_is_reported():
    verdict = run_python("block = bytearray(50 * 1024 ** 3)\nprint('allocated', len(block))")
    assert verdict.outcome == "no-tests" and verdict.exit_status == 1
    assert "MemoryError" in verdict.stderr and "allocated" not in verdict.stdout
    assert verdict.duration_ms < 5000
    answer = f"```python\n{MERGE}\nhog = bytearray(50 * 1024 ** 3)\n```"
    as_answer = verify(answer, parse(PROMPTS / "merge-intervals.md"))
    assert (as_answer.outcome, as_answer.passed) == ("error", 0)
    assert "MemoryError" in as_answer.note


@pytest.mark.parametrize("language, code", [
    ("python", "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(1 << 20):\n    sys.stdout.write(line)"),
    ("bash", "yes 'a long line of output that goes on and on'"),
])
def test_printing_1_gb_is_cut_off_and_bounded(language, code):
    verdict = verify(f"```{language}\n{code}\n```", None, language, limits=Limits(wall_s=15))
    assert verdict.outcome == "error" and "output limit" in verdict.note
    assert len(verdict.stdout.encode()) <= 64 * 1024 + 200
    assert "bytes left out" in verdict.stdout
    assert verdict.duration_ms < 10000


def test_it_cannot_connect_to_a_socket_the_test_listens_on():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "    print('CONNECTED')\nexcept OSError as exc:\n    print('refused:', exc)\n")
        verdict = run_python(code)
        listener.settimeout(0.3)
        with pytest.raises(socket.timeout):
            listener.accept()  # nothing ever knocked
    assert "CONNECTED" not in verdict.stdout and "refused:" in verdict.stdout
    assert verdict.isolated_network


def test_it_cannot_write_outside_its_folder():
    token = secrets.token_hex(6)
    open_dir = Path("/var/tmp") / f"wb-open-{token}"  # world-writable, as /tmp and /var/tmp are
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    project = Path(__file__).resolve().parents[1]
    targets = [open_dir / "escape", Path(f"/tmp/wb-escape-{token}"), Path(f"/dev/shm/wb-escape-{token}"),
               Path(f"/var/tmp/wb-escape-{token}"), project / f"wb-escape-{token}",
               Path("/etc") / f"wb-escape-{token}", Path("/usr/local") / f"wb-escape-{token}"]
    code = ("import os\nfor path in %r + ['inside']:\n    try:\n        with open(path, 'w') as f:\n"
            "            f.write('x')\n        print('WROTE', path)\n    except OSError as exc:\n"
            "        print('DENIED', path, exc.strerror)\n") % [str(t) for t in targets]
    try:
        verdict = run_python(code)
        for target in targets:
            assert not target.exists(), f"the sandbox wrote {target}"
        assert f"DENIED {open_dir / 'escape'}" in verdict.stdout
        assert "WROTE inside" in verdict.stdout  # its own folder works
    finally:
        for leftover in [*open_dir.iterdir()]:
            leftover.unlink()
        open_dir.rmdir()


def test_it_cannot_read_the_parents_environment(monkeypatch):
    fake = f"sk-fake-{secrets.token_hex(12)}"
    monkeypatch.setenv("OPENAI_API_KEY", fake)
    monkeypatch.setenv("WORKBENCH_TEST_SECRET", fake)
    code = f"""
import glob, os
print(sorted(os.environ))
print(' '.join(os.environ.values()))
for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + ['/proc/{os.getpid()}/environ',
                                                                         '/proc/1/environ']:
    try:
        print(path, open(path, 'rb').read().decode(errors='replace'))
    except OSError as exc:
        print(path, exc.strerror)
"""
    verdict = run_python(code)
    assert verdict.exit_status == 0
    assert fake not in verdict.stdout + verdict.stderr
    assert "OPENAI_API_KEY" not in verdict.stdout
    assert "['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'TMPDIR']" in verdict.stdout


def test_it_cannot_kill_its_parent():
    me = os.getpid()
    code = f"""
import os, signal
for target in (os.getppid(), {me}, 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
        print('sent', target)
    except OSError as exc:
        print('could not kill', target, exc.strerror)
print('still alive')
os.killpg(0, signal.SIGKILL)
"""
    verdict = run_python(code)
    assert "still alive" in verdict.stdout
    assert verdict.outcome == "error" and verdict.note == "killed by SIGKILL"
    assert os.getpid() == me and run_python("print(1)").stdout == "1\n"  # this process and the sandbox work on


def test_a_grandchild_holding_the_output_open_does_not_hang_us():
    code = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            print('still writing', flush=True)
            time.sleep(0.2)
    os._exit(0)
print('parent done', flush=True)
"""
    started = time.monotonic()
    verdict = run_python(code)
    assert time.monotonic() - started < 4
    assert (verdict.outcome, verdict.exit_status) == ("no-tests", 0)
    assert "parent done" in verdict.stdout


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)", "raise SystemExit"])
def test_exiting_before_the_tests_is_not_a_pass(exit_call):
    verdict = verify(f"```python\n{MERGE}\n{exit_call}\n```", parse(PROMPTS / "merge-intervals.md"))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", 0, 7)
    assert "before the tests ran" in verdict.note


def test_exiting_before_the_tests_is_not_a_pass_in_javascript():
    code = "function promisePool(tasks, limit) { return Promise.resolve([]); }\nprocess.exit(0);\n"
    verdict = verify(f"```js\n{code}```", parse(PROMPTS / "js-promise-pool.md"))
    assert verdict.outcome == "fail" and verdict.passed == 0
    assert "before the tests ran" in verdict.note


def test_printing_fake_results_is_not_a_pass():
    fake = "".join(f"pass {n}\\n" for n in ("test_merge_basic_overlap", "done"))
    code = f"{MERGE}\nimport os, sys\nprint('{fake}')\nos.write(3, b'{fake}')\nsys.exit(0)"
    verdict = verify(f"```python\n{code}\n```", parse(PROMPTS / "merge-intervals.md"))
    assert (verdict.outcome, verdict.passed) == ("fail", 0)
    js = ("function promisePool() {}\nconsole.log('# tests 7\\n# pass 7\\n# fail 0\\n# cancelled 0');\n"
          "process.exit(0);\n")
    verdict = verify(f"```js\n{js}```", parse(PROMPTS / "js-promise-pool.md"))
    assert (verdict.outcome, verdict.passed) == ("fail", 0)


def test_without_network_isolation_it_refuses_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "_unavailable", "unshare: Operation not permitted (simulated)")
    refused = run_python("print('ran')")
    assert refused.outcome == "refused" and not refused.isolated_network
    assert "--allow-network" in refused.note and refused.stdout == ""
    allowed = verify(f"```python\n{MERGE}\n```", parse(PROMPTS / "merge-intervals.md"), allow_network=True)
    assert (allowed.outcome, allowed.passed) == ("pass", 7)
    assert not allowed.isolated_network and "WITHOUT network isolation" in allowed.note

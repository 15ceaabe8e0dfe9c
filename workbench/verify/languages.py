"""How each language's code and tests run in the sandbox, and how a run becomes a verdict.

The conventions are those of the prompt library's `## Tests` blocks:

- python: the tests run after the answer's code in the same module; each `test_*` function
  (and `Test*` class method) is one test.
- javascript: answer and tests concatenated into one CommonJS file run by `node`; node:test's
  TAP summary gives the counts, otherwise the exit status is the one test.
- sql: the setup (lines above `-- expected output:`), then the answer, piped into
  `sqlite3 -batch :memory:`; standard output must equal the expected lines.
- bash: the answer saved as answer.sh, the tests run there with `bash tests.sh`, printing TAP.
- rust: the tests appended to the answer's code, compiled with `rustc --test` and run one test per
  process (see rust.py).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shutil
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.verify.limits import Limits
from workbench.verify.sandbox import PATH, Peer, RunResult

HERE = Path(__file__).parent
RUNNABLE = ("python", "javascript", "sql", "bash", "rust")
_JS_PRELUDE = """{
  const wbFs = require('node:fs');
  const wbWrite = wbFs.writeSync;
  let wbNonce = '';
  try { wbNonce = wbFs.readFileSync(4, 'utf8').trim(); wbFs.closeSync(4); } catch (e) { wbNonce = ''; }
  let wbTaken = false;
  Object.defineProperty(globalThis, 'KEY', { configurable: true, enumerable: false, get() {
    delete globalThis.KEY;
    if (wbTaken) return () => {};
    wbTaken = true;
    return () => process.on('exit', (code) => { try { wbWrite(3, `${wbNonce} exit ${code}\\n`); } catch (e) { /* gone */ } });
  } });
}
"""
"""Put before the answer's code: takes the nonce before the answer runs (fd 4 is closed after) and
hands the trailer, once, the one way to report; an answer that takes it first leaves the trailer none."""
_JS_TRAILER = "\n;globalThis.KEY();\n"
"""Appended after the tests: proves the tests were reached, and reports the exit code at the very end."""
_JS_FLAGS = ("--experimental-permission", "--allow-fs-read=/tmp/*", "--allow-fs-write=/tmp/*",
             "--disable-warning=ExperimentalWarning")
"""Node's permission model: no /proc/self/mem, inspector, child processes or workers to reach the nonce with."""


class NoRunner(Exception):
    """This language (or its interpreter) is not available: the verdict is no-runner."""


class BadTests(Exception):
    """The prompt's tests block cannot be used as its language's convention says."""


@dataclass
class Judgement:
    """What a finished run means: the outcome, tests passed and total, and a note."""

    outcome: str
    passed: int
    total: int
    note: str | None = None


@dataclass
class Plan:
    """What to run in the sandbox, and how to judge it."""

    files: dict[str, str]
    argv: list[str]
    judge: Callable[[RunResult], Judgement]
    stdin: str | None = None
    expose: tuple[str, ...] = ()
    plain_program: str | None = None
    """An interpreter any user may run, for machines where argv[0] cannot be exposed (see sandbox.run)."""
    peer: Peer | None = None
    """The answer's own process beside the tests' (see sandbox.Peer)."""
    env: dict[str, str] | None = None
    """Extra environment for the command."""
    limits: Limits | None = None
    """What the run as a whole is held to, when it needs more than the answer's limits (a compiler's room)."""


def plan(language: str, code: str, tests: str | None, limits: Limits) -> Plan:
    """The plan for running `code` (and `tests`, if any) in `language`; raises NoRunner or BadTests.

    Rust's plan is `rust.plan` (it builds on this module, so it is chosen by the caller, `verify`).
    """
    if language == "python":
        return _python(code, tests, limits)
    if language == "javascript":
        return _javascript(code, tests, limits)
    if language == "sql":
        return _sql(code, tests, limits)
    if language == "bash":
        return _bash(code, tests, limits)
    raise NoRunner(f"no runner for {language}")


def _program(name: str) -> str:
    """Absolute path of a tool on the sandbox's PATH, or NoRunner."""
    found = shutil.which(name, path=PATH)
    if not found:
        raise NoRunner(f"no runner for {name} ({name} is not installed)")
    return os.path.realpath(found)


def _python_exe() -> tuple[str, tuple[str, ...]]:
    """The base interpreter (not a venv's, which only the app's user may reach) and its folders."""
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    return exe, (sys.base_prefix, os.path.dirname(exe))


def _system_python() -> str | None:
    found = shutil.which("python3", path=PATH)
    return os.path.realpath(found) if found else None


def stopped(run: RunResult, limits: Limits) -> str | None:
    """Why a run was stopped by a limit or a signal, or None if it ended by itself."""
    if run.timed_out:
        return f"stopped at the wall-clock limit ({limits.wall_s:g} s)"
    if run.cpu_limited:
        return f"stopped at the CPU-time limit ({limits.cpu_s} s)"
    if run.output_limited:
        return f"stopped for writing more than {limits.file_mb} MB (output limit)"
    if run.status is not None and run.status < 0:
        try:
            name = signal.Signals(-run.status).name
        except ValueError:
            name = f"signal {-run.status}"
        return f"killed by {name}"
    return None


def run_only(run: RunResult, limits: Limits) -> Judgement:
    """No tests: the code ran; say how it ended."""
    why = stopped(run, limits)
    if run.timed_out or run.cpu_limited:
        return Judgement("timeout", 0, 0, why)
    if why:
        return Judgement("error", 0, 0, why)
    return Judgement("no-tests", 0, 0, None if run.status == 0 else f"exited with status {run.status}")


def _run_only(limits: Limits) -> Callable[[RunResult], Judgement]:
    return lambda run: run_only(run, limits)


def python_test_names(tests: str) -> list[str]:
    """Test functions (`test*`) and methods of `Test*` classes at the top of a tests block, in order."""
    from workbench.verify.extract import AST_LOCK

    try:
        with AST_LOCK:
            tree = ast.parse(tests)
    except SyntaxError as exc:
        raise BadTests(f"the prompt's Python tests do not parse: line {exc.lineno}: {exc.msg}") from None
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names += [f"{node.name}.{m.name}" for m in node.body
                      if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name.startswith("test")]
    return names


def _python(code: str, tests: str | None, limits: Limits) -> Plan:
    exe, prefix = _python_exe()
    if tests is None:
        return Plan({"answer.py": code}, [exe, "-I", "-u", "answer.py"], _run_only(limits), expose=prefix,
                    plain_program=_system_python())
    names = python_test_names(tests)
    rpc = (HERE / "_py_rpc.py").read_text(encoding="utf-8")
    files = {"tests.py": tests, "_runner.py": (HERE / "_py_runner.py").read_text(encoding="utf-8"), "_rpc.py": rpc}
    answer = Peer({"answer.py": code, "_answer.py": (HERE / "_py_answer.py").read_text(encoding="utf-8"),
                   "_rpc.py": rpc}, [exe, "-E", "-s", "-u", "_answer.py"], wait_ready=True)

    def judge(run: RunResult) -> Judgement:
        total = len(names) or 1
        lines = run.results
        passed = len({ln[5:] for ln in lines if ln.startswith("pass ")} & set(names)) if names else 0
        failed = [ln.split(" ", 1)[1] for ln in lines if ln.startswith(("fail ", "gone "))]
        gone = next((ln[5:] for ln in lines if ln.startswith("gone ")), None)
        load = next((ln.split()[1:] for ln in lines if ln.startswith("load-error ")), None)
        done = "done" in lines
        when = "finished" if passed or failed else "ran"
        if run.timed_out or run.cpu_limited:
            return Judgement("timeout", passed, total, stopped(run, limits))
        if run.output_limited and not done:
            return Judgement("error", passed, total, f"{stopped(run, limits)} before the tests {when}")
        if load:
            where, kind = (load + ["?", "?"])[:2]
            what = "the code" if where == "answer" else "the tests"
            return Judgement("error", 0, total, f"{what} raised {kind} before the tests ran")
        if "load-exit" in lines:
            return Judgement("fail", 0, total, f"the code exited{_how(run.peer_status)} before the tests ran")
        if not done:
            why = stopped(run, limits)
            if why:
                return Judgement("error", passed, total, f"{why} before the tests {when}")
            return Judgement("fail", passed, total, f"the tests exited (status {run.status}) before they {when}")
        if gone is not None:
            return Judgement("fail", passed, total, f"the code exited{_how(run.peer_status)} during {gone}")
        if not names:
            ok = run.status == 0
            return Judgement("pass" if ok else "fail", int(ok), 1)
        if passed == total and run.status == 0:
            return Judgement("pass", passed, total)
        return Judgement("fail", passed, total, _failed_note(failed, total))

    return Plan(files, [exe, "-E", "-s", "-u", "_runner.py", *names], judge, expose=prefix,
                plain_program=_system_python(), peer=answer)


def _how(status: int | None) -> str:
    """How the answer's process ended, for a note."""
    if status is None:
        return ""
    if status < 0:
        try:
            return f" (killed by {signal.Signals(-status).name})"
        except ValueError:
            return f" (signal {-status})"
    return f" (status {status})"


def _failed_note(failed: list[str], total: int) -> str:
    shown = ", ".join(failed[:5]) + (", …" if len(failed) > 5 else "")
    return f"{len(failed)} of {total} tests failed: {shown}" if failed else "the tests did not all pass"


def _summary(stdout: str) -> dict[str, int]:
    """The last node:test TAP summary counts in standard output."""
    counts: dict[str, int] = {}
    for key, value in re.findall(r"^# (tests|pass|fail|cancelled) (\d+)\s*$", stdout, re.M):
        counts[key] = int(value)
    return counts


def _javascript(code: str, tests: str | None, limits: Limits) -> Plan:
    node = _program("node")
    prefix = (os.path.dirname(os.path.dirname(node)),)
    heap = f"--max-old-space-size={max(64, limits.memory_mb // 2)}"
    if tests is None:
        return Plan({"answer.js": code}, [node, heap, "answer.js"], _run_only(limits), expose=prefix)
    uses_node_test = "node:test" in tests
    key = f"wb{secrets.token_hex(8)}"
    main = (f"{_JS_PRELUDE.replace('KEY', key)};\n{code.rstrip()}\n;\n{tests.rstrip()}\n"
            f"{_JS_TRAILER.replace('KEY', key)}")

    def judge(run: RunResult) -> Judgement:
        exits = [ln for ln in run.results if ln.startswith("exit ")]
        counts = _summary(run.stdout) if uses_node_test else {}
        total = counts.get("tests", 0) or 1
        passed = counts.get("pass", 0)
        if run.timed_out or run.cpu_limited:
            return Judgement("timeout", passed, total, stopped(run, limits))
        if not exits:
            why = stopped(run, limits)
            if run.status == 0:
                return Judgement("fail", 0, total, "the code exited (status 0) before the tests ran")
            return Judgement("error", 0, total, f"{why or f'exit status {run.status}'} before the tests ran")
        if not uses_node_test:
            ok = run.status == 0
            return Judgement("pass" if ok else "fail", int(ok), 1, None if ok else f"exit status {run.status}")
        if not counts:
            return Judgement("fail", 0, total, f"the tests did not finish (exit status {run.status})")
        ok = (run.status == 0 and counts.get("fail", 0) == 0 and counts.get("cancelled", 0) == 0
              and passed == total)
        if ok:
            return Judgement("pass", passed, total)
        names = re.findall(r"^not ok \d+ - (.*)$", run.stdout, re.M)
        return Judgement("fail", passed, total, _failed_note(names, total) if names else f"exit status {run.status}")

    return Plan({"main.js": main}, [node, heap, *_node_permissions(node), "main.js"], judge, expose=prefix)


@functools.cache
def _node_permissions(node: str) -> tuple[str, ...]:
    """The permission-model flags, where this node has them (Node 20.11 and later)."""
    try:
        ok = subprocess.run([node, *_JS_FLAGS, "-e", "0"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return _JS_FLAGS if ok else ()


def sql_expectation(tests: str) -> tuple[str, list[str]]:
    """The setup script and the expected output lines of an SQL tests block."""
    lines = tests.split("\n")
    try:
        at = next(i for i, ln in enumerate(lines) if ln.rstrip() == "-- expected output:")
    except StopIteration:
        raise BadTests("the prompt's SQL tests have no '-- expected output:' line") from None
    expected = []
    for line in lines[at + 1:]:
        if line.startswith("--"):
            text = line[2:]
            expected.append(text[1:] if text.startswith(" ") else text)
        elif line.strip():
            raise BadTests(f"the prompt's SQL tests: expected output line without '--': {line!r}")
    while expected and expected[-1] == "" and not lines[-1].startswith("--"):
        expected.pop()
    return "\n".join(lines[:at]) + "\n", expected


def _sql(code: str, tests: str | None, limits: Limits) -> Plan:
    sqlite = shutil.which("sqlite3", path=PATH)
    if sqlite:
        argv, files, expose, plain = [os.path.realpath(sqlite), "-batch", ":memory:"], {}, (), None
    else:  # Python's own sqlite3 module, printing as the shell does
        exe, expose = _python_exe()
        plain = _system_python()
        argv, files = [exe, "-I", "_sql.py"], {"_sql.py": (HERE / "_sql_runner.py").read_text(encoding="utf-8")}
    if tests is None:
        files["input.sql"] = code
        return Plan(files, argv, _run_only(limits), stdin="input.sql", expose=expose, plain_program=plain)
    setup, expected = sql_expectation(tests)
    files["input.sql"] = f"{setup}\n{code.rstrip()}\n"

    def judge(run: RunResult) -> Judgement:
        if run.timed_out or run.cpu_limited:
            return Judgement("timeout", 0, 1, stopped(run, limits))
        got = run.stdout[:-1].split("\n") if run.stdout.endswith("\n") else run.stdout.split("\n")
        got = [] if got == [""] else got
        if got == expected:
            return Judgement("pass", 1, 1)
        for i, (want, have) in enumerate(zip(expected + [None] * len(got), got + [None] * len(expected))):
            if want != have:
                return Judgement("fail", 0, 1, f"output line {i + 1}: expected {want!r}, got {have!r}")
        return Judgement("fail", 0, 1, "the output differs")

    return Plan(files, argv, judge, stdin="input.sql", expose=expose, plain_program=plain)


def _bash(code: str, tests: str | None, limits: Limits) -> Plan:
    bash = _program("bash")
    if tests is None:
        return Plan({"answer.sh": code}, [bash, "answer.sh"], _run_only(limits))

    def judge(run: RunResult) -> Judgement:
        ok = {int(n) for n in re.findall(r"^ok (\d+)\b", run.stdout, re.M)}
        bad = {int(n) for n in re.findall(r"^not ok (\d+)\b", run.stdout, re.M)}
        plans = re.findall(r"^1\.\.(\d+)\s*$", run.stdout, re.M)
        total = int(plans[-1]) if plans else max(len(ok | bad), 1)
        passed = len(ok - bad)
        if run.timed_out or run.cpu_limited:
            return Judgement("timeout", passed, total, stopped(run, limits))
        if run.status == 0 and plans and not bad and ok == set(range(1, total + 1)):
            return Judgement("pass", passed, total)
        names = re.findall(r"^not ok \d+ - (.*)$", run.stdout, re.M)
        note = _failed_note(names, total) if names else (stopped(run, limits)
                                                         or f"exit status {run.status}")
        return Judgement("fail", passed, total, note)

    exe, prefix = _python_exe()
    shim = (HERE / "_bash_shim.py").read_text(encoding="utf-8").replace("PYTHON", exe).replace("BASH_PATH", bash)
    answer = Peer({"answer.sh": code, "_broker.py": (HERE / "_bash_broker.py").read_text(encoding="utf-8")},
                  [exe, "-E", "-s", "{own}/_broker.py", bash, "{own}/answer.sh"], channel="seqpacket",
                  shared_work=True)
    return Plan({"tests.sh": tests, "bash": shim}, [bash, "{own}/tests.sh"], judge, expose=prefix,
                peer=answer, env={"PATH": "{own}:" + PATH}, plain_program=None)

"""The Rust runner: the answer's code and the prompt's tests compiled with rustc and run, in the sandbox.

The convention is the one the Rust prompts' `## Tests` blocks state: the tests (a `#[cfg(test)] mod`
that starts with `use super::*;`) are appended to the answer's code in one file, compiled with
`rustc --edition 2021 --test`, and the test binary is run. One file, rather than the answer as a
library crate the tests link to, because `use super::*` must see the answer's items as the tests'
parent module does (private helpers and types included), exactly as `cargo test` would.

Everything happens inside the sandbox, in one run, driven by `_rust_runner.py` (as the answer's
throwaway user): rustc runs first, under its own wall-clock budget (`Limits.compile_s`, during which
rustc's CPU time may use as much); then each test runs in a fresh process of its own
(`TEST_BINARY --exact PATH --test-threads=1`) under the answer's limits (`cpu_s`, `memory_mb`,
`file_mb`; one `wall_s` for all the tests together). The toolchain (rustc's sysroot) is shown
read-only inside the sandbox; without namespaces (`--allow-network`) the throwaway user cannot
reach a toolchain under /root, and the run says so.

The verdict: which tests there are comes from the prompt's tests block, read here (not from the
binary's `--list`), so an answer cannot add, hide or rename tests or change the total. A test
passes when its process exits with status 0 and libtest's summary for it says `1 passed; 0 failed`
(a test path that matched nothing runs 0 tests and also exits 0). The runner reports on fd 3 with
the run's nonce; it takes the nonce before anything of the answer's runs, makes itself
non-dumpable (no ptrace, no /proc/PID/fd), and starts the tests without fds 3 and 4, from a sealed
in-memory copy of the binary (a test that rewrites `answer_tests` changes nothing the next one
runs). After each test it kills whatever that test left running (it is their subreaper). Printing
libtest's lines does not make a failing test pass (it still panics, and the exit status says so),
and ending the process early (`std::process::exit(0)` on its own) fails the test.

What remains forgeable: the answer's code runs inside the test binary, in the same process as the
test's assertions (as JavaScript's does in Node), so a deliberately hostile answer can fake a pass
for a test: print libtest's summary line itself and then `std::process::exit(0)` before the
assertion fails, shadow `assert_eq!` and friends with its own `macro_rules!` (the tests are in the
same file, after it), or do the like with unsafe code (the first two were tried: each gets a pass). It cannot raise
the total, reach the result channel, or change what another test's process runs; it can kill the
runner (same uid), which ends the run as an error, never a pass. Treat a Rust verdict of a hostile
answer as advisory.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

from workbench.verify.languages import (HERE, BadTests, Judgement, NoRunner, Plan, _failed_note, _python_exe,
                                        _system_python, run_only, stopped)
from workbench.verify.limits import Limits
from workbench.verify.sandbox import PATH, RunResult

EDITION = "2021"
SLACK_S = 5.0
"""Seconds the sandbox's own wall clock allows past compile_s + wall_s (the runner's start, the sweeps)."""
COMPILE_MEMORY_MB = 1024
"""rustc needs a few hundred MiB of address space: the run's memory limit is at least this (the tests
themselves are held to the answer's memory_mb)."""
COMPILE_FILE_MB = 32
"""The test binary is some 7 MB: the run's file-size limit is at least this (the tests keep file_mb)."""

_SKIP = re.compile(r"""
    //[^\n]*                                           # line comment
  | /\*.*?\*/                                          # block comment
  | b?r(\#*)".*?"\1                                     # raw string
  | b?"(?:\\.|[^"\\])*"                                # string
  | b?'(?:\\u\{[0-9a-fA-F_]{1,6}\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'   # char (not a lifetime)
""", re.S | re.X)
_TOKEN = re.compile(r"#\s*\[\s*(test|ignore)\b\s*[\](=]|\bmod\s+(?:r#)?(\w+)\s*\{|\bfn\s+(?:r#)?(\w+)|[{}]")


def rust_test_names(tests: str) -> list[str]:
    """Paths (`module::name`) of the `#[test]` functions of a tests block, in order; `#[ignore]`d ones left out."""
    text = _SKIP.sub(" ", tests)
    names: list[str] = []
    scopes: list[str | None] = []
    test = ignore = False
    for m in _TOKEN.finditer(text):
        attribute, module, fn = m.group(1), m.group(2), m.group(3)
        token = m.group(0)
        if attribute:
            test, ignore = test or attribute == "test", ignore or attribute == "ignore"
        elif module:
            scopes.append(module)
        elif fn:
            if test and not ignore:
                names.append("::".join([s for s in scopes if s] + [fn]))
            test = ignore = False
        elif token == "{":
            scopes.append(None)
        elif token == "}" and scopes:
            scopes.pop()
    if not names:
        raise BadTests("the prompt's Rust tests have no #[test] functions")
    return names


@functools.cache
def toolchain() -> tuple[str, str] | None:
    """(the real rustc, its sysroot), or None when no rustc is installed.

    rustup's `rustc` is a proxy that needs rustup's own folders; the sandbox runs the toolchain's
    binary, found through `rustc --print sysroot` (asked from /, so no directory override applies).
    """
    home_cargo = str(Path.home() / ".cargo" / "bin")
    for found in (shutil.which("rustc"), shutil.which("rustc", path=PATH), shutil.which("rustc", path=home_cargo)):
        if not found:
            continue
        try:
            proc = subprocess.run([found, "--print", "sysroot"], capture_output=True, text=True, timeout=60, cwd="/")
        except (OSError, subprocess.SubprocessError):
            continue
        sysroot = proc.stdout.strip()
        real = os.path.join(sysroot, "bin", "rustc")
        if proc.returncode == 0 and sysroot and os.access(real, os.X_OK):
            return os.path.realpath(real), os.path.realpath(sysroot)
    return None


def run_limits(limits: Limits) -> Limits:
    """What the whole sandboxed run is held to: room for rustc, then the tests under the answer's own limits."""
    return dataclasses.replace(limits, wall_s=limits.compile_s + limits.wall_s + SLACK_S,
                               cpu_s=max(limits.cpu_s, math.ceil(limits.compile_s)),
                               memory_mb=max(limits.memory_mb, COMPILE_MEMORY_MB),
                               file_mb=max(limits.file_mb, COMPILE_FILE_MB))


def plan(code: str, tests: str | None, limits: Limits) -> Plan:
    """Compile `code` (with `tests` appended, as a test binary) and run the tests, or just run the program."""
    found = toolchain()
    if found is None:
        raise NoRunner("no runner for rust (rustc is not installed)")
    rustc, sysroot = found
    names = rust_test_names(tests) if tests is not None else []
    source = code.rstrip() + "\n" + (f"\n{tests.rstrip()}\n" if tests is not None else "")
    config = {"rustc": rustc, "sysroot": sysroot, "edition": EDITION, "tests": names, "run": tests is None,
              "compile_s": limits.compile_s, "wall_s": limits.wall_s, "cpu_s": limits.cpu_s,
              "memory_mb": limits.memory_mb, "file_mb": limits.file_mb}
    files = {"main.rs": source, "_rust.json": json.dumps(config),
             "_rust_runner.py": (HERE / "_rust_runner.py").read_text(encoding="utf-8")}
    exe, prefix = _python_exe()
    judge = _judge_run(limits) if tests is None else _judge_tests(names, limits)
    return Plan(files, [exe, "-I", "-u", "_rust_runner.py"], judge, expose=(*prefix, sysroot),
                plain_program=_system_python(), limits=run_limits(limits))


def _compiled(run: RunResult, limits: Limits, total: int) -> Judgement | None:
    """The verdict when the code never got past rustc, else None."""
    lines = run.results
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "compiled":
            return None
        if kind == "compile-error":
            return Judgement("error", 0, total, f"does not compile: {rest}" if rest else "does not compile")
        if kind == "compile-timeout":
            return Judgement("timeout", 0, total, f"compiling stopped at its time limit ({limits.compile_s:g} s)")
        if kind == "compile-killed":
            return Judgement("error", 0, total, f"rustc was {rest} while compiling")
        if kind == "no-rustc":
            return Judgement("error", 0, total, f"rustc cannot be run in the sandbox: {rest}")
    why = stopped(run, limits) if not run.timed_out else "stopped at the sandbox's wall-clock limit"
    if run.timed_out:
        return Judgement("timeout", 0, total, f"{why} before compiling finished")
    return Judgement("error", 0, total, f"the runner ended before compiling finished ({why or f'status {run.status}'})")


def _judge_tests(names: list[str], limits: Limits):
    total = len(names)

    def judge(run: RunResult) -> Judgement:
        early = _compiled(run, limits, total)
        if early is not None:
            return early
        passed = {ln[5:] for ln in run.results if ln.startswith("pass ")} & set(names)
        failed = [ln.split(" ", 1)[1] for ln in run.results if ln.startswith("fail ")]
        stops = [ln.split(" ")[1:3] for ln in run.results if ln.startswith("timeout ")]
        if stops:
            name, kind = (stops[0] + ["?", "?"])[:2]
            why = (f"stopped at the CPU-time limit ({limits.cpu_s} s)" if kind == "cpu"
                   else f"stopped at the wall-clock limit ({limits.wall_s:g} s)")
            more = f" and {len(stops) - 1} more" if len(stops) > 1 else ""
            return Judgement("timeout", len(passed), total, f"{why} in {name}{more}")
        if "done" not in run.results:
            if run.timed_out:
                return Judgement("timeout", len(passed), total, "stopped at the sandbox's wall-clock limit")
            why = stopped(run, limits) or f"status {run.status}"
            return Judgement("error", len(passed), total, f"the test runner ended before the tests finished ({why})")
        if len(passed) == total:
            return Judgement("pass", total, total)
        shown = [f.replace(" ", " (", 1) + ")" if " " in f else f for f in failed]
        return Judgement("fail", len(passed), total, _failed_note(shown, total))

    return judge


def _judge_run(limits: Limits):
    """No tests: the program's own exit status is the run's (the runner ends as the program did)."""
    def judge(run: RunResult) -> Judgement:
        early = _compiled(run, limits, 0)
        if early is not None:
            return early
        if "timeout wall" in run.results:
            return Judgement("timeout", 0, 0, f"stopped at the wall-clock limit ({limits.wall_s:g} s)")
        return run_only(run, limits)

    return judge

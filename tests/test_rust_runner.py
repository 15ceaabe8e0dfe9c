"""The Rust runner: the shipped Rust prompts' tests compiled with rustc and run in the sandbox, one
process per test; right and wrong answers, compile errors, limits, containment and forgery."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.prompts import parse
from workbench.verify import Limits, languages, rust, sandbox, verify

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
RLE = parse(PROMPTS / "rust-run-length.md")
WORDS = parse(PROMPTS / "rust-word-frequency.md")
RLE_TESTS = ["workbench_tests::encodes_runs", "workbench_tests::decodes", "workbench_tests::rejects_malformed",
             "workbench_tests::round_trips"]
SANDBOX_UIDS = range(*sandbox.UID_RANGE)

_no_rust = pytest.mark.skipif(
    sys.platform != "linux" or rust.toolchain() is None or not sandbox.kernel_allows_namespaces(),
    reason="rustc is not installed, or this machine allows no namespaces: Rust code is not run")


def needs_rustc(test):
    """A test that runs Rust code: skipped without rustc or namespaces, and nothing it started may outlive it."""
    return _no_rust(pytest.mark.usefixtures("nothing_left_behind")(test))


def fenced(code: str) -> str:
    return f"Here you go:\n\n```rust\n{code.strip()}\n```\n"


@pytest.fixture
def nothing_left_behind():
    """After the test: no process of a throwaway sandbox uid is alive that was not before it (other
    sessions on this machine may be running code of their own)."""
    before = set(sandbox.pids_of_uid(SANDBOX_UIDS))
    yield
    left = (lambda: set(sandbox.pids_of_uid(SANDBOX_UIDS)) - before)
    deadline = time.monotonic() + 2
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left() == set()


RLE_ENCODE = """
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut n = 1usize;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        if n > 1 {
            out.push_str(&n.to_string());
        }
        out.push(c);
    }
    out
}
"""
RLE_DECODE = """
pub fn decode(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut count = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if count.is_empty() && c == '0' {
                return Err(format!("a count cannot start with 0"));
            }
            count.push(c);
        } else {
            let n = if count.is_empty() { 1 } else { count.parse::<usize>().map_err(|e| e.to_string())? };
            out.extend(std::iter::repeat(c).take(n));
            count.clear();
        }
    }
    if count.is_empty() { Ok(out) } else { Err(format!("count {} has no character", count)) }
}
"""
RLE_GOOD = RLE_ENCODE + RLE_DECODE
RLE_BAD = RLE_GOOD.replace("count.is_empty() && c == '0'", "false")
"""Accepts `0a` and `03a`: fails rejects_malformed only."""

WORDS_GOOD = """
use std::collections::HashMap;

pub fn top_words(text: &str, n: usize) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .for_each(|w| *counts.entry(w.to_lowercase()).or_insert(0) += 1);
    let mut pairs: Vec<(String, usize)> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    pairs.into_iter().take(n).collect()
}
"""
WORDS_BAD = WORDS_GOOD.replace("w.to_lowercase()", "w.to_string()")
"""Case-sensitive: fails counts_and_orders and unicode_words_and_case."""


# ── without rustc ──────────────────────────────────────────────────────────────────────────


def test_test_names_come_from_the_prompts_tests_block():
    assert rust.rust_test_names(RLE.tests) == RLE_TESTS
    assert rust.rust_test_names(WORDS.tests) == [
        "workbench_tests::counts_and_orders", "workbench_tests::fewer_words_than_n",
        "workbench_tests::unicode_words_and_case", "workbench_tests::digits_are_word_characters"]
    tricky = """
// #[test] fn commented_out() {}
#[cfg(test)]
mod outer {
    use super::*;
    const OPEN: char = '{';
    fn helper<'a>(s: &'a str) -> &'a str { /* } */ s }
    #[test]
    #[should_panic(expected = "}}")]
    fn braces_in_strings() { panic!("}} {:?}", r#"}"#); }
    #[test] #[ignore] fn slow() {}
    mod inner {
        #[test]
        fn nested() { assert_eq!('\\u{7D}', '}'); }
    }
    #[test]
    fn last() {}
}
"""
    assert rust.rust_test_names(tricky) == ["outer::braces_in_strings", "outer::inner::nested", "outer::last"]


def test_a_tests_block_without_tests_is_an_error(monkeypatch):
    monkeypatch.setattr(rust, "toolchain", lambda: ("/bin/false", "/"))
    with pytest.raises(languages.BadTests, match="no #\\[test\\] functions"):
        rust.plan(RLE_GOOD, "fn helper() {}", Limits())


def test_without_rustc_there_is_no_runner(monkeypatch):
    monkeypatch.setattr(rust, "toolchain", lambda: None)
    verdict = verify(fenced(RLE_GOOD), RLE)
    assert verdict.outcome == "no-runner" and verdict.note == "no runner for rust (rustc is not installed)"


def test_the_compiler_gets_room_the_tests_do_not():
    answer = Limits(cpu_s=2, wall_s=3, memory_mb=256, file_mb=4, compile_s=30)
    run = rust.run_limits(answer)
    assert run.wall_s == 30 + 3 + rust.SLACK_S and run.cpu_s == 30
    assert run.memory_mb == rust.COMPILE_MEMORY_MB and run.file_mb == rust.COMPILE_FILE_MB
    assert (run.processes, run.open_files, run.output_kb) == (answer.processes, answer.open_files, answer.output_kb)


# ── answers to the shipped prompts ─────────────────────────────────────────────────────────


@needs_rustc
@pytest.mark.parametrize("prompt, code", [(RLE, RLE_GOOD), (WORDS, WORDS_GOOD)], ids=["run-length", "word-frequency"])
def test_a_right_answer_passes_every_test(prompt, code):
    verdict = verify(fenced(code), prompt)
    assert (verdict.outcome, verdict.passed, verdict.total, verdict.exit_status) == ("pass", 4, 4, 0), verdict
    assert verdict.language == "rust" and verdict.isolated_network and verdict.note is None
    assert verdict.stdout.splitlines() == [f"test {name} ... ok" for name in rust.rust_test_names(prompt.tests)]


@needs_rustc
@pytest.mark.parametrize("prompt, code, passed, failed", [
    (RLE, RLE_BAD, 3, ["workbench_tests::rejects_malformed"]),
    (WORDS, WORDS_BAD, 2, ["workbench_tests::counts_and_orders", "workbench_tests::unicode_words_and_case"]),
], ids=["run-length", "word-frequency"])
def test_a_wrong_answer_fails_the_tests_it_gets_wrong(prompt, code, passed, failed):
    verdict = verify(fenced(code), prompt)
    assert (verdict.outcome, verdict.passed, verdict.total, verdict.exit_status) == ("fail", passed, 4, 1), verdict
    assert verdict.note == f"{len(failed)} of 4 tests failed: {', '.join(failed)}"
    assert f"test {failed[0]} ... FAILED" in verdict.stdout and "panicked at main.rs:" in verdict.stdout
    assert f"[workbench] {failed[-1]}: failed (exit status 101)" in verdict.stdout


@needs_rustc
def test_code_that_does_not_compile_is_an_error_in_one_line():
    verdict = verify(fenced("pub fn encode(s: &str) -> String {\n    s.len()\n}\n"), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("error", 0, 4), verdict
    assert verdict.note == "does not compile: error[E0308]: mismatched types (main.rs:2; 7 errors in all)"
    assert "error[E0425]: cannot find function `decode` in this scope" in verdict.stderr  # rustc's whole report


@needs_rustc
def test_compiling_has_its_own_time_limit():
    spin = "const SPIN: u64 = { let mut i = 0u64; while i < u64::MAX { i += 1; } i };\npub fn spin() -> u64 { SPIN }\n"
    code = "#![allow(long_running_const_eval)]\n" + RLE_GOOD + spin  # rustc evaluates it: it never ends
    started = time.monotonic()
    verdict = verify(fenced(code), RLE, limits=Limits(compile_s=3, wall_s=1))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("timeout", 0, 4), verdict
    assert verdict.note == "compiling stopped at its time limit (3 s)"
    assert time.monotonic() - started < 3 + 5


@needs_rustc
def test_a_busy_loop_is_stopped_by_the_cpu_limit_and_the_other_tests_still_run():
    code = "pub fn encode(_s: &str) -> String {\n    loop {}\n}\n" + RLE_DECODE
    started = time.monotonic()
    verdict = verify(fenced(code), RLE, limits=Limits(cpu_s=1, wall_s=10))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("timeout", 2, 4), verdict
    assert verdict.note == "stopped at the CPU-time limit (1 s) in workbench_tests::encodes_runs and 1 more"
    assert time.monotonic() - started < 10


@needs_rustc
def test_a_sleeping_loop_is_stopped_by_the_wall_clock():
    hang = "    while n == 2 {\n        std::thread::sleep(std::time::Duration::from_millis(50));\n    }\n"
    code = WORDS_GOOD.replace("    let mut counts", hang + "    let mut counts")
    started = time.monotonic()
    verdict = verify(fenced(code), WORDS, limits=Limits(wall_s=2))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("timeout", 3, 4), verdict  # the three before
    assert verdict.note == "stopped at the wall-clock limit (2 s) in workbench_tests::digits_are_word_characters"
    assert time.monotonic() - started < 2 + 15  # compiling, plus the two seconds


@needs_rustc
def test_a_program_without_tests_runs_cut_off_from_the_network_and_the_machine(tmp_path: Path):
    token = secrets.token_hex(6)
    sysroot = rust.toolchain()[1]
    code = """
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

fn main() {
    let tcp = TcpStream::connect_timeout(&"1.1.1.1:53".parse().unwrap(), Duration::from_secs(2)).is_ok();
    let udp = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", "1.1.1.1:53")).is_ok();
    let dns = "example.com:80".to_socket_addrs().is_ok();
    println!("network {} {} {}", tcp, udp, dns);
    for path in ["/etc/wb-probe", "SYSROOT/wb-probe", "SYSROOT/bin/rustc", "/usr/wb-probe", "/wb-probe"] {
        println!("write {} {}", path, std::fs::write(path, "x").is_ok());
    }
    println!("tmp {}", std::fs::write("/tmp/wb-probe-TOKEN", "x").is_ok());
    let seen: Vec<&str> = ["/root/.cargo", "/work", "/home", "PROJECT"].into_iter()
        .filter(|p| std::path::Path::new(p).exists()).collect();
    println!("seen {:?}", seen);
    std::process::exit(3);
}
""".replace("SYSROOT", sysroot).replace("TOKEN", token).replace("PROJECT", str(Path(__file__).parent))
    verdict = verify(fenced(code), None, "rust")
    assert (verdict.outcome, verdict.exit_status, verdict.note) == ("no-tests", 3, "exited with status 3"), verdict
    lines = verdict.stdout.splitlines()
    assert lines[0] == "network false false false"
    assert lines[1:6] == [f"write {p} false" for p in ("/etc/wb-probe", f"{sysroot}/wb-probe", f"{sysroot}/bin/rustc",
                                                        "/usr/wb-probe", "/wb-probe")]
    assert lines[6:] == ["tmp true", "seen []"]  # its own /tmp, which the machine's is not
    assert not Path(f"/tmp/wb-probe-{token}").exists() and not Path(sysroot, "wb-probe").exists()


@needs_rustc
def test_a_program_that_loops_without_tests_times_out():
    verdict = verify(fenced("fn main() {\n    loop {}\n}\n"), None, "rust", limits=Limits(cpu_s=1, wall_s=5))
    assert verdict.outcome == "timeout" and verdict.note == "stopped at the CPU-time limit (1 s)", verdict
    verdict = verify(fenced("fn main() {\n    std::thread::sleep(std::time::Duration::from_secs(60));\n}\n"),
                     None, "rust", limits=Limits(wall_s=1.5))
    assert verdict.outcome == "timeout" and verdict.note == "stopped at the wall-clock limit (1.5 s)", verdict


@needs_rustc
def test_what_a_test_leaves_running_is_killed_and_does_not_hold_the_run():
    spawn = '    let _ = std::process::Command::new("/bin/sh").args(["-c", "sleep 60 & sleep 60"]).spawn();\n'
    code = RLE_GOOD.replace("    let mut out = String::new();\n", spawn + "    let mut out = String::new();\n", 1)
    started = time.monotonic()
    verdict = verify(fenced(code), RLE, limits=Limits(wall_s=10))
    assert (verdict.outcome, verdict.passed) == ("pass", 4), verdict
    assert time.monotonic() - started < 10  # the sleeps held the output pipe: they were killed


# ── forgery ────────────────────────────────────────────────────────────────────────────────

FAKE = "".join(f"test {name} ... ok\\n" for name in RLE_TESTS) + (
    "\\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.00s\\n")
WRONG = """
pub fn encode(s: &str) -> String { forge(); s.to_string() }
pub fn decode(s: &str) -> Result<String, String> { forge(); Ok(s.to_string()) }
"""
"""Wrong, but round_trips passes on its merits (decode(encode(s)) == s)."""
HONEST_PASSES = 1


@needs_rustc
def test_printing_libtests_success_lines_does_not_pass():
    code = WRONG + """
fn forge() {
    use std::io::Write;
    let fake = "FAKE";
    let _ = std::io::stdout().write_all(fake.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(fake.as_bytes());
    println!("{}", fake);
}

#[used]
#[link_section = ".init_array"]
static EARLY: extern "C" fn() = {
    extern "C" fn early() { forge() }
    early
};
""".replace("FAKE", FAKE)
    verdict = verify(fenced(code), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", HONEST_PASSES, 4), verdict
    assert verdict.stdout.count("test result: ok. 1 passed; 0 failed;") > 4  # it did print them


@needs_rustc
def test_ending_the_process_early_fails_the_test():
    code = "pub fn encode(_s: &str) -> String {\n    std::process::exit(0)\n}\n" + RLE_DECODE
    verdict = verify(fenced(code), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", 2, 4), verdict
    assert verdict.note == ("2 of 4 tests failed: workbench_tests::encodes_runs (exited with status 0 before the "
                            "test finished), workbench_tests::round_trips (exited with status 0 before the test "
                            "finished)")


@needs_rustc
def test_the_answer_cannot_reach_the_result_channel():
    names = ", ".join(f'"{n}"' for n in RLE_TESTS)
    code = WRONG + """
fn forge() {
    use std::io::{Read, Write};
    let mut nonce = String::new();
    let pids: Vec<_> = std::fs::read_dir("/proc").unwrap().flatten().map(|e| e.path()).collect();
    for pid in &pids {
        for fd in ["3", "4"] {
            if let Ok(mut f) = std::fs::File::open(pid.join("fd").join(fd)) {
                let _ = f.read_to_string(&mut nonce);
            }
        }
    }
    let nonce = nonce.trim().to_string();
    let mut lines: String = [NAMES].iter().map(|n| format!("{} pass {}\\n", nonce, n)).collect();
    lines += &format!("{} done\\n", nonce);
    for pid in &pids {
        for fd in 0..20 {
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(pid.join("fd").join(fd.to_string())) {
                let _ = f.write_all(lines.as_bytes());
            }
        }
    }
}
""".replace("NAMES", names)
    verdict = verify(fenced(code), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", HONEST_PASSES, 4), verdict


@needs_rustc
def test_a_test_cannot_replace_the_binary_the_next_tests_run():
    code = WRONG + """
fn forge() {
    let fake = "#!/bin/sh\\necho 'test result: ok. 1 passed; 0 failed; 0 ignored;'\\n";
    let _ = std::fs::remove_file("answer_tests");
    let _ = std::fs::write("answer_tests", fake);
    let _ = std::process::Command::new("chmod").args(["755", "answer_tests"]).status();
}
"""
    verdict = verify(fenced(code), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", HONEST_PASSES, 4), verdict


@needs_rustc
def test_killing_the_runner_is_an_error_not_a_pass():
    code = """
pub fn encode(s: &str) -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let parent = stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().to_string();
    let _ = std::process::Command::new("sh").args(["-c", &format!("kill -9 {}", parent)]).status();
    s.to_string()
}
""" + RLE_DECODE
    verdict = verify(fenced(code), RLE)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("error", 0, 4), verdict
    assert verdict.note == "the test runner ended before the tests finished (killed by SIGKILL)"


# ── workbench check ────────────────────────────────────────────────────────────────────────


@needs_rustc
def test_check_prints_the_verdict(tmp_path: Path):
    answer = tmp_path / "answer.md"
    answer.write_text(fenced(RLE_GOOD))
    result = CliRunner().invoke(main, ["check", str(answer), "--prompt", "rust-run-length"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pass 4/4 tests · ") and result.stdout.endswith(" s\n")
    answer.write_text(fenced("pub fn encode(s: &str) -> String { s.len() }"))
    result = CliRunner().invoke(main, ["check", str(answer), "--prompt", "rust-run-length"], catch_exceptions=False)
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("error 0/4 tests · ")
    assert " · does not compile: error[E0308]: mismatched types (main.rs:1; " in first


@needs_rustc
def test_a_test_that_floods_its_output_is_stopped_and_its_output_bounded():
    code = RLE_GOOD.replace("    let mut out = String::new();\n    let mut chars", """    if s.is_empty() {
        use std::io::Write;
        loop {
            let _ = std::io::stdout().write_all(&[b'x'; 65536]);
        }
    }
    let mut out = String::new();
    let mut chars""", 1)
    verdict = verify(fenced(code), RLE, limits=Limits(file_mb=1))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("fail", 3, 4), verdict
    assert verdict.note == ("1 of 4 tests failed: workbench_tests::encodes_runs (stopped for writing more "
                            "than 1 MB)")
    assert len(verdict.stdout) < 64 * 1024


@needs_rustc
def test_without_namespaces_a_toolchain_the_throwaway_user_cannot_reach_is_said_so(monkeypatch):
    monkeypatch.setattr(sandbox, "_unavailable", "unshare: Operation not permitted (simulated)")
    verdict = verify(fenced(RLE_GOOD), RLE, allow_network=True)
    assert not verdict.isolated_network and "WITHOUT network isolation" in verdict.note
    rustc = rust.toolchain()[0]
    if sandbox.reachable(rustc):
        assert (verdict.outcome, verdict.passed) == ("pass", 4), verdict
    else:
        assert (verdict.outcome, verdict.total) == ("error", 4), verdict
        assert verdict.note.startswith(f"rustc cannot be run in the sandbox: [Errno 13] Permission denied: '{rustc}'")

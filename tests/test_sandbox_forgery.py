"""Answers that try to forge their own verdict: each is a wrong answer and must not pass.

The answer's code must not reach the channels that report the verdict (the result fd and the
nonce), nor the process where the tests' assertions run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from workbench.prompts import parse
from workbench.verify import Limits, sandbox, verify

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
MERGE_TESTS = ["test_merge_basic_overlap", "test_merge_unsorted_and_nested", "test_merge_touching_intervals",
               "test_merge_empty_and_single", "test_merge_negative_and_chain", "test_merge_does_not_modify_input",
               "test_merge_returns_tuples"]
WRONG = "def merge_intervals(intervals):\n    return list(intervals)\n"
FORGED = "".join(f"pass {name}\\n" for name in MERGE_TESTS) + "done\\n"
"""The result lines a passing run writes (each to be prefixed with the nonce)."""
HONEST_PASSES = 2
"""WRONG passes test_merge_empty_and_single and test_merge_does_not_modify_input on its merits."""

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not sandbox.kernel_allows_namespaces(),
                                reason="this machine allows no namespaces: code is not run")


def merge(code: str):
    return verify(f"```python\n{code}\n```", parse(PROMPTS / "merge-intervals.md"))


FD_FORGERY = f"""
import os
def _forge():
    nonce = b''
    for fd in (4, 3, 5, 6):
        try:
            nonce = nonce or os.read(fd, 64).strip()
        except OSError:
            pass
    for fd in range(3, 20):
        try:
            os.write(fd, b''.join(nonce + b' ' + line.encode() + b'\\n' for line in '{FORGED}'.splitlines()))
        except OSError:
            pass
"""

ATTACKS = {
    "nonce-and-result-fd-at-load": WRONG + FD_FORGERY + "_forge()\nos._exit(0)\n",
    "nonce-and-result-fd-in-a-call": WRONG.replace("    return", "    _forge()\n    os._exit(0)\n    return")
    + FD_FORGERY,
    "runner-globals-in-a-call": WRONG.replace("    return", """    import __main__, os
    nonce = getattr(__main__, '_nonce', None) or ''
    os.write(3, ''.join(f'{nonce} {line}\\n' for line in '%s'.splitlines()).encode())
    os._exit(0)
    return""" % FORGED),
    "always-equal-result": """
class _Yes(list):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = None
def merge_intervals(intervals):
    return _Yes()
""",
    "always-equal-items": """
class _Yes(tuple):
    def __eq__(self, other):
        return True
    def __iter__(self):
        return iter([_Yes(), _Yes()])
    __hash__ = None
def merge_intervals(intervals):
    return _Yes()
""",
    "patched-test-runner": WRONG + """
import __main__, sys
for _mod in list(sys.modules.values()):
    for _name in ('_call', '_resolve'):
        if hasattr(_mod, _name):
            setattr(_mod, _name, (lambda *a, **k: (lambda: None)) if _name == '_resolve' else (lambda fn: None))
import builtins
builtins.AssertionError = type('NotAnAssertion', (BaseException,), {})
""",
    "patched-tests-in-a-call": WRONG.replace("    return", """    import sys
    for mod in list(sys.modules.values()):
        for name in list(vars(mod)):
            if name.startswith('test_'):
                setattr(mod, name, lambda: None)
    return""") + "import sys\nsys.setprofile(None)\n",
    "atexit-hook": WRONG + """
import atexit, os
def _hook():
    nonce = b''
    try:
        nonce = os.read(4, 64).strip()
    except OSError:
        pass
    os.write(3, b''.join(nonce + b' ' + l.encode() + b'\\n' for l in '%s'.splitlines()))
    os._exit(0)
atexit.register(_hook)
""" % FORGED,
    "exit-inside-a-failing-test": WRONG.replace("    return", "    import os\n    if len(intervals) > 2:\n"
                                                 "        os._exit(0)\n    return"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_wrong_answer_cannot_forge_its_verdict(attack):
    verdict = merge(ATTACKS[attack])
    assert verdict.outcome != "pass", verdict
    assert verdict.passed <= HONEST_PASSES, verdict  # what the wrong answer earns by itself, no more


def test_a_right_answer_still_passes_every_python_prompt_it_is_tested_on():
    from answers import MERGE_INTERVALS

    verdict = merge(MERGE_INTERVALS)
    assert (verdict.outcome, verdict.passed, verdict.total) == ("pass", 7, 7), verdict


def test_mutating_the_argument_is_seen_by_the_tests():
    sorts_in_place = """
def merge_intervals(intervals):
    intervals.sort()
    out = []
    for start, end in intervals:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
"""
    verdict = merge(sorts_in_place)
    assert (verdict.outcome, verdict.passed) == ("fail", 6), verdict
    assert "test_merge_does_not_modify_input" in verdict.note


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_cannot_reach_the_result_channel():
    code = """
function promisePool() { return Promise.resolve([]); }
const fs = require('node:fs');
let nonce = '';
try { nonce = fs.readFileSync(4, 'utf8').trim(); } catch (e) {}
try { nonce = nonce || fs.readFileSync('/proc/self/fd/4', 'utf8').trim(); } catch (e) {}
try { fs.writeSync(3, `${nonce} exit 0\\n`); } catch (e) {}
console.log('TAP version 13\\nok 1 - a\\n1..7\\n# tests 7\\n# suites 0\\n# pass 7\\n# fail 0\\n# cancelled 0');
process.exit(0);
"""
    verdict = verify(f"```js\n{code}```", parse(PROMPTS / "js-promise-pool.md"), limits=Limits(wall_s=5))
    assert verdict.outcome != "pass" and verdict.passed == 0, verdict


def test_bash_cannot_reach_the_output_the_tests_report_on():
    code = ("for f in /proc/[0-9]*/fd/1; do [ \"$f\" = /proc/$$/fd/1 ] || echo 'ok 99 - FORGED' > \"$f\"; done "
            "2>/dev/null\nfor f in /proc/[0-9]*/fd/1; do ls -l \"$f\"; done >&2\n")
    verdict = verify(f"```bash\n{code}```", parse(PROMPTS / "bash-log-summary.md"))
    assert verdict.outcome == "fail", verdict
    assert "FORGED" not in verdict.stdout, verdict

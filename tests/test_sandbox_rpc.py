"""The prompts' Python tests against right answers, now that the answer runs in a process of its own:
objects, callbacks into the tests, threads, dict keys of any type, sets of tuples and mutation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.prompts import parse
from workbench.verify import sandbox, verify

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
pytestmark = pytest.mark.skipif(sys.platform != "linux" or not sandbox.kernel_allows_namespaces(),
                                reason="this machine allows no namespaces: code is not run")

TOKEN_BUCKET = """
import threading

class TokenBucket:
    def __init__(self, rate, capacity, clock=None):
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        import time
        self.rate, self.capacity = rate, capacity
        self.clock = clock or time.monotonic
        self.tokens = float(capacity)
        self.last = self.clock()
        self.lock = threading.Lock()

    def _refill(self):
        now = self.clock()
        if now > self.last:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def allow(self, cost=1):
        if cost <= 0 or cost > self.capacity:
            raise ValueError("bad cost")
        with self.lock:
            self._refill()
            if self.tokens + 1e-12 >= cost:
                self.tokens -= cost
                return True
            return False

    def available(self):
        with self.lock:
            self._refill()
            return self.tokens
"""

GROUP_BY = """
from collections import Counter

def group_by(rows, key, groups=None):
    groups = {} if groups is None else groups
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups

def top_groups(rows, key, n):
    counts = Counter(row[key] for row in rows)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
"""

LIFE = """
from collections import Counter

def life_step(cells):
    counts = Counter((x + dx, y + dy) for x, y in cells for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                     if dx or dy)
    return {c for c, n in counts.items() if n == 3 or (n == 2 and c in cells)}
"""


@pytest.mark.parametrize("prompt, code, total", [
    ("token-bucket", TOKEN_BUCKET, 7),
    ("find-the-bug-group-by", GROUP_BY, 5),
    ("game-of-life", LIFE, 6),
], ids=["token-bucket", "group-by", "game-of-life"])
def test_right_answers_pass_through_the_process_boundary(prompt, code, total):
    verdict = verify(f"```python\n{code}\n```", parse(PROMPTS / f"{prompt}.md"))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("pass", total, total), verdict


def test_a_wrong_answer_still_fails_with_its_own_traceback():
    leaky = GROUP_BY.replace("def group_by(rows, key, groups=None):\n    groups = {} if groups is None else groups",
                             "def group_by(rows, key, groups={}):")
    verdict = verify(f"```python\n{leaky}\n```", parse(PROMPTS / "find-the-bug-group-by.md"))
    assert verdict.outcome == "fail" and "test_group_calls_do_not_leak_into_each_other" in verdict.note
    assert "AssertionError" in verdict.stderr


def test_an_exception_of_the_answer_keeps_its_builtin_class():
    code = "class BadInput(ValueError):\n    pass\n\ndef evaluate(text):\n    raise BadInput(f'no: {text}')\n"
    verdict = verify(f"```python\n{code}\n```", parse(PROMPTS / "expression-parser.md"))
    assert verdict.outcome == "fail"
    assert "test_expr_malformed_input_raises_value_error" not in verdict.note  # ValueError was caught as one
    assert "BadInput: no: 1 + 2 * 3" in verdict.stderr  # and the tests' side shows the answer's exception


RENAME = r'''
#!/bin/bash
if [ $# -lt 1 ] || [ ! -d "$1" ]; then echo "usage: $0 DIR" >&2; exit 2; fi
status=0
for f in "$1"/*.jpeg; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  target="${f%.jpeg}.jpg"
  if [ -e "$target" ]; then echo "skipped: $f" >&2; status=1; continue; fi
  mv -- "$f" "$target"
done
exit $status
'''


def test_bash_answers_run_apart_from_the_tests_and_still_change_what_the_tests_made():
    verdict = verify(f"```bash\n{RENAME}\n```", parse(PROMPTS / "bash-find-the-bug-rename.md"))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("pass", 9, 9), verdict
    log = ("awk '$9 ~ /^5[0-9][0-9]$/ {c[$1]++} END {for (ip in c) print c[ip], ip}' "
           "| LC_ALL=C sort -k1,1nr -k2,2 | head -n 3")
    verdict = verify(f"```bash\n{log}\n```", parse(PROMPTS / "bash-log-summary.md"))
    assert (verdict.outcome, verdict.passed, verdict.total) == ("pass", 3, 3), verdict


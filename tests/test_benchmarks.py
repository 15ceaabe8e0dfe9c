"""Each benchmark script still runs (smoke mode) and prints its JSON; timings are not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_benchmark_runs_in_quick_mode(script):
    out = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                         timeout=240, check=True).stdout
    result = json.loads(out.splitlines()[0])
    assert result["benchmark"] == script.removesuffix(".py")
    assert len(out.splitlines()) == 2, "one JSON object and one line of prose"

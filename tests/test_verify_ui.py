"""Verification from the app: `v` runs every pane against the prompt's tests; badges; `o` shows a run."""

from __future__ import annotations

import sqlite_utils
from pilot import wait_for as _wait

from answers import MERGE_INTERVALS

from workbench import catalog
from workbench.engines.pool import EnginePool
from workbench.config import ModelSpec, load_settings
from workbench.engines.replay import ReplayEngine
from workbench.prompts import library_dirs, load_library
from workbench.store import Store
from workbench.ui.app import build_app
from workbench.ui.screens.run_output import RunOutput

RIGHT = f"Here you go:\n\n```python{MERGE_INTERVALS}```\n"
WRONG = """```python
def merge_intervals(intervals):
    return sorted(intervals)
```
"""




async def test_v_runs_each_pane_against_the_tests_and_logs_it(tmp_path):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    engines = [ReplayEngine("right", RIGHT), ReplayEngine("wrong", WRONG)]
    specs = [ModelSpec(name=e.name, engine="replay") for e in engines]
    app = build_app(load_settings(), [catalog.Entry(s) for s in specs], ["right", "wrong"],
                    pool_factory=lambda _s: EnginePool(engines), recorder=recorder)
    library, _ = load_library(library_dirs(tmp_path))
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            await screen.send("merge them", library["merge-intervals"])
            await _wait(pilot, lambda: screen.comparison.finished)
            screen.panes[0].view.focus()
            await pilot.press("v")
            await _wait(pilot, lambda: len(screen.round.verdicts) == 2)
            right, wrong = screen.round.verdicts[0], screen.round.verdicts[1]
            assert right.outcome == "pass" and right.passed == right.total > 0
            assert wrong.outcome == "fail" and wrong.passed < wrong.total
            assert str(screen.panes[0].border_subtitle).startswith(f"✓ {right.total}/{right.total}")
            assert str(screen.panes[1].border_subtitle).startswith("✗")
            await pilot.press("o")
            await _wait(pilot, lambda: isinstance(app.screen, RunOutput))
            await pilot.press("escape")
            store.flush()
            rows = list(sqlite_utils.Database(tmp_path / "log.db").query(
                "SELECT r.model_name, v.outcome, v.passed, v.total FROM verifications v "
                "JOIN responses r ON r.id = v.response_id ORDER BY r.position"))
            assert [(r["model_name"], r["outcome"]) for r in rows] == [("right", "pass"), ("wrong", "fail")]
    finally:
        store.close()

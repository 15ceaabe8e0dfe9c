"""An answer cut off by max_tokens says `truncated` — in the pane, `run`'s output and every export —
so a half answer is never taken for a whole one (finish reason `length`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner
from pilot import send_prompt, wait_for

from workbench import catalog
from workbench.cli import main
from workbench.config import ModelSpec, load_settings
from workbench.core import Cancel, Done, Engine, Event, Request, Token
from workbench.engines.pool import EnginePool
from workbench.export import csv as csv_export
from workbench.export import jsonl
from workbench.store import open_for_reading
from workbench.ui.app import build_app


class CutShort(Engine):
    """Streams a few words and stops at the token limit, as a real model does."""

    kind = "replay"

    def stream(self, request: Request, cancel: Cancel) -> Iterator[Event]:
        for word in ("one ", "two ", "three"):
            yield Token(word)
        yield Done(finish_reason="length")


def test_a_local_answer_cut_by_max_tokens_is_truncated_in_run_and_exports(tmp_path: Path) -> None:
    """SmolLM2 with --max-tokens 4: `run` says truncated, --json and the jsonl/csv exports flag it."""
    log = tmp_path / "log.db"
    plain = CliRunner().invoke(main, ["run", "Count from 1 to 100.", "-m", "smollm2", "--max-tokens", "4",
                                      "--temperature", "0", "--db", str(log)], catch_exceptions=False)
    assert plain.exit_code == 0, plain.output
    assert "── truncated · TTFT" in plain.stdout and "complete" not in plain.stdout, plain.stdout
    as_json = CliRunner().invoke(main, ["run", "Count from 1 to 100.", "-m", "smollm2", "--max-tokens", "4",
                                        "--json", "--db", str(log)], catch_exceptions=False)
    (record,) = json.loads(as_json.stdout)
    assert record["status"] == "complete" and record["finish_reason"] == "length" and record["truncated"] is True
    db = open_for_reading(log)
    try:
        out = io.StringIO()
        jsonl.write(db, out)
        assert all(json.loads(line)["truncated"] is True for line in out.getvalue().splitlines())
        out = io.StringIO()
        csv_export.write(db, out)
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert rows and all(r["truncated"] == "True" for r in rows)
    finally:
        db.conn.close()


async def test_the_pane_says_truncated() -> None:
    """The pane's figures line reads `truncated`, not `complete`, for an answer cut at the limit."""
    engine = CutShort("short")
    app = build_app(load_settings(), [catalog.Entry(ModelSpec(name="short", engine="replay"))], ["short"],
                    pool_factory=lambda chosen: EnginePool([engine]))
    async with app.run_test(size=(120, 30)) as pilot:
        await send_prompt(pilot, "go")
        screen = app.screen
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
        figures = str(screen.panes[0].query_one(".figures").render())
        assert figures.startswith("● truncated ·"), figures


def test_a_looping_base_model_is_stopped_repeating_in_json_and_exports(tmp_path: Path, gemma: ModelSpec) -> None:
    """Gemma 3 270M (a base model: the guard is on) loops on `print("hello")`: `run --json` and the
    jsonl/csv/markdown/html exports of the logged answer say finish reason `repeating`, not truncated."""
    from workbench.export import html, markdown

    log = tmp_path / "log.db"
    as_json = CliRunner().invoke(main, ["run", 'def hello():\n    print("hello")\n', "-m", "gemma3-270m",
                                        "--max-tokens", "300", "--temperature", "0", "--json", "--db", str(log)],
                                 catch_exceptions=False)
    assert as_json.exit_code == 0, as_json.output
    (record,) = json.loads(as_json.stdout)
    assert record["status"] == "complete" and record["finish_reason"] == "repeating", record
    assert record["truncated"] is False and record["text"].count('print("hello")') >= 4
    db = open_for_reading(log)
    try:
        out = io.StringIO()
        jsonl.write(db, out)
        (row,) = [json.loads(line) for line in out.getvalue().splitlines()]
        assert row["finish_reason"] == "repeating" and row["truncated"] is False and row["text"] == record["text"]
        out = io.StringIO()
        csv_export.write(db, out)
        (flat,) = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert flat["finish_reason"] == "repeating" and flat["truncated"] == "False"
        for export in (markdown, html):
            out = io.StringIO()
            export.write(db, out)
            assert "stopped: repeating" in out.getvalue(), export.__name__
    finally:
        db.conn.close()

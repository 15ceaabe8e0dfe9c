"""Contamination flags: an answer to a prompt created on or before its model's cutoff is marked in the log, the
reports (Markdown, HTML) and its pane; a blind pane shows it only once the vote has revealed the names."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import sqlite_utils
from pilot import wait_for as _wait

from workbench import catalog, demo_models
from workbench.batch import Batch, Item
from workbench.config import ModelSpec, load_settings
from workbench.core import Request
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.export import html, markdown
from workbench.prompts import parse
from workbench.store import Store
from workbench.store.queries import answers
from workbench.ui.app import build_app

CUTOFFS = {"late-model": "2024-08", "early-model": "2023-06", "undated-model": None}
FLAG = "prompt predates cutoff"


def _engine(name: str) -> ReplayEngine:
    engine = ReplayEngine(name, f"answer from {name}")
    engine.spec = ModelSpec(name=name, engine="replay", cutoff=CUTOFFS[name])  # as `from_spec` keeps it
    return engine


def _prompt(tmp_path: Path, created: str = "2024-01-15"):
    path = tmp_path / "intervals.md"
    path.write_text(f"---\ntitle: Intervals\ncreated: {created}\n---\nMerge overlapping intervals.\n")
    return parse(path)


def test_the_log_and_the_reports_flag_answers_to_prompts_older_than_the_models_cutoff(tmp_path):
    """A prompt of 2024-01-15: stale for a model whose cutoff is 2024-08, not for one of 2023-06, unknown (not
    flagged) for one with no cutoff. The log keeps the prompt's date and each answer's cutoff."""
    prompt = _prompt(tmp_path)
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("run")
    item = Item("intervals", "Intervals", Request(prompt.body, max_tokens=8), prompt=prompt)
    Batch([item], [_engine(n) for n in CUTOFFS], recorder=recorder).run()
    store.close()
    db = sqlite_utils.Database(tmp_path / "log.db")
    assert [r["created"] for r in db.query("SELECT created FROM prompts")] == ["2024-01-15"]
    rows = {r["model_name"]: r for r in answers(db)}
    assert {n: r["cutoff"] for n, r in rows.items()} == CUTOFFS
    assert {n: r["stale"] for n, r in rows.items()} == {"late-model": True, "early-model": False,
                                                         "undated-model": False}
    assert rows["late-model"]["prompt_created"] == "2024-01-15"

    out = io.StringIO()
    markdown.write(db, out)
    md = out.getvalue()
    sections = {name: md.split(f"· {name}\n", 1)[1].split("####", 1)[0] for name in CUTOFFS}
    assert f"{FLAG}: prompt created 2024-01-15, model cutoff 2024-08" in sections["late-model"]
    assert FLAG not in sections["early-model"] and FLAG not in sections["undated-model"]

    out = io.StringIO()
    html.write(db, out)
    page = out.getvalue()
    cards = {name: page.split(f"<span class=\"model\">{name}</span>", 1)[1].split("</article>", 1)[0]
             for name in CUTOFFS}
    assert "class=\"stale\"" in cards["late-model"]
    assert f"{FLAG}: prompt created 2024-01-15, model cutoff 2024-08" in cards["late-model"]
    assert FLAG not in cards["early-model"] and FLAG not in cards["undated-model"]


def test_a_prompt_typed_in_the_app_dates_from_the_day_it_was_sent(tmp_path):
    """No library date: a typed prompt is as new as the day it was sent, so no model of a past cutoff is flagged
    (as `leaderboard --fresh` counts it)."""
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("run")
    Batch([Item("adhoc-1", "typed", Request("typed now", max_tokens=8))], [_engine("late-model")],
          recorder=recorder).run()
    store.close()
    (row,) = answers(sqlite_utils.Database(tmp_path / "log.db"))
    assert row["prompt_created"] == dt.date.today().isoformat() and row["stale"] is False


def test_the_demo_models_carry_their_cutoffs():
    """The demo models' specs carry the dates the leaderboard's --fresh uses (DEMO_CUTOFFS), so their panes and
    answers are flagged like any configured model's."""
    from workbench.commands.leaderboard import DEMO_CUTOFFS

    for spec in (demo_models.smollm2(), demo_models.gemma()):
        if spec is not None:
            assert spec.cutoff == DEMO_CUTOFFS[spec.name]


def _app(tmp_path, blind=False):
    store = Store(tmp_path / "log.db")
    recorder = store.start_session("app")
    names = ["late-model", "early-model"]
    engines = {n: _engine(n) for n in names}
    specs = [engines[n].spec for n in names]
    app = build_app(load_settings(), [catalog.Entry(s) for s in specs], names,
                    pool_factory=lambda chosen: EnginePool([engines[s.name] for s in chosen]),
                    recorder=recorder, blind=blind)
    return app, store


def _subtitles(screen) -> dict[str, str]:
    return {pane.model: str(pane.border_subtitle) for pane in screen.panes}


async def test_the_pane_flags_an_answer_to_a_prompt_older_than_the_models_cutoff(tmp_path):
    app, store = _app(tmp_path)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            prompt = _prompt(tmp_path)
            await screen.send(prompt.body, prompt=prompt)
            await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
            shown = _subtitles(screen)
            assert FLAG in shown["late-model"] and FLAG not in shown["early-model"]
        store.flush()
        db = sqlite_utils.Database(tmp_path / "log.db")
        assert [r["created"] for r in db.query("SELECT created FROM prompts")] == ["2024-01-15"]
        assert {r["model_name"]: r["cutoff"] for r in db.query("SELECT model_name, cutoff FROM responses")} == {
            "late-model": "2024-08", "early-model": "2023-06"}
    finally:
        store.close()


async def test_a_blind_pane_shows_the_flag_only_after_the_vote(tmp_path):
    """The flag depends on the model's cutoff: shown before the vote, it would tell the panes apart (the one
    flagged is the model of the later cutoff). It appears with the names, once the vote reveals them."""
    app, store = _app(tmp_path, blind=True)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            screen = app.screen
            prompt = _prompt(tmp_path)
            await screen.send(prompt.body, prompt=prompt)
            await _wait(pilot, lambda: screen.comparison is not None and screen.comparison.finished)
            for pane in screen.panes:
                assert FLAG not in str(pane.border_subtitle) and FLAG not in str(pane.border_title)
                assert "cutoff" not in str(pane.query_one(".figures").render())
            await pilot.press("1")
            await _wait(pilot, lambda: screen.round.revealed)
            shown = _subtitles(screen)
            assert FLAG in shown["late-model"] and FLAG not in shown["early-model"]
    finally:
        store.close()

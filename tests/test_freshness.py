"""Contamination by date: model cutoffs in the config, prompts' `created`, and the stale/fresh rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from workbench.config import ConfigError, load_settings
from workbench.prompts import cutoff_end, fresh, stale


@pytest.mark.parametrize("cutoff, end", [("2024", dt.date(2024, 12, 31)), ("2024-02", dt.date(2024, 2, 29)),
                                         ("2023-02", dt.date(2023, 2, 28)), ("2024-06-15", dt.date(2024, 6, 15)),
                                         (dt.date(2024, 6, 15), dt.date(2024, 6, 15))])
def test_a_cutoff_covers_its_whole_year_month_or_day(cutoff, end):
    assert cutoff_end(cutoff) == end


def test_a_prompt_is_stale_up_to_the_end_of_the_cutoff_and_fresh_after():
    assert stale(dt.date(2024, 6, 1), "2024-06") and stale(dt.date(2024, 6, 30), "2024-06")
    assert not stale(dt.date(2024, 7, 1), "2024-06") and fresh(dt.date(2024, 7, 1), "2024-06")
    assert stale("2023-01-05", "2024") and not fresh("2023-01-05", "2024")
    assert stale("2024-06-30T23:59:00+00:00", "2024-06") and fresh("2024-07-01T00:00:00.000+00:00", "2024-06")
    assert fresh(dt.datetime(2026, 1, 15, 8, 0), "2025-12-31")


def test_unknown_is_neither_stale_nor_fresh():
    """stale() flags what is known to be stale; fresh() keeps what is known to be fresh."""
    for created, cutoff in ((None, "2024-06"), (dt.date(2026, 1, 1), None), (None, None)):
        assert not stale(created, cutoff) and not fresh(created, cutoff)


@pytest.mark.parametrize("bad", ["June 2024", "2024-13", "2024-02-30", "24-06", ""])
def test_a_malformed_cutoff_is_an_error(bad):
    with pytest.raises(ValueError):
        cutoff_end(bad)


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body)
    return path


def test_the_config_takes_a_cutoff_per_model(tmp_path: Path):
    path = write_config(tmp_path, '[[models]]\nname = "m"\nengine = "replay"\npath = "x.txt"\ncutoff = "2024-06"\n'
                                  '[[models]]\nname = "n"\nengine = "replay"\npath = "y.txt"\n')
    models = {m.name: m for m in load_settings(path).models}
    assert models["m"].cutoff == "2024-06" and models["n"].cutoff is None


@pytest.mark.parametrize("value, message", [('"June 2024"', "'cutoff' must be a year, month or day"),
                                            ('"2024-02-30"', "'cutoff' must be a year, month or day"),
                                            ("2024-06-01", "'cutoff' must be str, not date")])
def test_a_bad_cutoff_in_the_config_names_the_model(tmp_path: Path, value: str, message: str):
    path = write_config(tmp_path, f'[[models]]\nname = "m"\nengine = "replay"\npath = "x.txt"\ncutoff = {value}\n')
    with pytest.raises(ConfigError, match=f"model 'm': {message}"):
        load_settings(path)


def test_an_unreadable_date_is_not_stale():
    """A log or bundle is read as found: a date nobody can read flags nothing (and raises nothing)."""
    assert not stale("2024-01-01", "June 2024") and not stale("not a date", "2024-06")

"""Helpers for driving the app with Textual's Pilot: wait for a condition, type, send a prompt."""

from __future__ import annotations

import time


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    """Let the app run until `condition()` holds (then one more frame, so the last paint lands)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            await pilot.pause(0.1)
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


async def type_text(pilot, text: str) -> None:
    """Type `text` key by key, as a person would."""
    for ch in text:
        await pilot.press(ch if ch != " " else "space")


async def send_prompt(pilot, text: str) -> None:
    """Click the prompt bar, type `text` and press Enter."""
    await pilot.click("PromptInput")
    await type_text(pilot, text)
    await pilot.press("enter")

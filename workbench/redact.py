"""Untrusted text made safe: keys redacted from what providers send back, terminal escapes removed.

A provider's error body, or an answer, can echo the request's `Authorization` header; a model's
answer, a battle file or a program's stderr can hold escape sequences that set the terminal's
title or write its clipboard (OSC 0, OSC 52). Everything a provider sends passes `Redactor`
before it is shown, logged or exported; everything untrusted printed by the CLI passes
`terminal_safe`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Iterable
from urllib.parse import quote

# Keys litellm reads by default, for telling a user why a hosted model is unavailable.
DEFAULT_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "xai": "XAI_API_KEY",
}

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would redact ordinary words


def secret_forms(secret: str) -> set[str]:
    """A key and the obvious ways it is re-encoded on its way back (URL, JSON, base64)."""
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()}
    return {f for f in forms if len(f) >= MIN_SECRET}


class Redactor:
    """Replaces every form of the given secrets with `[redacted]`."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms = sorted({f for s in secrets if s and len(s) >= MIN_SECRET for f in secret_forms(s)}, key=len,
                       reverse=True)
        self.forms = tuple(forms)
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None
        self.longest = max((len(f) for f in forms), default=0)

    def __call__(self, text: str | None) -> str | None:
        """The text with every secret replaced."""
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def stream(self) -> "StreamRedactor":
        """A redactor for text that arrives in pieces (a secret may be split across them)."""
        return StreamRedactor(self)


class StreamRedactor:
    """Redacts a stream: holds back only a tail that could be the start of a secret.

    Ordinary text passes at once (the first token's time is not delayed); a tail such as `sk-pro`
    waits for the next piece, which either completes a secret (redacted) or shows it was not one.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redact = redactor
        self._forms = redactor.forms
        self._held = ""

    def feed(self, piece: str) -> str:
        """What of the stream so far can be shown now."""
        if not self._forms:
            return piece
        text = self._redact(self._held + piece) or ""
        hold = 0
        for k in range(min(len(text), self._redact.longest - 1), 0, -1):
            tail = text[-k:]
            if any(len(f) > k and f.startswith(tail) for f in self._forms):
                hold = k
                break
        self._held = text[len(text) - hold:] if hold else ""
        return text[:len(text) - hold]

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        text, self._held = self._held, ""
        return self._redact(text) or ""


def known_keys(*env_names: str | None) -> list[str]:
    """The values of these environment variables and of the providers' default key variables."""
    names = {n for n in env_names if n} | set(DEFAULT_KEY_ENV.values())
    return [os.environ[n] for n in sorted(names) if os.environ.get(n)]


# ESC-introduced sequences (CSI, OSC, DCS, PM, APC and two-byte escapes), and every other control
# character but newline and tab (C0, DEL, C1).
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str | None) -> str:
    """Untrusted text fit to print on a terminal: escape sequences and control characters removed."""
    if not text:
        return text or ""
    return _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))

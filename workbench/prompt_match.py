"""Fuzzy search over the prompt library, for the picker: every word must match, best first."""

from __future__ import annotations

from typing import Protocol, TypeVar


class _Searchable(Protocol):
    """What the search reads of a prompt (a PromptFile; not imported, as prompts imports this module)."""

    title: str
    name: str
    tags: list[str]
    language: str | None


PromptFile = TypeVar("PromptFile", bound=_Searchable)


def _subsequence_score(query: str, text: str) -> float:
    """How well `query` matches `text` as a subsequence (0: not at all); contiguous and word-start hits score more."""
    text = text.lower()
    if not query or not text:
        return 0.0
    if query in text:
        at = text.index(query)
        return 100.0 + 10 * len(query) - at * 0.1 + (20 if at == 0 or not text[at - 1].isalnum() else 0)
    score, pos, prev = 0.0, 0, -2
    for ch in query:
        found = text.find(ch, pos)
        if found < 0:
            return 0.0
        score += 1 + (3 if found == prev + 1 else 0) + (2 if found == 0 or not text[found - 1].isalnum() else 0)
        prev, pos = found, found + 1
    return score


def match(query: str, library: dict[str, PromptFile]) -> list[PromptFile]:
    """Prompts matching every word of `query` (fuzzily, in title, name, tags or language), best first."""
    words = query.lower().split()
    if not words:
        return sorted(library.values(), key=lambda p: p.title.lower())
    ranked: list[tuple[float, str, PromptFile]] = []
    for prompt in library.values():
        haystacks = [prompt.title, prompt.name, *prompt.tags, prompt.language or ""]
        total = 0.0
        for word in words:
            best = max(_subsequence_score(word, h) for h in haystacks)
            if best == 0:
                break
            total += best
        else:
            ranked.append((total, prompt.title.lower(), prompt))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [r[2] for r in ranked]

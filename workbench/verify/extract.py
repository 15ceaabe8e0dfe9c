"""Find the code in an answer: fenced blocks in the prompt's language, joined when the answer
splits one program, without the blocks that only show usage or output; or a bare code file; or,
for an answer without fences, the code that workbench.codeblocks finds in its prose."""

from __future__ import annotations

import ast
import re
import threading
import warnings
from dataclasses import dataclass

from workbench.codeblocks import ALIASES, code_blocks, normalize

__all__ = ["ALIASES", "Block", "blocks", "extract_code", "normalize"]

_EXAMPLE = re.compile(r"\b(example|usage|output|prints?|would print|for instance|e\.g\.|demo|sample|result|"
                      r"you can (use|call|run|test)|to (use|run|test|call) it|testing|test it|try it|"
                      r"run (it|this|the script|with|as)|invoke|how to (use|run|call))\b", re.I)
_INVOCATION = re.compile(r"^\s*(\$ |\./|(ba)?sh |chmod |python3? |node )")
_JS_NAME = re.compile(r"^(?:export\s+)?(?:(?:async\s+)?function\s*\*?\s*|(?:const|let|var|class)\s+)"
                      r"([A-Za-z_$][\w$]*)", re.M)
_SQL_QUERY = re.compile(r"^\s*(select|with|values)\b", re.I | re.M)
_PROSE = re.compile(r"^[A-Z][a-z]+(?: [A-Za-z',]+){5,}[.!?:]$")


@dataclass
class Block:
    """One code block of an answer."""

    lang: str | None
    """Canonical language of the fence tag (the detected one for unfenced code); None when untagged."""
    code: str
    before: str
    """The last line of prose before the block (how the answer introduces it)."""
    fenced: bool = True
    """False for code the answer left without a fence (found by workbench.codeblocks)."""


def blocks(text: str) -> list[Block]:
    """Every fenced block (``` or ~~~, any indent); a fence left open runs to the end of the text."""
    return [b for b in _blocks(text) if b.fenced]


def _blocks(text: str) -> list[Block]:
    """Every block, fenced or not (workbench.codeblocks.code_blocks), each with the prose line before it:
    for a fenced block since the previous fenced block (as it always was), for unfenced code since any block."""
    lines = text.replace("\r\n", "\n").split("\n")
    found: list[Block] = []
    after_fenced = after_any = 0  # the first line after the previous (fenced) block

    def before(first: int, since: int) -> str:
        return next((lines[k].strip() for k in range(first - 1, since - 1, -1) if lines[k].strip()), "")

    for b in code_blocks(text):
        if b.fenced:
            found.append(Block(b.language, b.code, before(b.start_line - 1, after_fenced)))
            after_fenced = after_any = b.end_line + 1
        else:
            found.append(Block(b.language, b.code, before(b.start_line, after_any), fenced=False))
            after_any = b.end_line
    return found


def extract_code(answer_text: str, language: str | None) -> str | None:
    """The answer's program in `language` (None: whatever runnable language it is in), or None.

    Fenced blocks decide, as they always did. Unfenced code (workbench.codeblocks) counts for an answer
    without fences that is not a bare Python file (for other languages it comes before the looser
    bare-file test, which takes the prose around the code too), or when the fenced blocks hold no program (only a usage
    example, say) and together with the unfenced code they do; with no `language`, unfenced code only
    counts as Python (what `verify` runs then), unless a fenced block names the language.
    """
    language = normalize(language)
    every = _blocks(answer_text)
    found = [b for b in every if b.fenced]
    if len(found) == len(every):
        return _bare(answer_text, language) if not found else _pick(found, language)[0]
    if not found:  # a bare Python file compiles whole; elsewhere the blocks found are more precise
        if language in (None, "python"):
            return _bare(answer_text, language) or _pick(every, "python")[0]
        return _pick(every, language)[0] or _bare(answer_text, language)
    code, chosen = _pick(found, language)
    if code is not None and _is_program(code, chosen):
        return code
    more, more_language = _pick(every, language or chosen or "python")
    if more is not None and (code is None or _is_program(more, more_language)):
        return more
    return code


def _pick(found: list[Block], language: str | None) -> tuple[str | None, str | None]:
    """(the program in `language` among `found`, its language); None for a language means any runnable one."""
    if language is None:
        language = next((b.lang for b in found if b.lang in ("python", "javascript", "bash", "sql")), None)
        if language is None:
            language = "python" if any(b.lang is None and _python_ok(b.code) for b in found) else None
        if language is None:
            return None, None
    chosen = [b for b in found if b.lang == language]
    if not chosen:
        chosen = [b for b in found if b.lang is None and _plausible(b.code, language)]
    chosen = [b for b in chosen if b.code.strip()]
    if not chosen:
        return None, language
    return _join(_select(chosen, language), language), language


def _select(chosen: list[Block], language: str) -> list[Block]:
    """Drop transcripts, usage examples and versions that a later block replaces."""
    if language == "python":
        kept = [b for b in chosen if not _is_transcript(b.code)] or chosen
    else:
        kept = chosen
    if any(_is_program(b.code, language) for b in kept):
        kept = [b for b in kept if _is_program(b.code, language)
                or not (_EXAMPLE.search(b.before) or _only_tests(b.code, language) or _invocation(b.code))]
    if language == "bash":
        scripts = [b for b in kept if b.code.startswith("#!")]
        if len(scripts) > 1:  # the broken script quoted, then the fixed one: keep the last
            kept = [b for b in kept if not b.code.startswith("#!") or b is scripts[-1]]
    if language == "sql":
        queries = [b for b in kept if _SQL_QUERY.search(b.code)]
        if queries:  # schema shown for context, or alternatives: run the last query
            kept = [queries[-1]]
    result: list[Block] = []
    for i, block in enumerate(kept):
        names = _names(block.code, language)
        later = [_names(b.code, language) for b in kept[i + 1:]]
        if names and any(names <= other for other in later):
            continue  # a later block defines all of it again: an earlier version (e.g. the buggy one)
        result.append(block)
    return result or kept[-1:]


def _join(chosen: list[Block], language: str) -> str:
    """The blocks as one program; for Python, only the blocks that compile when together they do not."""
    code = "\n\n".join(b.code.rstrip("\n") for b in chosen) + "\n"
    if language == "python" and not _python_ok(code):
        good = [b for b in chosen if _python_ok(b.code)]
        if good and len(good) < len(chosen):
            code = "\n\n".join(b.code.rstrip("\n") for b in good) + "\n"
    return code


def _names(code: str, language: str) -> frozenset[str]:
    """Top-level functions and classes a block defines (bindings too, for JavaScript)."""
    if language == "python":
        tree = _parse(code)
        if tree is None:
            return frozenset(re.findall(r"^(?:async\s+)?(?:def|class)\s+(\w+)", code, re.M))
        return frozenset(n.name for n in tree.body
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    if language == "javascript":
        return frozenset(_JS_NAME.findall(code))
    if language == "bash":
        return frozenset(re.findall(r"^(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\s*\)\s*\{?", code, re.M))
    return frozenset()


def _is_program(code: str, language: str) -> bool:
    """Whether a block holds (part of) the program rather than a call, a test or a transcript."""
    if language == "bash":
        lines = [ln for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        return code.startswith("#!") or bool(_names(code, language)) or (
            len(lines) > 3 and not all(ln.startswith("$ ") for ln in lines))
    if language == "sql":
        return bool(_SQL_QUERY.search(code))
    names = _names(code, language)
    return bool(names) and not _only_tests(code, language)


def _invocation(code: str) -> bool:
    """A block of shell commands that run the program (`./fix.sh dir`, `$ python app.py`)."""
    lines = [ln for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and all(_INVOCATION.match(ln) for ln in lines)


def _only_tests(code: str, language: str) -> bool:
    """A block that defines nothing but tests (the answer's own, which may import a module that is not there)."""
    names = _names(code, language)
    return bool(names) and all(n.lower().startswith("test") for n in names)


AST_LOCK = threading.Lock()
"""One `ast.parse` at a time: CPython 3.11.7's parser fails with "SystemError: AST constructor recursion
depth mismatch" when threads parse at once (seen with several panes' runs started together)."""


def _parse(code: str) -> ast.Module | None:
    with AST_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like
        try:
            return ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            # Deep nesting ("-" * 10**5 + "1") overflows CPython's parser stack, which it reports as a
            # MemoryError or RecursionError: for an answer's text that only means "not usable code".
            return None


def _python_ok(code: str) -> bool:
    """Whether `code` compiles as Python and does something (not a lone word or number)."""
    tree = _parse(code)
    if tree is None or not tree.body:
        return False
    return any(not isinstance(n, ast.Expr) or isinstance(n.value, (ast.Call, ast.Await)) for n in tree.body)


def _is_transcript(code: str) -> bool:
    """An interactive session (>>> prompts) rather than a program."""
    lines = [ln for ln in code.splitlines() if ln.strip()]
    return bool(lines) and sum(ln.lstrip().startswith((">>>", "...")) for ln in lines) * 2 >= len(lines)


def _plausible(code: str, language: str) -> bool:
    """Whether untagged text could be code in `language`."""
    if language == "python":
        return _python_ok(code)
    if any(_PROSE.match(ln.strip()) for ln in code.splitlines()):
        return False
    if language == "javascript":
        return bool(re.search(r"\bfunction\b|=>|\b(const|let|var|class)\s|require\(|console\.", code))
    if language == "sql":
        return bool(re.match(r"^\s*(--[^\n]*\n\s*)*(select|with|create|insert|update|delete|values)\b", code, re.I))
    return bool(code.strip())


def _bare(text: str, language: str | None) -> str | None:
    """A whole answer without fences that is code (a bare code file), or None."""
    if not text.strip():
        return None
    code = text.strip("\n") + "\n"
    if language in (None, "python"):
        return code if _python_ok(code) else None
    return code if _plausible(code, language) else None

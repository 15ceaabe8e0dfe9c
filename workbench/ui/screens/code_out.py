"""Getting code out of the compare screen: copy it (OSC 52), write it to a file, diff two panes."""

from __future__ import annotations

from pathlib import Path

from textual import work

from workbench.blind import LABELS

CODE_OUT_ACTIONS = {"copy_code", "copy_answer", "save_code", "diff"}
"""The actions that need an answer on screen (for the screen's `check_action`)."""

EXTENSIONS = {"python": "py", "javascript": "js", "typescript": "ts", "bash": "sh", "sql": "sql", "rust": "rs",
              "go": "go", "c": "c", "cpp": "cpp", "c++": "cpp", "java": "java", "kotlin": "kt", "ruby": "rb",
              "html": "html", "css": "css", "json": "json", "yaml": "yaml", "toml": "toml", "markdown": "md",
              "csharp": "cs", "php": "php", "swift": "swift", "lua": "lua", "r": "r", "haskell": "hs"}


def _blocks(text: str) -> list[tuple[str | None, str]]:
    """The answer's code blocks as (language or None, code), in order: fenced ones and bare code alike."""
    from workbench.codeblocks import code_blocks

    return [(b.language, b.code) for b in code_blocks(text) if b.code.strip()]


def extension(language: str | None) -> str:
    """A file extension for a language name ('py' for python; 'txt' when unknown)."""
    if not language:
        return "txt"
    if language in EXTENSIONS:
        return EXTENSIONS[language]
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        patterns = get_lexer_by_name(language).filenames
    except ClassNotFound:
        return "txt"
    for pattern in patterns:  # '*.kt' -> 'kt'
        if pattern.startswith("*.") and pattern[2:].isalnum():
            return pattern[2:]
    return "txt"


def describe(language: str | None, code: str) -> str:
    """'python, 14 lines'."""
    n = code.count("\n") + (not code.endswith("\n"))
    return f"{language or 'no language'}, {n} line{'s' * (n != 1)}"


def shown(path: Path | str) -> str:
    """A file name for a message: control characters (a typed NUL, an escape) as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(path))


def write_new(path: Path, text: str, overwrite: bool) -> str:
    """Write `text` to `path` (a new file unless `overwrite`); returns 'written', 'exists' or one error line."""
    created = False
    try:
        if path.is_dir():
            return f"Could not write {shown(path)}: it is a directory"
        with open(path, "w" if overwrite else "x", encoding="utf-8", newline="") as f:
            created = not overwrite
            f.write(text)
    except FileExistsError:
        return "exists"
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name, text that is not UTF-8
        if created:  # a new file that could not be filled (a full disk): do not leave half of it
            try:
                path.unlink()
            except OSError:
                pass
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"Could not write {shown(path)}: {reason}"
    return "written"


class CodeOutMixin:
    """Copy the focused pane's code or answer, write a block to a file, diff two panes.

    Expects of the screen: `comparison` (None before a prompt; `.answers`), `round` (`.hidden`),
    `panes`, `_focused_index()`, `code_style` (a `CodeStyle`, for the diff's highlighting),
    and Textual's `app`, `notify` and `@work`.
    """

    _code_cursor: tuple[str, int] | None = None
    """(answer id, block index) last copied: copying the same answer again moves to its next block."""

    # -- what the focused pane holds -------------------------------------------
    def _code_pane(self, verb: str) -> tuple[int, object] | None:
        """The focused pane's index and answer, or None (after saying why)."""
        comparison = self.comparison
        if comparison is None:
            self.notify(f"Send a prompt first: there is nothing to {verb}.", severity="warning", timeout=3)
            return None
        index = self._focused_index()
        if index is None and len(comparison.answers) == 1:
            index = 0
        if index is None or index >= len(comparison.answers):
            self.notify(f"Focus a pane (click it, or ← →) to {verb} its answer.", severity="warning", timeout=3)
            return None
        return index, comparison.answers[index]

    def _current_block(self, answer, advance: bool) -> tuple[int, list, str] | None:
        """(block index, blocks, streaming note) for `answer`; moves on to the next block if `advance`."""
        state, text = answer.read(0)
        found = _blocks(text)
        if not found:
            return None
        last = self._code_cursor
        copied = last[1] if last is not None and last[0] == answer.id else None
        if advance:  # only a copy moves the cursor
            n = 0 if copied is None else (copied + 1) % len(found)
            self._code_cursor = (answer.id, n)
        else:
            n = 0 if copied is None else min(copied, len(found) - 1)
        return n, found, "" if state.finished else " (still streaming)"

    # -- actions ----------------------------------------------------------------
    def action_copy_code(self) -> None:
        """Copy the focused pane's code block to the clipboard; again: the next block."""
        picked = self._code_pane("copy")
        if picked is None:
            return
        index, answer = picked
        current = self._current_block(answer, advance=True)
        if current is None:
            self.notify(f"No code block in answer {LABELS[index]}: press the copy-answer key for the whole text.",
                        severity="warning", timeout=4)
            return
        n, found, note = current
        language, code = found[n]
        self.app.copy_to_clipboard(code)
        more = " · again for the next" if len(found) > 1 else ""
        self.notify(f"Copied block {n + 1}/{len(found)} ({describe(language, code)}) from {LABELS[index]}"
                    f"{note}{more}", timeout=4)

    def action_copy_answer(self) -> None:
        """Copy the focused pane's whole answer (its Markdown, as the model wrote it)."""
        picked = self._code_pane("copy")
        if picked is None:
            return
        index, answer = picked
        state, text = answer.read(0)
        if not text.strip():
            self.notify(f"Answer {LABELS[index]} is empty: nothing to copy.", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(text)
        lines = text.count("\n") + (not text.endswith("\n"))
        note = "" if state.finished else " (still streaming)"
        self.notify(f"Copied answer {LABELS[index]} ({lines} line{'s' * (lines != 1)}, {len(text):,} chars){note}",
                    timeout=4)

    def action_save_code(self) -> None:
        """Write the focused pane's code block (the one last copied, else the first) to a file."""
        picked = self._code_pane("save")
        if picked is None:
            return
        index, answer = picked
        current = self._current_block(answer, advance=False)
        if current is None:
            self.notify(f"No code block in answer {LABELS[index]}: nothing to write.", severity="warning", timeout=4)
            return
        n, found, note = current
        language, code = found[n]
        what = f"block {n + 1}/{len(found)} ({describe(language, code)}) of answer {LABELS[index]}{note}"
        name = f"answer_{LABELS[index]}_{n + 1}.{extension(language)}"
        self._ask_file_name(what, name, code)

    def _ask_file_name(self, what: str, name: str, code: str, exists: str | None = None) -> None:
        from workbench.ui.screens.save_code import SaveCode

        def chosen(result: tuple[str, bool] | None) -> None:
            if result is not None:
                self._write_code(what, result[0], result[1], code)

        self.app.push_screen(SaveCode(what, name, str(Path.cwd()), exists=exists), chosen)

    @work(thread=True, group="save-code")
    def _write_code(self, what: str, name: str, overwrite: bool, code: str) -> None:
        """The write, off the UI thread; the outcome is shown back on it (file names are not markup)."""
        try:
            path = Path(name).expanduser()
            path = path if path.is_absolute() else Path.cwd() / path
        except (OSError, RuntimeError, ValueError) as exc:  # no cwd, an unknown ~user
            self.app.call_from_thread(self.notify, f"Could not write {shown(name)}: {exc}", title="Not saved",
                                      severity="error", timeout=8, markup=False)
            return
        outcome = write_new(path, code, overwrite)
        if outcome == "written":
            lines = code.count("\n") + (not code.endswith("\n"))
            self.app.call_from_thread(self.notify, f"Wrote {lines} line{'s' * (lines != 1)} to {shown(path)}",
                                      timeout=6, markup=False)
        elif outcome == "exists":
            self.app.call_from_thread(self._ask_file_name, what, name, code, shown(path))
        else:
            self.app.call_from_thread(self.notify, outcome, title="Not saved", severity="error", timeout=8,
                                      markup=False)

    def action_diff(self) -> None:
        """Diff the focused pane's code against the next pane's (the whole answers if either has none)."""
        comparison = self.comparison
        if comparison is None:
            self.notify("Send a prompt first: there is nothing to diff.", severity="warning", timeout=3)
            return
        answers = comparison.answers
        if len(answers) < 2:
            self.notify("A diff needs two panes.", severity="warning", timeout=3)
            return
        focused = self._focused_index()
        first = focused if focused is not None else 0
        left, right = sorted((first, (first + 1) % len(answers)))
        hidden = self.round.hidden if self.round is not None else True
        sides = []
        for i in (left, right):
            state, text = answers[i].read(0)
            found = _blocks(text)
            name = LABELS[i] if hidden else f"{LABELS[i]} · {state.model}"
            sides.append((name, text, found, state.finished))
        missing = [LABELS[i] for i, side in zip((left, right), sides) if not side[2]]
        if missing:
            texts = [side[1] for side in sides]
            language = "markdown"
            what = f"whole answers (no code in {' or '.join(missing)})"
        else:
            texts = ["".join(code if code.endswith("\n") else code + "\n" for _, code in side[2]) for side in sides]
            language = next((lang for side in sides for lang, _ in side[2] if lang), None) or "text"
            what = "code"
        if not all(side[3] for side in sides):
            what += ", still streaming"
        from workbench.ui.screens.diff import DiffScreen

        self.app.push_screen(DiffScreen(sides[0][0], texts[0], sides[1][0], texts[1], language, self.code_style,
                                        what=what))

"""The streaming Markdown renderer: lines highlighted once, code fences, linear work."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text

import unfenced_answers as answers
from workbench.ui import render
from workbench.ui.render import CodeStyle, StreamDocument


def _doc() -> StreamDocument:
    return StreamDocument(CodeStyle("monokai"))


def _styled(text: Text) -> bool:
    return any(span.style for span in text.spans)


def test_code_in_a_fence_is_highlighted_as_it_streams():
    doc = _doc()
    doc.feed("Here:\n```python\ndef f(x):\n    return x + 1\n")
    assert [ln.code for ln in doc.lines] == [False, True, True, True]
    assert doc.lines[2].text.plain == "def f(x):"
    assert _styled(doc.lines[2].text), "a finished code line is highlighted before the fence closes"
    assert not _styled(doc.lines[0].text)


def test_tokens_split_mid_line_give_the_same_result_as_whole_text():
    text = "# Title\nSome `code` and **bold**.\n```js\nconst a = 1;\n```\nafter\n"
    whole = _doc()
    whole.feed(text)
    whole.close()
    pieces = _doc()
    for i in range(0, len(text), 3):
        pieces.feed(text[i:i + 3])
    pieces.close()
    assert [ln.text.plain for ln in pieces.lines] == [ln.text.plain for ln in whole.lines]
    assert [ln.text.spans for ln in pieces.lines] == [ln.text.spans for ln in whole.lines]


def test_closing_a_fence_rehighlights_the_block_once_as_a_whole():
    doc = _doc()
    doc.feed('Intro\n```python\nx = """\nstill a string\n"""\n')
    before = {str(span.style) for span in doc.lines[3].text.spans}
    changed = doc.feed("```\n")
    assert changed == 2, "the block's first line is reported as changed, so the view re-wraps from there"
    after = {str(span.style) for span in doc.lines[3].text.spans}
    quote = {str(span.style) for span in doc.lines[4].text.spans}
    assert doc.lines[3].text.plain == "still a string"
    # Seen one line at a time the words lex as names; seen whole, the line is inside a string.
    assert after == quote
    assert before != after


def test_prose_gets_light_markdown():
    doc = _doc()
    doc.feed("## Heading\n- item with `x`\n1. first\n")
    assert doc.lines[0].text.plain == "Heading"
    assert doc.lines[1].text.plain == "• item with x"
    assert doc.lines[2].text.plain == "1. first"


def test_partial_line_is_rendered_without_being_finished():
    doc = _doc()
    doc.feed("```python\nprint('hi')")
    assert len(doc.lines) == 1
    partial = doc.render_partial()
    assert partial is not None and partial.code and partial.text.plain == "print('hi')"
    doc.close()
    assert doc.lines[-1].text.plain == "print('hi')" and doc.partial == ""


def test_feeding_is_linear_in_the_answer_length():
    """Each line is rendered once: feeding 4x the lines costs about 4x, not 16x (counted, not timed)."""
    calls = {"n": 0}

    class Counting(CodeStyle):
        def highlight(self, code, language):
            calls["n"] += len(code)
            return super().highlight(code, language)

    def cost(lines: int) -> int:
        calls["n"] = 0
        doc = StreamDocument(Counting("monokai"))
        doc.feed("```python\n")
        for i in range(lines):
            for piece in (f"value_{i} = ", f"compute({i})", "\n"):
                doc.feed(piece)
                doc.render_partial()
        doc.feed("```\n")
        return calls["n"]

    small, large = cost(200), cost(800)
    assert large < 5 * small


# -- code without fences ------------------------------------------------------------------------------



def _streamed(text: str, step: int = 7) -> tuple[StreamDocument, int]:
    """The document after streaming `text` and closing it, and close()'s first changed line."""
    doc = _doc()
    for i in range(0, len(text), step):
        doc.feed(text[i:i + step])
        doc.render_partial()
    return doc, doc.close()


def test_unfenced_code_is_rendered_as_code_when_the_answer_ends():
    doc, first = _streamed(answers.PYTHON_WITH_COMMENTS)
    lines = answers.PYTHON_WITH_COMMENTS.split("\n")
    code = range(2, 13)  # from `# Function to calculate the factorial` to `print(factorial(5))`
    assert first == 2, "close() reports the first restyled line, so a view lays out again from there"
    assert [i for i, line in enumerate(doc.lines) if line.code] == list(code)
    for i in code:
        assert doc.lines[i].text.plain == lines[i], "as written: no heading, no bullet, indentation kept"
    assert doc.lines[2].text.plain == "# Function to calculate the factorial"  # a comment, not a heading
    assert doc.lines[9].text.plain == "        return n * factorial(n - 1)"
    assert _styled(doc.lines[3].text) and _styled(doc.lines[2].text)
    assert sorted(doc.take_restyled()) == list(code)
    assert not doc.lines[0].code and not doc.lines[14].code  # the prose around it stays prose


def test_prose_stays_prose_when_the_answer_ends():
    for text in (answers.PROSE, answers.SMOLLM2_TIPS):
        doc, first = _streamed(text)
        assert first == len(doc.lines) - (not text.endswith("\n")) and doc.take_restyled() == []
        assert not any(line.code for line in doc.lines)
    doc, _ = _streamed(answers.PROSE)
    assert doc.lines[0].text.plain == "Sorting algorithms"  # still a heading
    assert doc.lines[4].text.plain.startswith("• Bubble sort")


def test_a_fenced_answer_is_unchanged_by_the_end():
    text = "Here:\n```python\n# not a heading\ndef f(x):\n    return x + 1\n```\nDone.\n"
    doc = _doc()
    doc.feed(text)
    before = [(ln.text.plain, ln.text.spans, ln.code) for ln in doc.lines]
    doc.take_restyled()
    assert doc.close() == len(doc.lines)
    assert [(ln.text.plain, ln.text.spans, ln.code) for ln in doc.lines] == before
    assert doc.take_restyled() == []


def test_a_real_small_model_answer_without_fences():
    doc, first = _streamed(answers.SMOLLM2_C)
    assert first == 0 and all(line.code for line in doc.lines[:34])
    assert doc.lines[0].text.plain == "#include <stdio.h>"


def test_unfenced_code_is_found_once_at_the_end_not_per_token(monkeypatch):
    calls: list[int] = []
    real = render.code_blocks
    monkeypatch.setattr(render, "code_blocks", lambda text: calls.append(len(text)) or real(text))
    doc = _doc()
    for i in range(0, len(answers.PYTHON_WITH_COMMENTS), 3):
        doc.feed(answers.PYTHON_WITH_COMMENTS[i:i + 3])
        doc.render_partial()
    assert calls == []
    doc.close()
    assert len(calls) == 1


def test_rendering_unfenced_code_at_the_end_is_linear():
    """Counted, not timed: 4x the lines of unfenced code cost about 4x to highlight at the end."""
    calls = {"n": 0}

    class Counting(CodeStyle):
        def highlight(self, code, language):
            calls["n"] += len(code)
            return super().highlight(code, language)

    def cost(functions: int) -> int:
        calls["n"] = 0
        doc = StreamDocument(Counting("monokai"))
        doc.feed("Here it is:\n\n")
        for i in range(functions):
            for piece in (f"def step_{i}(x):\n", "    # one step\n", f"    return x + {i}\n"):
                doc.feed(piece)
                doc.render_partial()
        doc.close()
        assert all(line.code for line in doc.lines[2:-1])
        return calls["n"]

    small, large = cost(100), cost(400)
    assert large < 5 * small


def test_lines_that_are_not_the_models_split_the_search_for_unfenced_code():
    """A line the app adds between turns (not the model's) is never taken into a block of code."""
    doc = _doc()
    doc.feed("def f(x):\n    return x\n")
    assert doc.close() == 0 and all(line.code for line in doc.lines)
    doc.lines.append(render.Line(Text("x = 1  # the app's own line, shaped like code"), False))
    doc.feed("y = f(2)\nprint(y)\n\nThat prints 2.\n")
    assert doc.close() == 3
    assert [line.code for line in doc.lines] == [True, True, False, True, True, False, False]


_answer_lines = st.one_of(
    st.sampled_from(["", "def f(x):", "    return x", "    # note", "# Title", "- item", "print(f(1))", "x = 1",
                     "}", "function g() {", "```", "```python", "~~~", "Some prose that reads like a sentence.",
                     "\tindented with a tab", "#include <stdio.h>", "return 1;"]),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),  # rich drops control characters
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.lists(_answer_lines, max_size=20).map("\n".join), st.integers(1, 9))
def test_every_code_line_shows_the_models_text_as_it_came(text, step):
    doc, first = _streamed(text, step)
    raw = [line.rstrip("\r").expandtabs(4) for line in text.split("\n")]
    assert len(doc.lines) == len(raw) - (text.endswith("\n") or text == "")
    assert 0 <= first <= len(doc.lines)
    for line, came in zip(doc.lines, raw):
        if line.code:
            assert line.text.plain == came


def test_needs_close_until_the_lines_have_been_searched_for_code():
    doc = _doc()
    assert not doc.needs_close
    doc.feed("def f(x):\n    return x\n")
    assert doc.needs_close, "a view must close an answer that ended in a newline too"
    doc.close()
    assert not doc.needs_close
    doc.feed("more")
    assert doc.needs_close


# -- a long block's second pass, in slices -----------------------------------------------------------


def _long_block(lines: int) -> str:
    body = "".join(f'def f_{i}(x):\n    """doc {i}\n    still the docstring"""\n    return x + {i}\n'
                   for i in range(lines // 4))
    return f"Intro\n```python\nx = '''\n{body}'''\n"


def test_closing_a_long_block_does_not_lex_it_whole_at_once():
    """Closing a 2,000-line fence hands the second pass to `work` instead of doing it in `feed`."""
    doc = _doc()
    doc.feed(_long_block(2000))
    before = [ln.text for ln in doc.lines]
    doc.feed("```\n")
    assert doc.pending and doc.take_restyled() == []
    assert [ln.text for ln in doc.lines[:-1]] == before, "nothing restyled inside feed"
    steps = 0
    while doc.work(deadline=0.0):  # a deadline already past: the smallest slice each time
        steps += 1
    assert steps > 10 and not doc.pending


def test_the_sliced_pass_gives_what_the_whole_block_pass_gives():
    text = _long_block(1200)
    sliced = _doc()
    sliced.feed(text + "```\nAfter the block.\n")
    restyled = []
    while sliced.work(deadline=0.0):
        restyled += sliced.take_restyled()
    restyled += sliced.take_restyled()
    whole = CodeStyle("monokai").highlight("\n".join(text.split("\n")[2:-1]), "python")
    code = sliced.lines[2:2 + len(whole)]
    assert [ln.text.plain for ln in code] == [t.plain for t in whole]
    assert [ln.text.spans for ln in code] == [t.spans for t in whole]
    assert restyled and all(2 <= i < 2 + len(whole) for i in restyled)
    assert sliced.lines[-1].text.plain == "After the block."  # streaming went on meanwhile


def test_a_short_block_is_still_restyled_at_once():
    doc = _doc()
    doc.feed('```python\nx = """\nstill a string\n"""\n```\n')
    assert not doc.pending and doc.take_restyled()


def _tracked_reachable(roots) -> int:
    """How many GC-tracked objects are reachable from `roots` (classes not followed: they are shared)."""
    import gc

    seen: set[int] = set()
    stack = list(roots)
    count = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if gc.is_tracked(obj):
            count += 1
        stack.extend(gc.get_referents(obj))
    return count


def test_a_long_answer_keeps_few_tracked_objects_per_line():
    """Issue 15: a finished line is held compactly (its text and its spans as numbers), not as a rich Text
    with a list of spans, each holding a style: a long answer on screen gives the GC little to walk."""
    import gc

    doc = _doc()
    body = "".join(f"def step_{i}(state, dt=0.016):\n    return state.advance({i} * dt)  # frame {i}\n"
                   for i in range(1000))
    prose = "".join(f"- item {i} with `code` and **bold** and *more*\n" for i in range(200))
    doc.feed(f"## Here is the program\n\n```python\n{body}```\n\n{prose}That is all.\n")
    doc.work()
    doc.close()
    assert len(doc.lines) > 2200
    gc.collect()  # as the GC does in its first pass: tuples holding only numbers and strings are untracked
    per_line = _tracked_reachable(doc.lines) / len(doc.lines)
    assert per_line <= 1.5, f"{per_line:.1f} tracked objects per finished line"
    assert doc.lines[3].text.plain == "def step_0(state, dt=0.016):" and _styled(doc.lines[3].text)


def test_a_compact_line_gives_back_the_text_it_was_made_from():
    """`Line.text` rebuilds the rich Text a line was made from: text, base style and spans (str or Style)."""
    from rich.style import Style

    table = render.Styles()
    bold = Style(bold=True)
    original = Text("▍ You", style="bold")
    original.append(" · turn 2: ", style="dim")
    original.append("why?", style=bold)
    original.append(" plain")
    for text in (original, Text(), Text("```python", style="dim"), _doc().prose("- `x` and **y**")):
        line = render.Line(text, False, table)
        rebuilt = line.text
        assert rebuilt == text and rebuilt.style == text.style and rebuilt.spans == text.spans
        assert line.plain == text.plain
    assert render.Line(original, True).text.spans == original.spans  # a line with its own table

"""The streaming Markdown renderer: lines highlighted once, code fences, linear work."""

from __future__ import annotations

from rich.text import Text

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

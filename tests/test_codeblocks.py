"""Finding code in an answer, fenced or not (workbench.codeblocks): the rules, the API, hostile input."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import unfenced_answers as answers
from workbench import codeblocks
from workbench.codeblocks import Block, code_blocks, with_fences


def _spans(text: str) -> list[tuple[str | None, int, int, bool]]:
    return [(b.language, b.start_line, b.end_line, b.fenced) for b in code_blocks(text)]


def test_an_unfenced_python_answer_is_one_block_with_its_comments():
    (block,) = code_blocks(answers.PYTHON_WITH_COMMENTS)
    lines = answers.PYTHON_WITH_COMMENTS.split("\n")
    assert block == Block("python", answers.PYTHON_CODE, 2, 13, False)
    assert lines[block.start_line] == "# Function to calculate the factorial"  # the comment right above joins
    assert lines[block.end_line - 1] == "print(factorial(5))"
    assert "This function uses recursion" not in block.code and "Here is" not in block.code


@pytest.mark.parametrize("text", [
    answers.PROSE, answers.SMOLLM2_TIPS, answers.SMOLLM2_LINKED_LIST, answers.SMOLLM2_MATH,
    "# Title\n\nJust a sentence.\n", "x = 5\n", "Use `x = 5` here.\n"])
def test_prose_with_headings_bullets_and_numbered_lists_stays_prose(text):
    assert code_blocks(text) == []
    assert with_fences(text) == text


def test_real_small_model_answers_without_fences():
    # SmolLM2 wrote C without a fence (and was cut off mid-line).
    (c,) = code_blocks(answers.SMOLLM2_C)
    assert (c.language, c.start_line, c.fenced) == ("c", 0, False)
    assert c.code.startswith("#include <stdio.h>\n") and "int main() {" in c.code
    # SmolLM2 left out the opening fence: the code is found, and the stray closing fence opens a block.
    unfenced, fenced = code_blocks(answers.SMOLLM2_IS_PRIME)
    assert (unfenced.language, unfenced.start_line, unfenced.end_line, unfenced.fenced) == ("python", 0, 14, False)
    assert unfenced.code.splitlines()[-1] == "print(is_prime(13)) # This returns False"
    assert fenced.fenced


@pytest.mark.parametrize("text, language, first, last", [
    (answers.JAVASCRIPT, "javascript", "function reverse(s) {", "console.log(reverse('hello'));"),
    (answers.BASH, "bash", "#!/bin/bash", 'echo "$count files in $dir"'),
    (answers.SQL, "sql", "SELECT name, COUNT(*) AS n", "ORDER BY n DESC;"),
])
def test_other_languages(text, language, first, last):
    (block,) = code_blocks(text)
    assert block.language == language and not block.fenced
    assert block.code.splitlines()[0] == first and block.code.splitlines()[-1] == last


def test_fenced_blocks_keep_their_tag_and_lines():
    text = "Intro\n\n```py\nx = 1\n```\n\nThen:\n  ~~~\n  y = 2\n  ~~~\n```js\nopen()"
    assert code_blocks(text) == [Block("python", "x = 1\n", 3, 4, True), Block(None, "y = 2\n", 8, 9, True),
                                 Block("javascript", "open()\n", 11, 12, True)]
    assert with_fences(text) == text


def test_a_heading_after_the_code_is_not_part_of_it():
    text = "def f(x):\n    return x + 1\n\n# Usage\nCall f with a number and it returns the next one.\n"
    (block,) = code_blocks(text)
    assert block.code == "def f(x):\n    return x + 1\n"


def test_a_comment_right_after_the_code_is_part_of_it():
    text = "def f(x):\n    return x + 1\nprint(f(1))\n# prints 2\n\nThat is it.\n"
    (block,) = code_blocks(text)
    assert block.code.endswith("print(f(1))\n# prints 2\n")


def test_docstrings_and_blank_lines_inside_the_code():
    text = ('Code:\n\nclass Stack:\n    """A stack.\n\nIt holds items; the last one in is the first out.\n"""\n\n'
            "    def push(self, item):\n        self.items.append(item)\n\n\nThe end of the answer is here.\n")
    (block,) = code_blocks(text)
    assert block.start_line == 2 and block.code.endswith("self.items.append(item)\n")
    assert "the last one in" in block.code


def test_indented_code_is_dedented_in_code_but_not_in_its_lines():
    text = "Like this:\n\n    import os\n    print(os.getcwd())\n"
    (block,) = code_blocks(text)
    assert block.code == "import os\nprint(os.getcwd())\n"
    assert (block.start_line, block.end_line) == (2, 4)


def test_with_fences_fences_only_the_unfenced_code():
    fenced = with_fences(answers.PYTHON_WITH_COMMENTS)
    assert fenced.split("\n")[2] == "```python" and "```\n\nThis function uses recursion" in fenced
    assert [(b.language, b.code, b.fenced) for b in code_blocks(fenced)] == [("python", answers.PYTHON_CODE, True)]
    # A fence longer than any run of backticks in the code, so the code cannot close it.
    tricky = "x = 1\ny = '```'\nprint(x, y)\n"
    assert with_fences(tricky).startswith("````python\n")


def test_crlf_and_odd_input():
    assert _spans(answers.PYTHON_WITH_COMMENTS.replace("\n", "\r\n")) == [("python", 2, 13, False)]
    for text in ("", "\n\n\n", "```", "```\n```", "#", "# ", "}", "\t\t", "\x00\x1b[31m"):
        assert isinstance(code_blocks(text), list)


# -- hostile input: bounded work ---------------------------------------------------------------------

PATHOLOGICAL = {
    "one huge line": "x = (" + "a(" * 500_000,
    "many brackets": "(\n" * 100_000,
    "code forever": "def f(x):\n    return x\n" * 50_000,
    "quotes": ('"' * 10_000 + "'" * 10_000 + "`" * 10_000 + "\n") * 20,
    "spaces then fence": " " * 1_000_000 + "```",
    "alternating": "x = 1\nSome prose line that goes on and on.\n" * 50_000,
    "triple quotes": 'x = """\n' * 50_000,
    "long words": ("word " * 100_000 + "= 1\n") * 5,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_input_is_handled_with_bounded_work(name, monkeypatch: pytest.MonkeyPatch):
    """Pygments never sees more than GUESS_CHARS of a block, for at most MAX_GUESSES blocks; the rest is
    one pass over the lines, each judged on its first LINE_CHARS characters (no wall time is asserted)."""
    seen: list[int] = []

    class Recording:
        @staticmethod
        def analyse_text(text: str) -> float:
            seen.append(len(text))
            return 0.0

    monkeypatch.setattr(codeblocks, "_pygments_lexers", lambda: (("recording", Recording),))
    text = PATHOLOGICAL[name]
    found = code_blocks(text)
    assert all(isinstance(b, Block) for b in found)
    assert len(seen) <= codeblocks.MAX_GUESSES and all(n <= codeblocks.GUESS_CHARS for n in seen)
    with_fences(text)


def test_shapes_are_judged_on_a_bounded_prefix(monkeypatch: pytest.MonkeyPatch):
    judged: list[int] = []
    real = codeblocks._CODE_SHAPES

    class Spy:
        @staticmethod
        def match(s: str):
            judged.append(len(s))
            return real.match(s)

    monkeypatch.setattr(codeblocks, "_CODE_SHAPES", Spy)
    code_blocks("y = " + "1 + " * 1_000_000 + "1\nprint(y)\n")
    assert judged and max(judged) <= codeblocks.LINE_CHARS


# -- properties over generated answers ----------------------------------------------------------------

_lines = st.one_of(
    st.sampled_from(["", "    ", "def f(x):", "    return x", "    # note", "# Title", "## Heading", "- item",
                     "1. step", "print(f(1))", "x = 1", "}", "function g() {", "```", "```python", "~~~", "  ```js", '"""',
                     "Some prose that reads like a sentence.", "Output:", "before = the list as given",
                     "#include <stdio.h>", "SELECT 1;", ">>> f(2)", "$ ls", "\t\tindented", "`" * 5]),
    st.text(max_size=30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.lists(_lines, max_size=25).map("\n".join))
def test_blocks_are_in_order_inside_the_text_and_their_code_is_their_lines(text):
    lines = text.replace("\r\n", "\n").split("\n")
    found = code_blocks(text)
    at = 0
    for b in found:
        assert at <= b.start_line <= b.end_line <= len(lines) and b.code.endswith("\n")
        at = b.end_line
        if not b.fenced:
            assert lines[b.start_line].strip() and lines[b.end_line - 1].strip()
            assert b.code == textwrap.dedent("\n".join(lines[b.start_line:b.end_line])) + "\n"
    refenced = code_blocks(with_fences(text))
    assert [b.code for b in refenced if b.fenced] == [b.code for b in found]

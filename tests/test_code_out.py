"""Code out of the compare screen: copy a block (OSC 52) and cycle, copy an answer, write a block to a
file (never overwriting unasked, failures in one line), and the diff of two panes (blind: labels only)."""

from __future__ import annotations

import base64

import pytest
from pilot import wait_for as _wait
from textual.binding import Binding

from workbench import catalog
from workbench.config import ModelSpec, load_settings
from workbench.engines.pool import EnginePool
from workbench.engines.replay import ReplayEngine
from workbench.ui import app as app_module
from workbench.ui.app import build_app
from workbench.ui.screens.code_out import CodeOutMixin, _blocks, extension
from workbench.ui.screens.compare import CompareScreen
from workbench.ui.screens.diff import DiffScreen, diff_rows
from workbench.ui.screens.save_code import SaveCode

THREE_BLOCKS = """Here is the function:

```python
def add(a, b):
    return a + b
```

Run it with:

```bash
python add.py
```

And a test:

```
assert add(1, 2) == 3
```
"""
OTHER_CODE = """```python
def add(a, b):
    return a - b  # wrong on purpose
```
"""
NO_CODE = "There is no code in this answer, only words.\n"

# The screen as the lead will mix it: the keys suggested for CompareScreen (the test keeps working if the
# screen already has the mixin and binds other keys).
_BASES = (CompareScreen,) if issubclass(CompareScreen, CodeOutMixin) else (CodeOutMixin, CompareScreen)
_KEYS = [("c", "copy_code"), ("C", "copy_answer"), ("w", "save_code"), ("d", "diff")]
CodeScreen = type("CodeScreen", _BASES, {"BINDINGS": [Binding(key, action, action) for key, action in _KEYS]})


@pytest.fixture
def code_app(monkeypatch):
    """Build the app with `CodeScreen` for the compare screen: `code_app(texts, blind=False)`."""
    monkeypatch.setattr(app_module, "CompareScreen", CodeScreen)

    def make(texts: dict[str, str], **kwargs):
        engines = {name: ReplayEngine(name, text) for name, text in texts.items()}
        specs = [ModelSpec(name=n, engine="replay") for n in engines]
        return build_app(load_settings(), [catalog.Entry(s) for s in specs], list(engines),
                         pool_factory=lambda chosen: EnginePool([engines[s.name] for s in chosen]), **kwargs)

    return make


def _messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _answered(app, pilot, focus: int = 0):
    """Send a prompt, wait for every answer, focus pane `focus`; returns the screen."""
    screen = app.screen
    assert isinstance(screen, CodeScreen)
    await screen.send("write add")
    await _wait(pilot, lambda: screen.comparison.finished)
    screen.panes[focus].view.focus()
    await pilot.pause()
    return screen


def test_blocks_and_extensions():
    assert [lang for lang, _ in _blocks(THREE_BLOCKS)] == ["python", "bash", None]
    assert _blocks(NO_CODE) == []
    assert _blocks("def f(x):\n    return x\n") == [("python", "def f(x):\n    return x\n")]
    assert [extension(x) for x in ("python", "javascript", None, "kotlin", "no-such-language")] == \
        ["py", "js", "txt", "kt", "txt"]


async def test_copy_sends_osc52_and_cycles_through_the_blocks(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": NO_CODE})
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _answered(app, pilot)
        written: list[str] = []
        write = app._driver.write
        app._driver.write = lambda data: (written.append(data), write(data))[1]
        blocks = _blocks(THREE_BLOCKS)
        for n in (0, 1, 2, 0):  # the fourth press comes round to the first block again
            app.clear_notifications()
            await pilot.press("c")
            assert app.clipboard == blocks[n][1]
            assert f"\x1b]52;c;{base64.b64encode(blocks[n][1].encode()).decode()}\a" in written
        assert _messages(app)[-1].startswith("Copied block 1/3 (python, 2 lines) from A")
        await pilot.press("c")
        assert _messages(app)[-1].startswith("Copied block 2/3 (bash, 1 line) from A")

        await pilot.press("C")
        assert app.clipboard == THREE_BLOCKS
        assert _messages(app)[-1].startswith("Copied answer A (")

        screen.panes[1].view.focus()
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("c")
        assert app.clipboard == THREE_BLOCKS  # unchanged
        assert _messages(app) == ["No code block in answer B: press the copy-answer key for the whole text."]


async def test_copy_in_blind_mode_names_only_the_label(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE}, blind=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await _answered(app, pilot)
        await pilot.press("c")
        await pilot.press("C")
        assert app.clipboard in (THREE_BLOCKS, OTHER_CODE)
        for message in _messages(app):
            assert "alpha" not in message and "beta" not in message


async def test_write_a_block_to_a_file_and_never_overwrite_unasked(code_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE})
    target = tmp_path / "answer_A_1.py"
    code = _blocks(THREE_BLOCKS)[0][1]
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _answered(app, pilot)
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode))
        assert app.screen.query_one("#file-name").value == "answer_A_1.py"
        await pilot.press("enter")
        await _wait(pilot, target.exists)
        assert target.read_text() == code
        await _wait(pilot, lambda: any(m.startswith("Wrote 2 lines to ") for m in _messages(app)))
        assert f"Wrote 2 lines to {target}" in _messages(app)

        # Again: the file is there, so the dialog comes back and says so; Escape keeps the file.
        target.write_text("# mine\n")
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode))
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode) and app.screen.exists)
        assert str(target) in str(app.screen.query_one("#exists").render())
        await pilot.press("escape")
        await _wait(pilot, lambda: app.screen is screen)
        assert target.read_text() == "# mine\n"

        # Enter on the same name once warned overwrites it.
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode))
        await pilot.press("enter")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode) and app.screen.exists)
        await pilot.press("enter")
        await _wait(pilot, lambda: target.read_text() == code)

        # The block last copied is the one written.
        await pilot.press("c", "c")
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode))
        assert app.screen.query_one("#file-name").value == "answer_A_2.sh"
        await pilot.press("enter")
        await _wait(pilot, (tmp_path / "answer_A_2.sh").exists)


@pytest.mark.parametrize("name, reason", [("missing/dir/out.py", "No such file or directory"),
                                          ("missing/[bold]x[/].py", "No such file or directory"),
                                          ("adir", "it is a directory")])
async def test_a_failed_write_is_one_line_naming_the_file(code_app, tmp_path, monkeypatch, name, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE})
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _answered(app, pilot)
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SaveCode))
        field = app.screen.query_one("#file-name")
        field.value = name
        await pilot.press("enter")
        await _wait(pilot, lambda: any(m.startswith("Could not write") for m in _messages(app)))
        assert app.screen is screen
        [message] = [m for m in _messages(app) if m.startswith("Could not write")]
        assert message == f"Could not write {tmp_path / name}: {reason}"
        assert "\n" not in message and "Traceback" not in message


async def test_diff_of_two_panes_side_by_side_and_unified(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE})
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _answered(app, pilot, focus=1)  # B focused: still A on the left with two panes
        await pilot.press("d")
        await _wait(pilot, lambda: isinstance(app.screen, DiffScreen))
        diff = app.screen
        await _wait(pilot, lambda: diff.view.text)
        title = str(diff.query_one("#diff-title").render())
        assert title.startswith("A · alpha  ↔  B · beta · code") and "side by side" in title
        left, right = zip(*(line.split("│") for line in diff.view.text.splitlines() if "│" in line))
        assert any("-     return a + b" in row for row in left)
        assert any("+     return a - b  # wrong on purpose" in row for row in right)
        assert any("python add.py" in row for row in left)  # A's other blocks are part of its code

        await pilot.press("s")
        await pilot.pause()
        assert not diff.view.is_split and "unified" in str(diff.query_one("#diff-title").render())
        rows = diff.view.text.splitlines()
        assert any(row.split()[1:3] == ["-", "return"] and "a + b" in row for row in rows)
        assert any("+     return a - b" in row for row in rows)

        await pilot.press("escape")
        await _wait(pilot, lambda: app.screen is screen)


async def test_narrow_diff_is_unified_and_without_code_diffs_the_answers(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": NO_CODE})
    async with app.run_test(size=(90, 30)) as pilot:
        await _answered(app, pilot)
        await pilot.press("d")
        await _wait(pilot, lambda: isinstance(app.screen, DiffScreen))
        diff = app.screen
        await _wait(pilot, lambda: diff.view.text)
        assert not diff.view.is_split
        title = str(diff.query_one("#diff-title").render())
        assert "whole answers (no code in B)" in title and "unified" in title
        assert "+ There is no code in this answer" in diff.view.text
        await pilot.resize_terminal(140, 30)  # wide enough now: side by side, until s says otherwise
        await _wait(pilot, lambda: diff.view.is_split and "│" in diff.view.text)
        await _wait(pilot, lambda: "side by side" in str(diff.query_one("#diff-title").render()))
        await pilot.press("q")
        await _wait(pilot, lambda: not isinstance(app.screen, DiffScreen))


async def test_blind_diff_titles_show_only_the_labels(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE}, blind=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await _answered(app, pilot)
        await pilot.press("d")
        await _wait(pilot, lambda: isinstance(app.screen, DiffScreen))
        title = str(app.screen.query_one("#diff-title").render())
        assert title.startswith("A  ↔  B · code")
        assert "alpha" not in title and "beta" not in title


async def test_nothing_to_copy_or_diff_before_a_prompt(code_app):
    app = code_app({"alpha": THREE_BLOCKS, "beta": OTHER_CODE})
    async with app.run_test(size=(140, 40)) as pilot:
        app.screen.panes[0].view.focus()
        await pilot.pause()
        for key in ("c", "C", "w", "d"):
            await pilot.press(key)
        # Either the keys are off until there is an answer (the screen's check_action) or they say why.
        assert all(m.startswith("Send a prompt first") for m in _messages(app))
        assert not isinstance(app.screen, (DiffScreen, SaveCode))
        assert app.clipboard == ""


def test_diff_rows_fold_long_unchanged_runs():
    a = [f"line {i}" for i in range(30)]
    b = a[:15] + ["changed"] + a[16:]
    rows, starts = diff_rows(a, b, split=False)
    assert [r.kind for r in rows].count("fold") == 2
    assert [rows[s].kind for s in starts] == ["delete"]
    rows, _ = diff_rows(a, b, split=True, fold=False)
    assert len(rows) == 30 and [r.kind for r in rows].count("replace") == 1
    rows, starts = diff_rows(a, a, split=False)  # nothing changed: all of it, unfolded
    assert len(rows) == 30 and starts == []


async def test_diff_keys_jump_between_changes_and_unfold(code_app):
    base = "".join(f"x{i} = {i}\n" for i in range(200))
    left = "```python\n" + base + "```\n"
    right = "```python\n" + base.replace("x20 = 20", "x20 = -20").replace("x150 = 150", "x150 = 0") + "```\n"
    app = code_app({"alpha": left, "beta": right})
    async with app.run_test(size=(120, 20)) as pilot:
        await _answered(app, pilot)
        await pilot.press("d")
        await _wait(pilot, lambda: isinstance(app.screen, DiffScreen))
        view = app.screen.view
        await _wait(pilot, lambda: view.text)
        folded = view.text.splitlines()
        assert len(folded) < 20 and [folded[r].split("│")[0].strip() for r in view._change_rows] == \
            ["21 - x20 = 20", "151 - x150 = 150"]
        await pilot.press("f")  # every line: now there is something to scroll
        await _wait(pilot, lambda: len(view.text.splitlines()) == 200)
        first, second = view._change_rows
        assert (first, second) == (20, 150)
        await pilot.press("n")
        await _wait(pilot, lambda: view.scroll_offset.y == first)
        await pilot.press("n")
        await _wait(pilot, lambda: view.scroll_offset.y == second)
        await pilot.press("N")
        await _wait(pilot, lambda: view.scroll_offset.y == first)

"""The prompt library: fuzzy search by title, name and tag, with a preview; Enter loads one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class PromptPicker(ModalScreen):
    """Type to filter; Up/Down to move; Enter loads the prompt into the prompt bar; Escape closes."""

    DEFAULT_CSS = """
    PromptPicker { align: center middle; }
    PromptPicker > Vertical { width: 90%; height: 80%; border: round $primary; background: $panel; }
    PromptPicker Input { margin: 0 1; }
    PromptPicker Horizontal { height: 1fr; }
    PromptPicker OptionList { width: 2fr; height: 1fr; }
    PromptPicker VerticalScroll { width: 3fr; height: 1fr; padding: 0 1; background: $surface; }
    PromptPicker .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("down", "move(1)", "Down", show=False, priority=True),
        Binding("up", "move(-1)", "Up", show=False, priority=True),
        Binding("enter", "choose", "Load", priority=True),
    ]

    def __init__(self, library: dict, errors: list) -> None:
        super().__init__()
        self.library = library
        self.errors = errors
        self.shown: list = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Prompt library — {len(self.library)} prompts"
                        + (f" ({len(self.errors)} skipped: see `workbench prompts`)" if self.errors else ""),
                        classes="hint")
            yield Input(placeholder="search title, name or tag…")
            with Horizontal():
                yield OptionList()
                with VerticalScroll():
                    yield Static(id="preview")
            yield Label("Enter loads into the prompt bar · Escape closes", classes="hint")

    def on_mount(self) -> None:
        self._filter("")
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._filter(event.value)

    def _filter(self, query: str) -> None:
        from workbench.prompts import match

        self.shown = match(query, self.library) if query.strip() else sorted(self.library.values(),
                                                                             key=lambda p: p.title.lower())
        options = self.query_one(OptionList)
        options.clear_options()
        for prompt in self.shown:
            label = Text(prompt.title, style="bold")
            label.append(f"  {prompt.language or ''}", style="dim")
            if prompt.tags:
                label.append("  #" + " #".join(prompt.tags), style="dim italic")
            options.add_option(Option(label, id=prompt.name))
        if self.shown:
            options.highlighted = 0
        self._preview()

    def _preview(self) -> None:
        options = self.query_one(OptionList)
        preview = self.query_one("#preview", Static)
        if options.highlighted is None or not self.shown:
            preview.update(Text("No prompt matches.", style="dim"))
            return
        prompt = self.shown[options.highlighted]
        text = Text()
        text.append(prompt.title + "\n", style="bold")
        meta = [prompt.name, prompt.language or "", str(prompt.created or ""), "tests ✓" if prompt.tests else "no tests"]
        text.append(" · ".join(m for m in meta if m) + "\n\n", style="dim")
        if prompt.system:
            text.append("system: " + prompt.system + "\n\n", style="italic")
        from workbench.prompts import PromptError, render

        try:
            text.append(render(prompt))
        except PromptError as exc:
            text.append(f"{exc}\n\n", style="bold red")
            text.append(prompt.body)
        preview.update(text)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self) -> None:
        self._preview()

    def action_move(self, step: int) -> None:
        """Move through the results while typing."""
        options = self.query_one(OptionList)
        if not self.shown:
            return
        current = options.highlighted or 0
        options.highlighted = max(0, min(len(self.shown) - 1, current + step))

    def action_choose(self) -> None:
        """Load the highlighted prompt."""
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.shown:
            return
        self.dismiss(self.shown[options.highlighted])

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index])

    def action_dismiss_none(self) -> None:
        """Close without loading."""
        self.dismiss(None)

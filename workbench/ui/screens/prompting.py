"""Where prompts come from on the compare screen: the library picker, the editor, the parameters."""

from __future__ import annotations

from textual import work

from workbench.ui.widgets.prompt_bar import PromptBar


class PromptingMixin:
    """`p` picks from the library, F2 opens the multi-line editor, F3 sets the system prompt and parameters."""

    def action_prompts(self) -> None:
        """Pick a prompt from the library."""
        self._load_library()

    @work(thread=True, exclusive=True, group="library")
    def _load_library(self) -> None:
        from workbench.config import default_home
        from workbench.prompts import library_dirs, load_library

        library, errors = load_library(library_dirs(default_home()))
        self.app.call_from_thread(self._open_picker, library, errors)

    def _open_picker(self, library: dict, errors: list) -> None:
        from workbench.ui.screens.prompt_picker import PromptPicker

        def picked(prompt) -> None:
            if prompt is None:
                return
            from workbench.prompts import PromptError, render

            try:
                text = render(prompt)
            except PromptError as exc:
                self.notify(str(exc), severity="error")
                return
            self._open_editor(text, prompt)

        self.app.push_screen(PromptPicker(library, errors), picked)

    def action_editor(self) -> None:
        """Write or edit a long prompt in a multi-line editor."""
        self._open_editor(self.query_one(PromptBar).input.value or self._draft, None)

    def _open_editor(self, text: str, prompt) -> None:
        from workbench.ui.screens.editor import PromptEditor

        async def done(result: str | None) -> None:
            if result is not None:
                self.query_one(PromptBar).input.remember(result)
                await self.send(result, prompt)
            elif "\n" not in editor.text:
                self.query_one(PromptBar).input.value = editor.text
            else:
                self._draft = editor.text  # a long draft waits for the next F2

        editor = PromptEditor(text)
        self.app.push_screen(editor, done)

    def action_params(self) -> None:
        """System prompt and sampling parameters for the next prompts."""
        from workbench.ui.screens.editor import ParamsDialog

        def saved(params: dict | None) -> None:
            if params is None:
                return
            keep = params.pop("save_as_defaults", False)
            self.defaults = {**self.defaults, **params}
            self.query_one(PromptBar).query_one(".params").update(self._params_text())
            if keep:
                self._save_defaults(dict(self.defaults))
            else:
                self.notify("Parameters set: they apply from the next prompt, to every model.", timeout=3)

        self.app.push_screen(ParamsDialog(self.defaults), saved)

    @work(thread=True, group="save-params", exit_on_error=False)
    def _save_defaults(self, params: dict) -> None:
        """Write them for the next launches (off the UI thread); a failure is one line naming the file."""
        from workbench.config import PARAMS_FILE, default_home, save_params

        try:
            path = save_params(default_home(), params)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"{default_home() / PARAMS_FILE}: the defaults were not saved: "
                                      f"{exc.strerror or exc}", title="Not saved", severity="error", timeout=10)
            return
        self.app.call_from_thread(self.notify, f"Parameters set, and saved as your defaults in {path}", timeout=5)

"""Running each pane's code against the prompt's tests, from the compare screen."""

from __future__ import annotations

import time

from textual import work

from workbench.blind import LABELS

BADGES = {"pass": "✓", "fail": "✗", "error": "✗", "timeout": "⏱", "no-tests": "▶", "no-code": "∅",
          "no-runner": "?", "refused": "⊘"}


def badge(verdict) -> str:
    """A short pass/fail mark for a pane's border: '✓ 5/5', '✗ 2/5', '⏱ timeout'."""
    mark = BADGES.get(verdict.outcome, "?")
    if verdict.total:
        return f"{mark} {verdict.passed}/{verdict.total}"
    if verdict.outcome == "no-tests":
        return f"{mark} exit {verdict.exit_status}"
    return f"{mark} {verdict.outcome}"


class VerifyingMixin:
    """`v` runs every pane's code (one at a time, off the UI thread); `o` shows the focused pane's run."""

    def action_verify(self) -> None:
        """Run every finished answer's code against the prompt's tests (or just run it)."""
        comparison = self.comparison
        if comparison is None:
            return
        # An answer still streaming (or still stopping: a stop takes effect between tokens) is run
        # as soon as it ends, so `v` right after a stop is never lost.
        ready = [(i, a) for i, a in enumerate(comparison.answers) if a.text.strip()]
        if not ready:
            self.notify("No answer has any text to run yet.", severity="warning", timeout=3)
            return
        prompt = self.round.prompt_file
        what = "tests" if prompt is not None and prompt.tests else "code (no tests)"
        waiting = sum(not a.finished for _, a in ready)
        later = f" ({waiting} still streaming: run when it ends)" if waiting else ""
        self.notify(f"Running {len(ready)} answer{'s' * (len(ready) != 1)}' {what} in the sandbox…{later}",
                    timeout=3)
        for i, a in ready:
            self.panes[i].set_badge("… running" if a.finished else "… runs when it ends")
        self._run_checks(comparison, ready, prompt)

    @work(thread=True, exclusive=True, group="verify")
    def _run_checks(self, comparison, ready: list, prompt) -> None:
        """One answer at a time, so the runs do not fight each other (or a model) for the cores; graphics
        programs (which mostly wait on their own clock) all at once, so that their frames cover the same seconds
        and the player opens one run's time after `v`, however many panes there are."""
        from concurrent.futures import ThreadPoolExecutor

        from workbench.verify import visual

        graphics = [(i, a) for i, a in ready if visual.wants(prompt, a.text)]
        others = [(i, a) for i, a in ready if all(i != j for j, _ in graphics)]
        with ThreadPoolExecutor(max_workers=max(1, len(graphics)), thread_name_prefix="verify-graphics") as pool:
            runs = [pool.submit(self._check_one, comparison, i, a, prompt) for i, a in graphics]
            for index, answer in others:
                self._check_one(comparison, index, answer, prompt)
            drew = any([run.result() for run in runs])
        if drew:  # graphics programs: their animations, side by side, as soon as they have all run
            self.app.call_from_thread(self._play, comparison)

    def _check_one(self, comparison, index: int, answer, prompt) -> bool:
        """Run one answer (once it has ended), log and show the verdict; whether it left an animation."""
        from workbench.verify import verify

        while not answer.finished:
            if comparison is not self.comparison or comparison.answers[index] is not answer:
                return False  # a new prompt or a regenerated answer: nothing to run for it
            time.sleep(0.05)
        try:
            verdict = verify(answer.text, prompt)
        except Exception as exc:  # noqa: BLE001 - a checker bug must not take the app down
            from workbench.verify import Verdict

            verdict = Verdict(outcome="error", note=f"the checker failed: {type(exc).__name__}: {exc}")
        if self.recorder is not None:
            self.recorder.verified(answer, verdict)
        self.app.call_from_thread(self._show_verdict, comparison, index, answer, verdict)
        return bool(verdict.animation)

    def _show_verdict(self, comparison, index: int, answer, verdict) -> None:
        if comparison is not self.comparison or comparison.answers[index] is not answer:
            return  # a newer prompt or a regenerated answer: this run is about something gone
        self.round.verdicts[index] = verdict
        self.panes[index].set_badge(badge(verdict))

    def _play(self, comparison) -> None:
        if comparison is self.comparison and self.app.screen is self:
            self.action_animations()

    def action_animations(self) -> None:
        """The player: every pane's animation (graphics programs run with `v`), side by side, in sync."""
        verdicts = self.round.verdicts if self.round is not None else {}
        shown = [(i, v) for i, v in sorted(verdicts.items()) if getattr(v, "visual", None) is not None]
        if not shown:
            self.notify("No animations: press v to run the answers' graphics programs first.", timeout=3)
            return
        from workbench.ui.screens.player import PlayerScreen

        hidden = self.round.hidden
        names = [(LABELS[i] if hidden else f"{LABELS[i]} · {self.comparison.answers[i].model}") for i, _ in shown]
        self.app.push_screen(PlayerScreen([(name, v) for name, (_, v) in zip(names, shown)]))

    def action_show_run(self) -> None:
        """The focused pane's run: exit status, time, stdout, stderr."""
        index = self._focused_index()
        verdict = self.round.verdicts.get(index) if index is not None and self.round is not None else None
        if verdict is None:
            self.notify("Press v to run the answers first (focus a pane to see its run).", timeout=3)
            return
        from workbench.ui.screens.run_output import RunOutput

        self.app.push_screen(RunOutput(LABELS[index], verdict))

"""The compare screen: a prompt bar over one pane per model, all streaming at once."""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from collections.abc import Callable
from concurrent.futures import Future

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen

from workbench.blind import LABELS, draw_pair, shuffled_order
from workbench.core import Comparison, Request
from workbench.engines.pool import EnginePool
from workbench.figures import blind_summary, shown_status, summary
from workbench.prompts import stale
from workbench.ui.render import CodeStyle
from workbench.ui.screens.code_out import CODE_OUT_ACTIONS, CodeOutMixin
from workbench.ui.screens.exporting import ExportingMixin
from workbench.ui.screens.navigation import NavigationMixin
from workbench.ui.screens.prompting import PromptingMixin
from workbench.ui.screens.round import Round
from workbench.ui.screens.verifying import VerifyingMixin
from workbench.ui.screens.voting import VotingMixin
from workbench.ui.widgets.footer import KeyBar
from workbench.ui.widgets.answer_pane import AnswerPane
from workbench.ui.widgets.answer_view import AnswerView, prompt_rule
from workbench.ui.widgets.prompt_bar import PromptBar

FRAME_S = 1 / 30  # paint at most ~30 times a second
FRAME_SLOW_S = 1 / 10  # ...but only ~10 times a second while the text arrives slowly (below SLOW_CHARS_S): a
# reader cannot tell, and each frame's fixed cost (compositing, a scroll's repaint) is then most of the UI's
# CPU, taken from the models on a machine with few cores (benchmarks/README.md, ui_cpu.py)
SLOW_CHARS_S = 12_000  # characters a second, all panes together (~400 a frame at 30 fps; ~3,000 tok/s)
FRAME_CHARS = 8_000  # text all panes take in one frame at most: a backlog arriving at once (a model far
# faster than the screen, a dump after a stall) is painted over a few short frames, not one long one
# that leaves keys waiting; 240,000 chars/s is far beyond what any model streams
FIGURES_S = 0.5  # while streaming, a pane's figures line is redrawn this often (each redraw relays out the screen)
STREAMING = {"stop_all", "stop_one"}
NEEDS_ANSWERS = {"vote", "tie", "both_bad", "score", "tags", "regenerate", "verify"}


class CompareScreen(VotingMixin, VerifyingMixin, PromptingMixin, NavigationMixin, ExportingMixin, CodeOutMixin,
                    Screen):
    """Sends each prompt to the open models and streams the answers side by side.

    The screen's state about the prompt on screen lives in one `Round`; the mixins hold actions only.
    """

    class WriteFailed(Message):
        """A write to the log failed (posted from whichever thread noticed it)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    BINDINGS = [
        # The footer shows them in this order, so what a newcomer needs to find comes first.
        Binding("question_mark", "show_keys", "Keys", key_display="?", id="keys"),
        Binding("p", "prompts", "Library", id="library"),
        Binding("h", "history", "History", id="history"),
        Binding("l", "leaderboard", "Leaderboard", id="leaderboard"),
        Binding("ctrl+o", "pick_models", "Models", id="models"),
        Binding("escape", "stop_all", "Stop all", id="stop-all"),
        Binding("s", "stop_one", "Stop pane", id="stop-pane"),
        Binding("1", "vote(0)", "Winner", key_display="1-6", id="vote"),
        *(Binding(str(n + 1), f"vote({n})", f"{LABELS[n]} wins", show=False) for n in range(1, 6)),
        Binding("t", "tie", "Tie", id="tie"),
        Binding("b", "both_bad", "Both bad", id="both-bad"),
        Binding("u", "undo", "Undo vote", id="undo"),
        Binding("e", "score", "Scores", show=False, id="scores"),
        Binding("number_sign", "tags", "Tags", key_display="#", show=False, id="tags"),
        Binding("r", "regenerate", "Regenerate", show=False, id="regenerate"),
        Binding("v", "verify", "Run tests", id="run-tests"),
        Binding("o", "show_run", "Run output", show=False, id="run-output"),
        Binding("a", "animations", "Animations", show=False, id="animations"),
        Binding("c", "copy_code", "Copy code", show=False, id="copy-code"),
        Binding("C", "copy_answer", "Copy answer", show=False, id="copy-answer"),
        Binding("w", "save_code", "Write code", show=False, id="write-code"),
        Binding("d", "diff", "Diff", show=False, id="diff"),
        Binding("i", "parity", "Parity", show=False, id="parity"),
        Binding("z", "maximize", "Maximise", show=False, id="maximise"),
        Binding("y", "toggle_sync", "Sync scroll", show=False, id="sync-scroll"),
        Binding("ctrl+b", "toggle_blind", "Blind", show=False, id="blind"),
        Binding("ctrl+n", "new_comparison", "New", id="new"),
        Binding("slash", "focus_prompt", "Prompt", priority=True, id="prompt"),
        Binding("f2", "editor", "Editor", show=False, id="editor"),
        Binding("f3", "params", "Params", show=False, id="params"),
        Binding("x", "export", "Export", show=False, id="export"),
        Binding("f12", "screenshot", "Screenshot", show=False, id="screenshot"),
        Binding("left", "focus_pane(-1)", "Pane left", show=False, id="pane-left"),
        Binding("right", "focus_pane(1)", "Pane right", show=False, id="pane-right"),
    ]

    def __init__(self, specs: list, request_defaults: dict, code_style: CodeStyle, accent: str,
                 pool_factory: Callable[[list], EnginePool] = EnginePool.for_specs, recorder=None,
                 blind: bool = False, pool: list[str] | None = None, seed: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        """The monotonic clock every figure on screen is read from (tests pass a scripted one)."""
        self.recorder = recorder
        self.pool_factory = pool_factory
        self.specs = list(specs)
        self.defaults = request_defaults
        self.code_style = code_style
        self.accent = accent
        self.pool = self.pool_factory(self.specs)
        self.draw_from = list(pool or [])
        """Blind arena: each prompt goes to a pair drawn from these models."""
        self.blind = blind or bool(self.draw_from)
        self.rng = random.Random(seed)
        self.round: Round | None = None
        """The prompt on screen and everything the screen knows about it."""
        self.sync_scroll = True
        self._pair_votes: dict = {}
        """The pool's votes per unordered pair of names (the log's, then this session's), for the next draw."""
        self._pair_wins: dict = {}
        """The pool's outcomes: (x, y) → points x scored against y (a tie half each), so the draw skips a pair
        whose winner is known in advance (`draw_pair`'s `wins`)."""
        self._maximized: AnswerPane | None = None
        self._timer = None
        self._draft = ""
        self._fresh = False
        """Ctrl+N was pressed: the next prompt starts a new comparison, not a follow-up."""

    # -- building -------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield from self._make_panes(self._first_engines())
        yield PromptBar(self._params_text())
        yield KeyBar()

    def _first_engines(self) -> list:
        return self.pool.engines[:2] if self.draw_from else self.pool.engines

    def _make_panes(self, engines: list) -> list[AnswerPane]:
        panes = []
        for i, engine in enumerate(engines):
            pane = AnswerPane(LABELS[i], engine.name, engine.where(), self.code_style, self.accent)
            if self.blind:  # before the first prompt too: no name on screen until a vote
                pane.set_identity(LABELS[i], "?", "", hidden=True)
            panes.append(pane)
        return panes

    def _params_text(self) -> str:
        d = self.defaults
        parts = [f"max {d['max_tokens']} tok"]
        if d.get("temperature") is not None:
            parts.append(f"T {d['temperature']:g}")
        if d.get("seed") is not None:
            parts.append(f"seed {d['seed']}")
        if d.get("top_p") is not None:
            parts.append(f"top-p {d['top_p']:g}")
        if d.get("system"):
            parts.append("system ✓")
        if self.blind:
            parts.append("blind" + (f" · pool of {len(self.draw_from)}" if self.draw_from else ""))
        return " · ".join(parts)

    @property
    def comparison(self) -> Comparison | None:
        """The comparison on screen, or None before the first prompt."""
        return self.round.comparison if self.round is not None else None

    @property
    def panes(self) -> list[AnswerPane]:
        """The panes, left to right."""
        return list(self.query(AnswerPane))

    def on_mount(self) -> None:
        self._paint_due = self._painted_at = 0.0  # monotonic: when `_frame` paints next, when it last did
        self._timer = self.set_interval(FRAME_S, self._frame, pause=True)
        self.query_one(PromptBar).input.focus()
        self._greet()
        self.call_after_refresh(self._warm_up)
        if self.recorder is not None:
            self.recorder.on_error = self._write_failed
            if self.draw_from:
                self._load_pair_votes(self.recorder.pair_votes())

    @work(group="pair-votes")
    async def _load_pair_votes(self, future: Future) -> None:
        """Past votes and outcomes per pair, so the pool draws the pair whose next vote is worth the most
        (read on the writer thread, awaited on the UI loop)."""
        try:
            loaded, won = await asyncio.wrap_future(future)
            # Votes cast while this loaded were counted already: add, do not overwrite.
            self._pair_votes = {k: loaded.get(k, 0) + self._pair_votes.get(k, 0)
                                for k in set(loaded) | set(self._pair_votes)}
            self._pair_wins = {k: won.get(k, 0) + self._pair_wins.get(k, 0) for k in set(won) | set(self._pair_wins)}
        except Exception as exc:  # noqa: BLE001 - the log said why; draw as if nothing was voted
            self.notify(f"Past votes could not be read: {exc}", severity="warning", timeout=5)

    def _write_failed(self, text: str) -> None:
        """The recorder's report of a failed write; any thread may call it (posting is thread-safe)."""
        self.post_message(self.WriteFailed(text))

    @on(WriteFailed)
    def show_write_failure(self, message: WriteFailed) -> None:
        """One line, naming the log and what was not saved."""
        self.notify(message.text, title="Not saved", severity="error", timeout=10)

    async def confirm(self, future: Future, saved: str | None = None) -> bool:
        """Wait (on the UI loop, never blocking it) for a write; say `saved` only once it is committed.

        A failure is shown by `show_write_failure`; this returns False so the caller can undo its display.
        """
        try:
            await asyncio.wrap_future(future)
        except Exception:  # noqa: BLE001 - reported through the recorder's on_error
            return False
        if saved:
            self.notify(saved, timeout=4)
        return True

    def _greet(self) -> None:
        for pane in self.panes:
            pane.show_figures("idle", "ready")

    @work(thread=True, group="modes", exit_on_error=False)
    def _show_modes(self, engines: list) -> None:
        """Which panes hold base models (a local model may read its file's header to say: off the UI thread)."""
        modes = {}
        for engine in engines:
            try:
                modes[engine.name] = engine.mode
            except Exception:  # noqa: BLE001 - unknown: shown as chat, the model's load says the rest
                modes[engine.name] = "chat"
        try:
            self.app.call_from_thread(self._apply_modes, modes)
        except Exception:  # noqa: BLE001 - the app closed while this read: nothing to show it on
            pass

    def _apply_modes(self, modes: dict[str, str]) -> None:
        for pane in self.panes:
            if pane.model in modes:
                pane.set_mode(modes[pane.model])

    def _warm_up(self) -> None:
        self._show_modes(list(self.pool.engines))
        if not self.draw_from:  # a pool loads each model when it is first drawn
            self._preload()
        self._warm_engines({s.engine for s in self.specs})

    @work(thread=True, exclusive=True, group="preload")
    def _preload(self) -> None:
        """Load local models before the first prompt; failures show in their panes at once."""
        pool = self.pool
        self.app.call_from_thread(self._show_loading)
        errors = pool.preload()
        self.app.call_from_thread(self._after_preload, pool, errors)

    def _show_loading(self) -> None:
        for pane, spec in zip(self.panes, self.specs):
            if getattr(spec, "is_local", False):
                pane.show_figures("loading", "loading model…" if not self.blind else "loading…")

    def _after_preload(self, pool: EnginePool, errors: dict[str, str]) -> None:
        if pool is not self.pool or self.round is not None:
            return  # the models were changed, or a prompt was sent, while these loaded
        self._show_modes(list(self.pool.engines))  # a first-run demo model's file exists only now
        for pane, engine in zip(self.panes, self.pool.engines):
            pane.set_where(engine.where())
            if engine.name in errors:
                pane.show_figures("failed", "failed to load")
                message = errors[engine.name] if not self.blind else "a model failed to load"
                pane.view.set_notice(Text(f"✗ {message}", style="bold red"))
            else:
                pane.show_figures("idle", "ready")

    @work(thread=True, group="warm")
    def _warm_engines(self, kinds: set[str]) -> None:
        """Each engine's slow preparation (litellm's 3 s import) off the UI thread, after the first paint."""
        from workbench.engines import warm_up

        try:
            warm_up(kinds)
        except Exception:  # noqa: BLE001 - the pane reports it when the model is used
            pass

    # -- prompting ------------------------------------------------------
    @on(PromptBar.Submitted)
    async def start_comparison(self, event: PromptBar.Submitted) -> None:
        """Send the prompt typed in the bar."""
        await self.send(event.text)

    async def send(self, text: str, prompt=None) -> None:
        """Send a prompt: a follow-up to the conversation on screen, or a new comparison.

        A follow-up goes to every pane, each model continuing its own conversation (its own earlier
        answers, never another model's). A library prompt, Ctrl+N, or changed models start anew.
        `prompt` is the library prompt it came from: its system prompt, parameters and tags apply.
        """
        if not text.strip():
            self.notify("The prompt is empty: type something to ask the models.", severity="error")
            return
        comparison = self.comparison
        # A blind round ends with its vote, as in LM Arena: the names are out, so the next prompt is a
        # new blind round (a new shuffle, or a new pair from the pool), not a follow-up seen unblinded.
        ended = self.round is not None and self.round.blind and self.round.revealed
        if prompt is None and not self._fresh and comparison is not None and not ended:
            if not comparison.finished:
                self.query_one(PromptBar).input.value = text  # kept: nothing was sent
                self.notify("The answers are still streaming: Escape stops them, then send the follow-up "
                            "(Ctrl+N starts a new comparison instead).", severity="warning", timeout=6)
                return
            self._follow_up(comparison, text)
            return
        self._fresh = False
        await self._new_comparison(text, prompt)

    def _follow_up(self, comparison: Comparison, text: str) -> None:
        """Turn N+1 of the conversation on screen; votes, scores and runs are per turn."""
        old = self.round
        comparison.follow_up(text)
        # Names revealed by a vote stay revealed: a later turn is not judged blind.
        self.round = Round(comparison, blind=old.blind and not old.revealed, revealed=old.revealed,
                           prompt_file=None, tags=list(old.tags))
        if self.recorder:
            self.recorder.record(comparison, blind=self.round.blind, tags=self.round.tags)
        for pane in self.panes:
            pane.set_identity(pane.label, pane.model, pane.where, hidden=self.round.hidden)
        self.query_one(PromptBar).set_mode(follow_up=True, turn=len(comparison.turns) + 1)
        visible = [p for p in self.panes if p.display]
        if visible:
            self.set_focus(visible[0].view)  # as after a first prompt: the vote keys work at once
        self.refresh_bindings()
        self.call_after_refresh(self._start, comparison)

    def action_new_comparison(self) -> None:
        """The next prompt starts a new comparison instead of following up."""
        self._fresh = True
        self.query_one(PromptBar).set_mode(follow_up=False)
        self.set_focus(self.query_one(PromptBar).input)
        self.notify("The next prompt starts a new comparison.", timeout=3)

    async def _new_comparison(self, text: str, prompt) -> None:
        """Send a prompt to the models at once (shuffled into labelled panes when blind)."""
        if self.comparison is not None:
            self.comparison.cancel()
        engines = list(self.pool.engines)
        if self.draw_from:
            by_name = {e.name: e for e in engines}
            # With no outcome yet every model is as strong as the others: the draw (and its reason) counts votes.
            wins = self._pair_wins if any(self._pair_wins.values()) else None
            drawn = draw_pair(self.draw_from, self._pair_votes, self.rng, wins=wins)
            engines = [by_name[n] for n in drawn]
        if self.blind:
            engines = [engines[k] for k in shuffled_order(len(engines), self.rng)]
        if len(engines) != len(self.panes):
            container = self.query_one("#panes")
            await container.remove_children()
            await container.mount_all(self._make_panes(engines))
            self._maximized = None
        if self.blind:
            self.app.clear_notifications()  # the last vote's reveal must not sit over the new blind panes
        if self.draw_from:  # why this pair (a blind round's note names no model)
            self.notify(f"Next pair: {drawn.why if self.blind else drawn.reason}", timeout=4)
        params = {k: v for k, v in self.defaults.items() if k in ("max_tokens", "temperature", "seed", "top_p")}
        system = self.defaults.get("system")
        if prompt is not None:
            params.update(prompt.params)
            from workbench.prompts import render_system

            system = render_system(prompt) or system
        request = Request(prompt=text, system=system, **params)
        subscribers = [self.recorder.on_event] if self.recorder else []
        comparison = Comparison(engines, request, subscribers, clock=self.clock)
        self.round = Round(comparison, blind=self.blind, revealed=not self.blind, prompt_file=prompt,
                           tags=list(prompt.tags) if prompt is not None else [])
        if self.recorder:
            extra = {"prompt_key": prompt.name, "title": prompt.title,
                     "created": prompt.created.isoformat() if prompt.created else None} if prompt is not None else None
            self.recorder.record(comparison, blind=self.round.blind, tags=self.round.tags,
                                 extra=extra)  # enqueued: the writer thread does the I/O
        created = prompt.created if prompt is not None else datetime.date.today()  # typed: new today
        for i, (pane, engine) in enumerate(zip(self.panes, engines)):
            pane.set_identity(LABELS[i], engine.name, engine.where(), hidden=self.round.blind)
            pane.set_stale(stale(created, getattr(engine, "cutoff", None)))  # shown once the name is
            pane.view.clear()
        self._show_modes(engines)
        if self.panes:
            (self._maximized or self.panes[0]).view.focus()
        self.query_one(PromptBar).set_mode(follow_up=True, turn=2)
        # Start the models once the screen has settled: the restyle and relayout that a new prompt
        # causes would otherwise take the CPU from the models' prompt processing (time to first token).
        self.call_after_refresh(self._start, comparison)

    def _start(self, comparison: Comparison) -> None:
        if comparison is not self.comparison:
            return  # another prompt was sent before this one started
        comparison.start()
        self._paint_due, self._painted_at = 0.0, time.monotonic()  # the first text shows at the first tick with it
        self._timer.resume()

    def _paint(self, force: bool = False) -> None:
        """Move new text from the answers into their panes: one batch per pane per frame.

        Answers are read only through `Answer.read`, which takes the answer's lock: the text and
        the status it returns belong together.
        """
        round_ = self.round
        if round_ is None:
            return
        now = self.clock()
        all_done = True
        hide = round_.hidden
        # The panes are the children of #panes: cheaper than a DOM query (`self.panes`) 30 times a second.
        panes = [w for w in self.get_child_by_id("panes").children if isinstance(w, AnswerPane)]
        budget = FRAME_CHARS // max(1, len(panes))
        moved = shown_any = 0
        for i, (pane, answer) in enumerate(zip(panes, round_.comparison.answers)):
            painted_id, since = round_.painted.get(i, (None, 0))
            if painted_id != answer.id:  # a new turn, or a regenerated answer replacing the old one
                since = 0
                round_.figures.pop(i, None)
                self._show_conversation(pane.view, round_.comparison, i)
            state, text = answer.read(since, budget)
            if text:
                pane.view.append(text)
                moved += len(text)
            round_.painted[i] = (answer.id, state.pieces)
            shown_any = shown_any or state.pieces
            done = state.shown
            all_done = all_done and done
            if done and pane.view.doc.needs_close:  # a last line, or bare code still to render as code
                pane.view.finish()
            if done and state.error and (force or not pane.view.has_notice):
                message = state.error if not hide else "this answer failed (the reason shows after your vote)"
                pane.view.set_notice(Text(f"✗ {message}", style="bold red"))
            pane.set_where(state.where)
            shown = round_.figures.get(i)
            if force or done or shown is None or shown[0] != state.status or now - shown[1] >= FIGURES_S:
                pane.show_figures(shown_status(state.status, state.finish_reason),
                                  blind_summary(state, now) if hide else summary(state, now, pane.figures_width))
                round_.figures[i] = (state.status, now)
        if all_done:
            self._timer.pause()
            self.refresh_bindings()
        if not force:  # the next tick that paints (`_frame`): 30 fps, or 10 while the text comes slowly
            t = time.monotonic()
            rate = moved / max(FRAME_S, t - self._painted_at)
            slow = shown_any and rate < SLOW_CHARS_S
            self._painted_at = t
            self._paint_due = t + (FRAME_SLOW_S - FRAME_S / 2 if slow else 0.0)

    def _frame(self) -> None:
        """The paint timer's tick (every FRAME_S): paint if due; `_paint` says when the next paint is due.

        Until the first text shows, and while text arrives fast, every tick paints (short frames: a key
        never waits long for one); while it arrives slowly, every third (each frame costs about the same
        whatever it brings, so the UI's CPU drops about threefold).
        """
        if time.monotonic() >= self._paint_due:
            self._paint()

    @staticmethod
    def _show_conversation(view: AnswerView, comparison: Comparison, index: int) -> None:
        """Start a pane over: the earlier turns (each prompt, then this pane's answer), then the latest prompt.

        Once per turn or regeneration, never per token; a first turn shows only its answer.
        """
        view.clear()
        turns = comparison.turns
        if len(turns) < 2:
            return
        for turn in turns:
            view.add_rule(prompt_rule(turn.index + 1, turn.request.prompt))
            if turn is not turns[-1]:
                view.append(turn.answers[index].text)
                view.finish()

    def on_resize(self) -> None:
        """Figures fit the new widths (their compact form is chosen per pane width)."""
        if self.round is not None:
            self.call_after_refresh(self._paint, True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The footer shows only the keys that do something now."""
        streaming = self.comparison is not None and not self.comparison.finished
        if action in STREAMING:
            return streaming
        if action in NEEDS_ANSWERS or action in CODE_OUT_ACTIONS:
            return self.comparison is not None
        if action == "undo":
            return self.round is not None and self.round.vote is not None
        if action == "toggle_blind":
            return not self.draw_from
        return True

    # -- actions --------------------------------------------------------
    def _focused_index(self) -> int | None:
        focused = self.focused
        for i, pane in enumerate(self.panes):
            if focused is not None and (focused is pane or pane in focused.ancestors):
                return i
        return None

    def action_stop_all(self) -> None:
        """Stop every answer still streaming."""
        if self.comparison is not None and not self.comparison.finished:
            self.comparison.cancel()
            self.notify("Stopped all answers.", timeout=2)

    def action_stop_one(self) -> None:
        """Stop the focused pane's answer; the others carry on."""
        index = self._focused_index()
        if self.comparison is not None and index is not None:
            self.comparison.cancel(index)

    def action_regenerate(self) -> None:
        """Ask the focused pane's model again."""
        index = self._focused_index()
        if self.comparison is None or index is None:
            self.notify("Focus a pane with an answer to regenerate it.", severity="warning", timeout=3)
            return
        self.comparison.regenerate(index)
        self.round.verdicts.pop(index, None)
        self.panes[index].set_badge("")
        self._timer.resume()
        self.refresh_bindings()

    def action_toggle_blind(self) -> None:
        """Blind mode from the next prompt on: shuffled panes, names hidden until the vote."""
        self.blind = not self.blind
        self.query_one(PromptBar).query_one(".params").update(self._params_text())
        self.notify(f"Blind mode {'on' if self.blind else 'off'} from the next prompt.", timeout=3)

    @on(AnswerView.Scrolled)
    def mirror_scroll(self, event: AnswerView.Scrolled) -> None:
        """Scrolling one pane scrolls the others to the same line."""
        if not self.sync_scroll:
            return
        for pane in self.panes:
            if pane.view is not event.view:
                pane.view.sync_to(event.y)

    def on_unmount(self) -> None:
        if self.comparison is not None:
            self.comparison.cancel()
        self.pool.close()

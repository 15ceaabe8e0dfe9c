"""Verify answers: extract the code, run it against the prompt's tests in a sandbox, give a verdict.

    verdict = verify(answer_text, prompt)          # a PromptFile with (or without) a tests block
    verdict.outcome, verdict.passed, verdict.total  # "pass", 5, 5

Outcomes: pass, fail, error (the code did not load, or crashed before the tests ended), timeout,
no-code (no code in the answer), no-runner (a language nothing here runs), no-tests (the code
ran; the prompt has no tests), refused (this machine cannot cut the code off the network and
`allow_network` was not given). The sandbox is described in `_launcher.py` and `sandbox.py`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from workbench.verify import languages, rust, sandbox, visual
from workbench.verify.extract import blocks, extract_code, normalize
from workbench.verify.limits import Limits

if TYPE_CHECKING:
    from workbench.prompts import PromptFile

__all__ = ["Limits", "Verdict", "extract_code", "verify", "OUTCOMES"]

OUTCOMES = ("pass", "fail", "error", "timeout", "no-code", "no-runner", "no-tests", "refused")


@dataclass
class Verdict:
    """What running one answer's code showed."""

    outcome: str
    """One of OUTCOMES."""
    passed: int = 0
    """Tests passed."""
    total: int = 0
    """Tests in the prompt (0 when nothing ran tests)."""
    exit_status: int | None = None
    """The program's exit status, or minus the signal that ended it; None if it did not end by itself."""
    duration_ms: float = 0.0
    """Wall-clock time of the sandboxed run, setup included."""
    stdout: str = ""
    """Standard output, at most Limits.output_kb (head and tail when longer)."""
    stderr: str = ""
    """Standard error, likewise bounded."""
    language: str | None = None
    """The language the code was run as."""
    isolated_network: bool = False
    """Whether the code ran without any network (its own empty network namespace)."""
    note: str | None = None
    """One line on why, when the outcome needs it."""
    visual: dict | None = None
    """For a graphics program (visual.py): its verdict `line`, `frames`, their `times`, how it `ended`…"""
    animation: bytes | None = field(default=None, repr=False)
    """For a graphics program: its frames as one animated image (WebP), when it drew any."""

    def as_dict(self) -> dict:
        """The verdict as JSON-ready values; for a graphics program also `visual` and `animation` (its size)."""
        out = asdict(self)
        if self.visual is None:
            del out["visual"], out["animation"]
        else:
            out["animation"] = len(self.animation) if self.animation else None
        return out

    def summary(self) -> str:
        """One line for people: `pass 5/5 tests · 0.4 s`, with the note when there is one."""
        parts = [self.outcome]
        if self.total:
            parts.append(f"{self.passed}/{self.total} test{'s' * (self.total != 1)}")
        elif self.exit_status is not None and self.outcome == "no-tests":
            parts.append(f"exit {self.exit_status}")
        text = " ".join(parts)
        if self.duration_ms:
            text += f" · {self.duration_ms / 1000:.1f} s"
        return text + (f" · {self.note}" if self.note else "")


def verify(answer_text: str, prompt: PromptFile | None, language: str | None = None, *,
           allow_network: bool = False, limits: Limits = Limits()) -> Verdict:
    """Run the code in `answer_text` against `prompt`'s tests (or just run it) and judge the result.

    `language` overrides the prompt's; with neither, the answer's first runnable fence decides.
    Never raises for anything the answer does; the sandbox's own faults come back as `error`.
    """
    tests = prompt.tests if prompt is not None else None
    language = normalize(language or (prompt.tests_language or prompt.language if prompt else None))
    code = extract_code(answer_text, language)
    if code is None:
        where = f" in {language}" if language else ""
        return Verdict("no-code", language=language, note=f"no code{where} found in the answer")
    if language is None:
        found = [b.lang for b in blocks(answer_text) if b.lang in languages.RUNNABLE]
        language = found[0] if found else "python"
    try:
        if language == "rust":
            plan = rust.plan(code, tests, limits)
        elif language == "python" and visual.wants(prompt, code):
            plan = visual.plan(code, prompt, limits)
        else:
            plan = languages.plan(language, code, tests, limits)
    except languages.NoRunner as exc:
        return Verdict("no-runner", language=language, note=str(exc))
    except languages.BadTests as exc:
        return Verdict("error", language=language, note=str(exc))
    started = time.monotonic()
    try:
        run = sandbox.run(plan.files, plan.argv, limits=plan.limits or limits, allow_network=allow_network,
                          stdin=plan.stdin, expose=plan.expose, plain_program=plan.plain_program,
                          peer=plan.peer, env=plan.env)
    except OSError as exc:  # the machine would not start the sandbox at all
        return Verdict("error", language=language, duration_ms=(time.monotonic() - started) * 1000,
                       note=f"the sandbox could not start: {exc}")
    base = dict(exit_status=run.status, duration_ms=round(run.duration_ms, 1), stdout=run.stdout,
                stderr=run.stderr, language=language, isolated_network=run.isolated_network)
    if run.refused is not None:
        return Verdict("refused", **{**base, "exit_status": None}, note=run.refused)
    if run.failure is not None:
        return Verdict("error", **base, note=f"sandbox failure: {run.failure}")
    judged = plan.judge(run)
    note = judged.note
    if not run.isolated_network:
        note = "; ".join(filter(None, [note, "ran WITHOUT network isolation (--allow-network)"]))
    return Verdict(judged.outcome, judged.passed, judged.total, note=note,
                   **{**base, **getattr(judged, "verdict_fields", {})})


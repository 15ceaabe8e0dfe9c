"""Re-run a bundle's answers with the same requests and settings, and say which came back the same.

Each answer is sent exactly the request the bundle holds (system prompt, parameters, its own
conversation history as it was then), through the same engines and the same `Comparison` the app
uses (so the loop guard and the figures work as they did). A local model is the GGUF whose SHA-256
the bundle names, found in the config, the demo models, `$WORKBENCH_HOME/models/` or `--models`
folders, and run with the bundle's threads, n_ctx, GPU layers, chat format and loop guard; the
worker itself empties the context before every answer. A hosted model is re-run only with
`hosted=True`, and only when its request had a fixed seed.

Per answer: `identical` (the same bytes and finish reason), `differs` (with a unified diff),
`model missing`, `not reproducible` (sampled without a seed, hosted without one, stopped part-way,
failed, or its request was redacted), or `skipped` (a hosted answer, without `hosted`). The
tests are re-run too and their verdicts compared.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.bundle import rules
from workbench.bundle.build import PRIVATE_HOST, software
from workbench.bundle.format import Bundle
from workbench.core import Comparison, Message, Request

IDENTICAL, DIFFERS, MISSING, NOT_REPRODUCIBLE, SKIPPED = (
    "identical", "differs", "model missing", "not reproducible", "skipped")
STATUSES = (IDENTICAL, DIFFERS, MISSING, NOT_REPRODUCIBLE, SKIPPED)


@dataclass
class Outcome:
    """What re-running one answer of the bundle showed."""

    answer: dict
    status: str
    why: str | None = None
    text: str | None = None
    """The re-run's text (None when it was not re-run)."""
    finish_reason: str | None = None
    error: str | None = None
    diff: str | None = None
    settings: dict | None = None
    """How it was re-run: the engine's where, and a local model's threads, n_ctx, batch…"""
    tests: dict | None = None
    """{"bundle": verdict or None, "replay": verdict, "same": bool} when the tests were re-run."""

    def as_dict(self) -> dict:
        a = self.answer
        request = a["request"]
        return {
            "id": a["id"], "prompt_id": a["prompt_id"], "model": a["model_name"], "status": self.status,
            "why": self.why, "parameters": {k: request.get(k) for k in ("max_tokens", "temperature", "seed", "top_p")},
            "settings": self.settings,
            "finish_reason": {"bundle": a.get("finish_reason"), "replay": self.finish_reason},
            "error": self.error, "diff": self.diff, "text": self.text, "tests": self.tests,
        }


@dataclass
class Report:
    """Every answer's outcome, what differs between the bundle's machine and this one, and the import."""

    bundle: Path
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    session_id: int | None = None
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.outcomes) for s in STATUSES}

    @property
    def tests_differ(self) -> int:
        return sum(1 for o in self.outcomes if o.tests and not o.tests["same"])

    @property
    def ok(self) -> bool:
        """Nothing differs, nothing that could be re-run was left undone, the tests agree, the import worked."""
        counts = self.counts()
        return not (counts[DIFFERS] or counts[MISSING] or self.tests_differ or self.errors)

    def as_dict(self) -> dict:
        return {"bundle": str(self.bundle), "notes": self.notes, "worker": rules.WORKER,
                "answers": [o.as_dict() for o in self.outcomes], "summary": self.counts(),
                "tests_differ": self.tests_differ, "imported_session": self.session_id, "errors": self.errors}


# -- finding the models --------------------------------------------------------------------------


class ModelFinder:
    """Local GGUFs by SHA-256: the catalog's (config, demo models, models/) and the files in extra folders."""

    def __init__(self, settings, folders: list[Path] = ()) -> None:
        from workbench import catalog

        self.settings = settings
        self.candidates: list[tuple[str, Any]] = []
        for entry in catalog.discover(settings):
            if entry.spec.engine == "llama" and entry.spec.path:
                self.candidates.append((str(entry.spec.resolved_path()), entry.spec))
        for folder in folders:
            for path in sorted(Path(folder).glob("*.gguf")):
                self.candidates.append((str(path), None))
        self._sums: dict[tuple, str | None] = {}

    def _sha(self, path: str, spec) -> str | None:
        from workbench import demo_models, fingerprint

        try:
            if spec is not None and spec.source == "demo":
                demo_models.prepare(spec)  # the chunked demo model is assembled on first use
            st = os.stat(path)
        except (OSError, AssertionError):
            return None
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._sums:
            try:
                self._sums[key] = fingerprint.file_sha256(path)
            except OSError:
                self._sums[key] = None
        return self._sums[key]

    def find(self, sha256: str, file_name: str | None) -> tuple[str, Any] | None:
        """(path, its catalog spec or None) of a GGUF with this SHA-256; files of the same name are hashed first."""
        ordered = sorted(self.candidates, key=lambda c: os.path.basename(c[0]) != file_name)
        for path, spec in ordered:
            if self._sha(path, spec) == sha256:
                return path, spec
        return None

    def hosted(self, model: dict, name: str):
        """The config's hosted model for a bundle's: the same litellm model string, at the same public host
        (or, for a host the bundle hides, the config entry of the same name)."""
        from workbench.bundle.build import _bases
        from workbench.engines.remote import api_host

        for spec in self.settings.models:
            if spec.engine != "litellm" or spec.model != model.get("litellm_model"):
                continue
            hosts = set((model.get("api_host") or "").split(",")) - {""}
            if PRIVATE_HOST in hosts:
                if spec.name == name:
                    return spec
            else:  # the same public host (a replica of a pool), or both the provider's own endpoint
                ours = {api_host(b) for b in _bases(spec.api_base)}
                if (hosts and hosts <= ours) or (not hosts and not ours):
                    return spec
        return None


# -- re-running ----------------------------------------------------------------------------------


class AsRecorded(Comparison):
    """One turn whose answers are each sent the request the bundle holds, history included.

    `Comparison` gives a follow-up the history of the answers it holds; a re-run has only the
    bundle's, so each answer's request (and parent, and attempt) is the recorded one.
    """

    def __init__(self, engines, requests: list[Request], parents: list[str | None], attempts: list[int],
                 **kwargs) -> None:
        self._sent = list(requests)
        self._parents = list(parents)
        self._attempts = list(attempts)
        super().__init__(engines, requests[0], **kwargs)

    def _answer(self, index, turn, request, parent_id, attempt):  # noqa: D102 - see the class
        return super()._answer(index, turn, self._sent[index], self._parents[index], self._attempts[index])


def request_of(answer: dict) -> Request:
    """The bundle's request as a `Request`."""
    r = answer["request"]
    return Request(prompt=r["prompt"], system=r.get("system"), max_tokens=r["max_tokens"],
                   temperature=r.get("temperature"), seed=r.get("seed"), top_p=r.get("top_p"),
                   history=tuple(Message(m["role"], m["content"]) for m in r.get("history") or ()))


def _prompt_file(prompt: dict):
    """The bundle's prompt with its tests, as the verifier takes it."""
    from workbench.prompts import PromptFile

    tests = prompt.get("tests") or {}
    return PromptFile(name=prompt.get("key") or f"bundle-{prompt['id']}", path=None,
                      title=prompt.get("title") or "", body=prompt["text"], language=tests.get("language"),
                      tests=tests.get("code"), tests_language=tests.get("tests_language"))


def _diff(old: str, new: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "bundle", "replay", lineterm=""))
    if not lines:  # the same lines: they differ in a line ending or trailing whitespace
        lines = ["--- bundle", "+++ replay", f"- ends {old[-20:]!r} ({len(old)} characters)",
                 f"+ ends {new[-20:]!r} ({len(new)} characters)"]
    return "\n".join(lines)


def _verdict(v) -> dict | None:
    if v is None:
        return None
    d = v.as_dict() if hasattr(v, "as_dict") else dict(v)
    return {k: d.get(k) for k in ("outcome", "passed", "total", "note")}


def _same_verdict(a: dict | None, b: dict | None) -> bool:
    return a is not None and b is not None and all(a.get(k) == b.get(k) for k in ("outcome", "passed", "total"))


def machine_notes(bundle: Bundle) -> list[str]:
    """What differs between the machine that made the bundle and this one, as far as a re-run cares."""
    theirs = bundle.manifest.get("software") or {}
    ours = software()
    notes = []
    for key, what in (("llama_cpp_python", "llama-cpp-python"), ("llama_cpp_build", "llama.cpp's build"),
                      ("machine", "the CPU architecture")):
        if theirs.get(key) != ours.get(key):
            notes.append(f"{what}: {ours.get(key)} here, {theirs.get(key)} in the bundle")
    their_cpu, our_cpu = theirs.get("cpu") or {}, ours.get("cpu") or {}
    mine, other = (set(str(cpu.get("flags") or "").split()) if isinstance(cpu, dict) else set()
                   for cpu in (our_cpu, their_cpu))
    if mine != other:
        notes.append(f"the CPU's flags: {len(mine - other)} here only, {len(other - mine)} in the bundle only "
                     "(llama.cpp picks its kernels by them)")
    used = {m.get("llama_cpp_version") for m in bundle.models.values() if m.get("engine") == "llama"} - {None}
    if used and ours.get("llama_cpp_python") and used != {ours.get("llama_cpp_python")}:
        notes.append(f"the answers were made with llama-cpp-python {', '.join(sorted(map(str, used)))}; "
                     f"this machine has {ours.get('llama_cpp_python')}")
    return notes


def replay(bundle: Bundle, settings, folders: list[Path] = (), hosted: bool = False, store=None,
           on_outcome: Callable[[Outcome], None] | None = None, notes: list[str] | None = None) -> Report:
    """Re-run what can be re-run; with `store`, the re-run answers are logged as a new session.

    `on_outcome` hears of each answer as it is settled; `notes` are `machine_notes` already made.
    """
    from workbench.engines import make_engine

    report = Report(bundle.path, notes=machine_notes(bundle) if notes is None else notes)
    finder = ModelFinder(settings, list(folders))
    prompts = bundle.prompts
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    plan: dict[int, list[tuple[dict, Any, dict]]] = {}  # prompt id -> [(answer, spec, settings)]
    specs: dict[tuple, Any] = {}
    for answer in bundle.answers:
        model = bundle.models.get(answer.get("model_id") or "") or {}
        engine = model.get("engine") or answer.get("engine")
        expected, why = rules.classify(answer, engine)
        if "request" in (answer.get("redacted") or ()):
            expected, why = False, "a key, private host or environment value was cut from its request"
        if not expected:
            report.outcomes.append(Outcome(answer, NOT_REPRODUCIBLE, why))
            continue
        if engine == "litellm":
            if not hosted:
                report.outcomes.append(Outcome(answer, SKIPPED, "hosted: `--hosted` re-runs it"))
                continue
            spec = finder.hosted(model, answer["model_name"])
            if spec is None:
                report.outcomes.append(Outcome(answer, MISSING, f"no hosted model {model.get('litellm_model')!r} "
                                                                 "at that host in the config"))
                continue
            plan.setdefault(answer["prompt_id"], []).append((answer, spec, {"engine": "litellm"}))
            continue
        sha = model.get("sha256")
        found = finder.find(sha, model.get("file_name")) if sha else None
        if found is None:
            why = (f"no GGUF with SHA-256 {sha[:16]}… ({model.get('file_name')}) in the config, the models folder "
                   "or --models" if sha else "the log has no SHA-256 of its GGUF")
            report.outcomes.append(Outcome(answer, MISSING, why))
            continue
        path, catalog_spec = found
        rs = answer.get("run_settings") or {}
        wanted = rs.get("n_threads")
        threads = min(wanted, cores) if wanted else None
        used = {
            "engine": "llama", "n_threads": threads, "n_threads_bundle": wanted,
            "n_ctx": rs.get("n_ctx") or (catalog_spec.n_ctx if catalog_spec else 4096),
            "n_gpu_layers": rs.get("n_gpu_layers") or 0, "chat_format": rs.get("chat_format"),
            "repeat_guard": rs.get("repeat_guard"), "n_batch": rules.WORKER["n_batch"],
            "n_ubatch": rules.WORKER["n_ubatch"], "context": "emptied before the answer",
        }
        key = (path, threads, used["n_ctx"], used["n_gpu_layers"], used["chat_format"], used["repeat_guard"])
        if key not in specs:
            from workbench.config import ModelSpec

            specs[key] = ModelSpec(name=answer["model_name"], engine="llama", path=path, n_ctx=used["n_ctx"],
                                   n_threads=threads, n_gpu_layers=used["n_gpu_layers"],
                                   chat_format=used["chat_format"], repeat_guard=used["repeat_guard"])
        plan.setdefault(answer["prompt_id"], []).append((answer, specs[key], used))
    for outcome in report.outcomes:
        if on_outcome:
            on_outcome(outcome)
    engines: dict[int, Any] = {}
    recorder = store.start_session("replay", f"replay of {bundle.path.name}") if store is not None else None
    new_uid: dict[int, str] = {}  # bundle answer id -> the re-run answer's id (for the import's parents)
    new_prompt: dict[int, int] = {}  # bundle prompt id -> the imported prompt row
    conversations: dict[str, str] = {}
    try:
        for prompt_id, items in plan.items():
            prompt = prompts[prompt_id]
            run = []
            for answer, spec, used in items:
                if id(spec) not in engines:
                    engines[id(spec)] = make_engine(spec, 1)
                if used.get("engine") == "llama":  # the threads the engine settled on (all cores when unrecorded)
                    used["n_threads"] = getattr(engines[id(spec)], "n_threads", used.get("n_threads"))
                run.append((answer, engines[id(spec)], used))
            comparison = AsRecorded(
                [e for _a, e, _u in run], [request_of(a) for a, _e, _u in run],
                [new_uid.get(a.get("parent_response_id")) for a, _e, _u in run],
                [a.get("attempt") or 0 for a, _e, _u in run],
                positions=[a.get("position") or 0 for a, _e, _u in run],
                subscribers=[recorder.on_event] if recorder else [])
            for (answer, _e, _u), fresh in zip(run, comparison.answers):
                new_uid[answer["id"]] = fresh.id
            if recorder is not None:
                conv = conversations.setdefault(prompt.get("conversation") or f"prompt-{prompt_id}",
                                                comparison.id)
                extra = {"prompt_key": prompt.get("key"), "title": prompt.get("title"), "repeat": prompt.get("repeat"),
                         "turn": prompt.get("turn") or 1, "conversation": conv,
                         "parent_id": new_prompt.get(prompt.get("parent_prompt_id"))}
                future = recorder.record(comparison, blind=any(a.get("blind") for a, _e, _u in run),
                                         tags=list(prompt.get("tags") or []), extra=extra)
                try:
                    new_prompt[prompt_id] = future.result(30)
                except Exception:  # noqa: BLE001 - counted in recorder.errors, reported at the end
                    pass
            comparison.start()
            comparison.wait()
            for (answer, engine, used), fresh in zip(run, comparison.answers):
                outcome = _compare(answer, fresh, engine, used)
                if prompt.get("tests") and fresh.status == "complete":
                    outcome.tests = _retest(answer, fresh, prompt, recorder)
                report.outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
    finally:
        for engine in engines.values():
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - closing the rest matters more
                pass
        if recorder is not None:
            recorder.close()
            report.session_id = recorder.session_id
            report.errors = list(recorder.errors)
    order = {a["id"]: i for i, a in enumerate(bundle.answers)}
    report.outcomes.sort(key=lambda o: order.get(o.answer["id"], 0))
    return report


def _compare(answer: dict, fresh, engine, used: dict) -> Outcome:
    state, text = fresh.read(0)
    where = state.where.rsplit("@", 1)[-1] if state.where else state.where  # never a URL's credentials
    settings = {**used, "where": where}
    base = {"text": text, "finish_reason": state.finish_reason, "error": state.error, "settings": settings}
    if state.status == "failed":
        return Outcome(answer, DIFFERS, f"the re-run failed: {state.error}", **base)
    if text == answer["text"] and state.finish_reason == answer.get("finish_reason"):
        return Outcome(answer, IDENTICAL, **base)
    if text == answer["text"]:
        why = f"the same text, but it ended {state.finish_reason!r} (the bundle's: {answer.get('finish_reason')!r})"
        return Outcome(answer, DIFFERS, why, **base)
    why = "its text was redacted in the bundle" if "text" in (answer.get("redacted") or ()) else None
    return Outcome(answer, DIFFERS, why, diff=_diff(answer["text"], text), **base)


def _retest(answer: dict, fresh, prompt: dict, recorder) -> dict:
    from workbench.verify import Verdict, verify

    try:
        verdict = verify(fresh.text, _prompt_file(prompt))
    except Exception as exc:  # noqa: BLE001 - a checker bug is a result, not a crash
        verdict = Verdict(outcome="error", note=f"the checker failed: {type(exc).__name__}: {exc}")
    if recorder is not None:
        recorder.verified(fresh, verdict)
    theirs = answer.get("verification")
    theirs = {k: theirs.get(k) for k in ("outcome", "passed", "total", "note")} if theirs else None
    ours = _verdict(verdict)
    return {"bundle": theirs, "replay": ours, "same": _same_verdict(theirs, ours)}

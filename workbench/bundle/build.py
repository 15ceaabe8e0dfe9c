"""From the log to a bundle: every answer with exactly what its model was sent, cleaned of secrets.

What goes in: the prompts (with their tests, when the library prompt still matches the logged
text), each answer's request as sent (system prompt, parameters, its own conversation history),
the run settings of local models (threads from the log; n_ctx, chat_format and the loop guard
from the config, which the log does not record), each model's fingerprint and the effective chat
template (read from the GGUF when it is still there with the logged SHA-256), the answers and
their figures, the votes with what was shown, the verifications, and the software and CPU.

What never goes in: API keys (every key variable's value, and every form `Redactor` knows),
private hosts (an `api_base` host that is not a well-known public provider's is replaced by
`PRIVATE_HOST` in every field and text), any value of the environment (every variable's value of
12 characters or more, but locale and terminal settings and plain words, is cut wherever it
appears), the log's host name and pid, the session's command-line arguments, and the folders the
models lie in (a GGUF is named by its file name and SHA-256 only).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import socket
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

from workbench import __version__
from workbench.bundle import rules
from workbench.bundle.format import FORMAT, VERSION, BundleError, answer_member
from workbench.fingerprint import gguf_chat_template
from workbench.inputs import MiB, InputFileError, open_regular, read_bytes
from workbench.redact import DEFAULT_KEY_ENV, MIN_SECRET, REDACTED, Redactor

PRIVATE_HOST = "private-host.invalid"
"""What a private server's host becomes (`.invalid` is reserved: it can never name a real host)."""

PUBLIC_HOSTS = frozenset({
    "api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com", "aiplatform.googleapis.com",
    "openrouter.ai", "api.groq.com", "api.mistral.ai", "codestral.mistral.ai", "api.deepseek.com",
    "api.together.xyz", "api.together.ai", "api.fireworks.ai", "api.x.ai", "api.cohere.ai", "api.cohere.com",
    "api.perplexity.ai", "api-inference.huggingface.co", "router.huggingface.co", "api.deepinfra.com",
    "api.cerebras.ai", "api.sambanova.ai", "api.replicate.com", "api.ai21.com", "api.voyageai.com",
    "dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com", "api.moonshot.ai", "api.moonshot.cn",
    "open.bigmodel.cn", "api.hyperbolic.xyz", "api.novita.ai", "api.nvidia.com", "integrate.api.nvidia.com",
})
"""Hosts of well-known public providers: kept as they are. Any other `api_base` host is private."""

_LOOPBACK = re.compile(r"(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\]|0\.0\.0\.0)\Z", re.I)
_ENV_MIN = 12
_ENV_KEEP = re.compile(r"(LANG|LANGUAGE|LC_\w+|TERM|TERM_PROGRAM|TERM_PROGRAM_VERSION|COLORTERM|SHELL|TZ|"
                       r"PAGER|EDITOR|VISUAL|DEBIAN_FRONTEND)\Z")
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL", re.I)
_SECRETISH = re.compile(r"AUTH|COOKIE|SESSION|PRIVATE", re.I)  # XDG_SESSION_TYPE=wayland is no secret
_PLAIN_WORDS = re.compile(r"[A-Za-z][A-Za-z ]*\Z")
_URLS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,;'\"<>]+")
_THREADS = re.compile(r"CPU · (\d+) threads?")


# -- what must never leave the machine ----------------------------------------------------------


def _host_of(value: str | None) -> str | None:
    """The host name of a URL or of a `host[:port]`, lower-cased; None when there is none."""
    if not value:
        return None
    try:
        parsed = urlparse(value if "://" in value else f"//{value}")
        return parsed.hostname
    except ValueError:
        return None


def _bases(api_base) -> list[str]:
    """A config entry's `api_base`s: none, one, or a pool's replicas."""
    if not api_base:
        return []
    return [api_base] if isinstance(api_base, str) else [b for b in api_base if isinstance(b, str)]


def public_host(host: str | None) -> bool:
    """Whether a host is a well-known public provider's."""
    return bool(host) and host.lower().rstrip(".") in PUBLIC_HOSTS


class Scrubber:
    """Cuts keys, environment values and private hosts out of text; counts what it cut.

    Keys: the values of every variable a config model names in `api_key_env`, of the providers'
    default key variables and of any variable whose name says key, token, secret, password or
    credential (or auth, cookie, session, private, unless its value is a plain word); credentials
    written into a URL (`https://user:pass@host`). Environment: every other value of
    `_ENV_MIN` characters or more (locale and terminal settings and plain words excepted). Hosts:
    every `api_base` host of the config, of the log's models and of URLs in the environment that is
    neither public nor loopback.
    """

    def __init__(self, settings: Any, api_hosts: Iterable[str | None] = (), folders: Iterable[str] = (),
                 environ: dict | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        keys: set[str] = set()
        values: set[str] = set()
        hosts: set[str] = set()
        key_vars = {m.api_key_env for m in getattr(settings, "models", ()) if getattr(m, "api_key_env", None)}
        key_vars |= set(DEFAULT_KEY_ENV.values())
        urls = [base for m in getattr(settings, "models", ()) for base in _bases(getattr(m, "api_base", None))]
        for name, value in env.items():
            if not value:
                continue
            if name in key_vars or _SECRET.search(name) or (_SECRETISH.search(name) and not _PLAIN_WORDS.match(value)):
                keys.add(value)
            elif len(value) >= _ENV_MIN and not _ENV_KEEP.match(name) and not _PLAIN_WORDS.match(value):
                values.add(value)
            urls += _URLS.findall(value)
        for url in urls:
            try:
                parsed = urlparse(url)
                user, password, host = parsed.username, parsed.password, parsed.hostname
            except ValueError:
                continue
            keys.update(v for v in (user, password) if v)
            if host:
                hosts.add(host)
        hosts.update(h for h in (_host_of(part) for a in api_hosts if a for part in a.split(",")) if h)
        machine = socket.gethostname()
        if len(machine) >= 6 and not _PLAIN_WORDS.match(machine):  # not in the bundle; where else it shows, cut
            hosts.add(machine)
        self.hosts = {h.lower().rstrip(".") for h in hosts if not public_host(h)}
        """Hosts replaced in fields (loopback too: `127.0.0.1:8000` says nothing, but it is no public provider)."""
        text_hosts = sorted((h for h in self.hosts if not _LOOPBACK.match(h)), key=len, reverse=True)
        self._host_pattern = re.compile(
            "|".join(rf"(?<![A-Za-z0-9.-]){re.escape(h)}(?![A-Za-z0-9-])" for h in text_hosts), re.I
        ) if text_hosts else None
        # A model's folder (in an error such as "cannot load /home/me/models/x.gguf") goes; its file name stays.
        self._folders = sorted({f.rstrip("/") + "/" for f in folders if f and len(f.rstrip("/")) > 1},
                               key=len, reverse=True)
        self._keys = Redactor(k for k in keys if len(k) >= MIN_SECRET)
        self._values = Redactor(values)
        self.cut = {"keys": 0, "environment": 0, "hosts": 0}
        """What was cut, by kind (each occurrence; model folders are not counted)."""

    def text(self, value: str | None) -> str | None:
        """The text with every key, environment value and private host cut out."""
        if not value:
            return value
        out = self._keys(value)
        self.cut["keys"] += out.count(REDACTED) - value.count(REDACTED)
        for folder in self._folders:
            out = out.replace(folder, "")
        before = out.count(REDACTED)
        out = self._values(out)
        self.cut["environment"] += out.count(REDACTED) - before
        if self._host_pattern is not None:
            out, n = self._host_pattern.subn(PRIVATE_HOST, out)
            self.cut["hosts"] += n
        return out

    def walk(self, value: Any) -> Any:
        """Every string in a JSON-like value, cleaned (dict keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        return value

    def host(self, host: str | None) -> str | None:
        """An `api_host` as the bundle shows it: a public provider's as it is, any other replaced (each of a
        pool's comma-separated replicas on its own)."""
        if not host:
            return host
        return ",".join(part if public_host(_host_of(part)) else PRIVATE_HOST for part in host.split(","))


# -- this machine --------------------------------------------------------------------------------


def cpu_info() -> dict:
    """The CPU's model and flags from /proc/cpuinfo (what llama.cpp's kernels are chosen by)."""
    info: dict = {"logical_cpus": os.cpu_count(), "model": None, "flags": None}
    try:
        text = read_bytes("/proc/cpuinfo", 16 * MiB).decode("utf-8", "replace")
    except (InputFileError, OSError):
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and info["model"] is None:
            info["model"] = value.strip()
        elif key in ("flags", "features") and info["flags"] is None:
            info["flags"] = " ".join(sorted(set(value.split())))
        if info["model"] is not None and info["flags"] is not None:
            break
    return info


def llama_build() -> str | None:
    """llama.cpp's own description of its build (the CPU features it was compiled for), or None."""
    try:
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - not installed, or its library does not load
        return None


def software() -> dict:
    """The versions and the machine a re-run is compared against."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    libc = platform.libc_ver()
    return {
        "workbench": __version__,
        "llama_cpp_python": version("llama_cpp_python"),
        "llama_cpp_build": llama_build(),
        "litellm": version("litellm"),
        "sqlite_utils": version("sqlite-utils"),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "libc": " ".join(v for v in libc if v) or None,
        "cpu": cpu_info(),
    }


# -- the chat template ---------------------------------------------------------------------------


def _file_sha256(db, path: str) -> str | None:
    """A file's SHA-256: the log's cached one for its path, size and time, else computed."""
    from workbench import fingerprint
    from workbench.store.queries import cached_sha256

    try:
        st = os.stat(path)
        return cached_sha256(db, path, st.st_size, st.st_mtime_ns) or fingerprint.file_sha256(path)
    except OSError:
        return None


def chat_template(db, model: dict, chat_format: str | None) -> dict:
    """The effective chat template of a local model, or why the bundle cannot hold it."""
    logged = model.get("chat_template_sha256")
    out: dict = {"sha256": logged, "text": None}
    if chat_format:
        out["chat_format"] = chat_format
        out["note"] = (f"the config's chat_format {chat_format!r} (llama-cpp-python's named format) overrode the "
                       "GGUF's template; the log does not record chat_format, the config did when the bundle was made")
        return out
    if not logged:
        out["note"] = ("none: the GGUF has no chat template, so the model ran as a base model (completion): "
                       "its messages joined by blank lines")
        return out
    path = model.get("path")
    if not path or not os.path.isfile(path):
        out["note"] = ("not in the log (the log keeps only its SHA-256), and the GGUF was not at its logged path "
                       "when the bundle was made")
        return out
    if model.get("sha256") and _file_sha256(db, path) != model["sha256"]:
        out["note"] = "not in the log (only its SHA-256), and the GGUF at its logged path has changed since"
        return out
    try:
        text = gguf_chat_template(path)
    except (OSError, InputFileError, ValueError, UnicodeDecodeError, struct.error):
        out["note"] = "not in the log (only its SHA-256), and the GGUF's metadata could not be read"
        return out
    if text is None or hashlib.sha256(text.encode()).hexdigest() != logged:
        out["note"] = "not in the log (only its SHA-256), and the GGUF's template does not match that SHA-256"
        return out
    out["text"] = text
    out["source"] = "read from the GGUF (of the logged SHA-256) when the bundle was made; it matches the logged hash"
    return out


# -- the log's rows as bundle entries ------------------------------------------------------------

_MODEL_KEEP = ("name", "engine", "sha256", "architecture", "quantization", "parameters", "context_length",
               "chat_template_sha256", "llama_cpp_version", "gpu_offload", "n_gpu_layers", "litellm_model",
               "provider_model_id", "system_fingerprint")
_FIGURES = ("ttft_ms", "duration_ms", "load_ms", "prompt_tokens", "completion_tokens", "tokens_per_s", "cost_usd")
_VERDICT = ("outcome", "passed", "total", "exit_status", "duration_ms", "language", "isolated_network", "note",
            "created_at")


def _spec_for(specs: dict, model: dict, name: str):
    """The catalog's entry for a logged local model, when it still names the same GGUF file."""
    spec = specs.get(name)
    if spec is None or spec.engine != "llama" or not model.get("path"):
        return None
    try:
        same = Path(str(spec.resolved_path())).resolve() == Path(model["path"]).resolve()
    except (OSError, ValueError):
        return None
    return spec if same else None


def _run_settings(row: dict, model: dict, spec) -> dict:
    """How a local answer was run: threads from the log, the rest from the config entry (not logged)."""
    found = _THREADS.search(row.get("where_run") or "")
    threads = int(found.group(1)) if found else None
    mode = "chat" if (model.get("chat_template_sha256") or (spec and spec.chat_format)) else "completion"
    return {
        "engine": "llama",
        "n_threads": threads,
        "n_threads_batch": threads,
        "n_ctx": spec.n_ctx if spec else None,
        "n_gpu_layers": model.get("n_gpu_layers") or 0,
        "gpu_offload": bool(model.get("gpu_offload")),
        "chat_format": spec.chat_format if spec else None,
        "repeat_guard": spec.repeat_guard if spec else None,
        "mode": mode,
        "n_batch": rules.WORKER["n_batch"],
        "n_ubatch": rules.WORKER["n_ubatch"],
        "from": {"n_threads": "the log (the answer's where: CPU · N threads)" if found else "not in the log",
                 **{k: (f"the model's {spec.source} entry when the bundle was made (not in the log)" if spec else
                        "unknown: not in the log, and no model entry names this GGUF now")
                    for k in ("n_ctx", "chat_format", "repeat_guard")}},
    }


def _vars(args: dict) -> dict:
    out = {}
    for item in args.get("vars") or ():
        name, sep, value = str(item).partition("=")
        if sep and name.strip():
            out[name.strip()] = value
    return out


def _tests(row: dict, library: dict, session_args: dict) -> tuple[dict | None, str | None]:
    """The prompt's tests, when the library prompt (or prompt file) of its key still gives the logged text."""
    from workbench.prompts import PromptError, parse, render, render_system

    key = row.get("prompt_key")
    if not key:
        return None, None
    candidates = [library[key]] if key in library else []
    for arg in session_args.get("prompts") or ():
        if isinstance(arg, str) and arg.endswith(".md") and Path(arg).stem == key:
            try:
                if Path(arg).expanduser().is_file():
                    candidates.append(parse(Path(arg).expanduser()))
            except (PromptError, OSError, ValueError):
                pass
    variables = _vars(session_args)
    for prompt in candidates:
        try:
            mine = {k: v for k, v in variables.items() if k in prompt.variables}
            same = render(prompt, mine) == row["prompt_text"]
            same_system = row.get("prompt_system") in (None, render_system(prompt, mine))
        except PromptError:
            continue
        if same:
            if not prompt.tests:
                return None, None
            tests = {"code": prompt.tests, "language": prompt.language, "tests_language": prompt.tests_language,
                     "source": f"the library prompt {key!r}, whose text matches the logged prompt"}
            if not same_system:
                tests["source"] += " (the system prompt was given on the command line)"
            return tests, None
    if candidates:
        return None, f"the prompt {key!r} no longer gives the logged text, so its tests are left out"
    if key.startswith("adhoc-"):
        return None, None
    return None, f"the prompt {key!r} is not in the library now, so its tests are left out"


def build(db, settings, session_id: int | None = None, tag: str | None = None) -> tuple[dict, list[dict]]:
    """The manifest and the answers of every prompt of a session (or with a tag, or both)."""
    from workbench import catalog
    from workbench.prompts import library_dirs, load_library
    from workbench.store.queries import answers as log_answers
    from workbench.store.queries import conversation_history, session_rows

    rows = list(log_answers(db, session_id, tag))
    if not rows:
        what = " and ".join(w for w in (f"session {session_id}" if session_id is not None else None,
                                          f"the tag {tag!r}" if tag else None) if w) or "the log"
        raise BundleError(f"{settings.db_path}: no answers in {what}")
    specs = {e.spec.name: e.spec for e in catalog.discover(settings)}
    folders = {os.path.dirname(p) for p in [(r["model"] or {}).get("path") for r in rows]
               + [str(s.resolved_path()) for s in specs.values() if s.engine == "llama" and s.path] if p}
    scrub = Scrubber(settings, [(r["model"] or {}).get("api_host") for r in rows], folders)
    library, _broken = load_library(library_dirs(settings.home))
    sessions = session_rows(db, sorted({r["session_id"] for r in rows}))
    args = {s["id"]: _json(s.get("args")) for s in sessions}
    models: dict[str, dict] = {}
    prompts: dict[int, dict] = {}
    votes: dict[int, dict] = {}
    answers: list[dict] = []
    for row in rows:
        model = row["model"]
        engine = model["engine"] if model else None
        spec = _spec_for(specs, model, row["model_name"]) if engine == "llama" else None
        if model and model["id"] not in models:
            entry = {k: model.get(k) for k in _MODEL_KEEP}
            entry["file_name"] = os.path.basename(model["path"]) if model.get("path") else None
            entry["api_host"] = scrub.host(model.get("api_host"))
            if engine == "llama":
                entry["chat_template"] = chat_template(db, model, spec.chat_format if spec else None)
            models[model["id"]] = entry
        if row["prompt_id"] not in prompts:
            tests, note = _tests(row, library, args.get(row["session_id"]) or {})
            prompts[row["prompt_id"]] = {
                "id": row["prompt_id"], "session_id": row["session_id"], "conversation": row["conversation"],
                "turn": row["turn"], "parent_prompt_id": row["parent_prompt_id"], "key": row.get("prompt_key"),
                "title": row.get("prompt_title"), "repeat": row.get("prompt_repeat"), "text": row["prompt_text"],
                "system": row["prompt_system"], "params": row["prompt_params"], "tags": row["prompt_tags"],
                "created_at": row["prompt_created_at"], "tests": tests, "tests_note": note,
                "created": row.get("prompt_created"),  # the prompt's own date (contamination: `stale` below)
            }
        for vote in row["votes"]:
            if vote["id"] not in votes:
                votes[vote["id"]] = {
                    "id": vote["id"], "prompt_id": vote["prompt_id"], "outcome": vote["outcome"],
                    "winner_response_id": vote["winner_response_id"], "response_ids": vote["response_ids"],
                    "scores": vote["scores"], "note": vote["note"], "blind": bool(vote["blind"]),
                    "shown": _json(vote.get("shown")), "created_at": vote["created_at"],
                    "retracted_at": vote.get("retracted_at"),
                }
        params = row["prompt_params"] or {}
        request = {
            "prompt": row["prompt_text"], "system": row["prompt_system"],
            "max_tokens": int(params.get("max_tokens") or 512), "temperature": params.get("temperature"),
            "seed": params.get("seed"), "top_p": params.get("top_p"),
            "history": conversation_history(db, row["parent_response_id"]),
        }
        answer = {
            "id": row["id"], "prompt_id": row["prompt_id"], "model_id": model["id"] if model else None,
            "model_name": row["model_name"], "engine": engine, "position": row["position"], "label": row["label"],
            "blind": bool(row["blind"]), "attempt": row["attempt"], "parent_response_id": row["parent_response_id"],
            "status": row["status"], "finish_reason": row["finish_reason"], "text": row["text"] or "",
            "error": row["error"], "where_run": _where(row, model, scrub),
            "figures": {k: row.get(k) for k in _FIGURES},
            "request": request,
            "run_settings": _run_settings(row, model, spec) if engine == "llama" else None,
            # what the model was given, as its engine applied it (workbench/parity.py), and its cutoff then
            "received": _json(row.get("received")), "cutoff": row.get("cutoff"), "stale": bool(row.get("stale")),
            "verification": {k: row["verification"].get(k) for k in _VERDICT} if row["verification"] else None,
        }
        answer["reproducible"] = dict(zip(("expected", "why"), rules.classify(answer, engine)))
        answers.append(_clean_answer(answer, scrub))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "selection": {"session": session_id, "tag": tag},
        "software": software(),
        "reproducibility": {
            "local": {"worker": rules.WORKER, "not_in_the_log": rules.NOT_LOGGED,
                      "sampler_defaults": rules.sampler_defaults()},
            "hosted": "a hosted model is re-run only with a fixed seed, and providers do not promise the same answer",
        },
        "never_included": [
            "API keys: every key variable's value is cut wherever it appears ([redacted])",
            f"private hosts: an api_base host that is not a public provider's reads {PRIVATE_HOST}",
            "the environment: no variable is recorded, and any value of one found in the log is cut ([redacted])",
            "the log's host name and process id, the sessions' command-line arguments, the models' folders",
        ],
        "sessions": [{k: s.get(k) for k in ("id", "name", "source", "started_at", "workbench_version")}
                     for s in sessions],
        "models": models,
        "prompts": list(prompts.values()),
        "votes": list(votes.values()),
        "answers": [answer_member(a["id"]) for a in answers],
    }
    manifest = scrub.walk(manifest)
    manifest["redactions"] = dict(scrub.cut)
    return manifest, answers


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _where(row: dict, model: dict | None, scrub: Scrubber) -> str | None:
    """Where the answer ran; a hosted model's host (which may hold credentials) only when it is public."""
    where = row.get("where_run")
    if not model or model.get("engine") != "litellm":
        return where
    host = model.get("api_host")
    if host:
        return scrub.host(host)
    provider = (model.get("litellm_model") or "").split("/", 1)[0]
    return provider or None


def _clean_answer(answer: dict, scrub: Scrubber) -> dict:
    """The answer with secrets cut; `redacted` names what changed (a changed request cannot be re-run)."""
    clean = scrub.walk(answer)
    changed = [part for part in ("request", "text", "error") if clean.get(part) != answer.get(part)]
    clean["redacted"] = changed
    if "request" in changed:
        clean["reproducible"] = {"expected": False,
                                 "why": "a key, private host or environment value was cut from its request"}
    return clean

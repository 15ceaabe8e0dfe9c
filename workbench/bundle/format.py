"""The bundle file: a zip of `manifest.json` and `answers/<id>.json`, written whole and read as hostile.

Reading trusts nothing in the file. Only a regular file of at most `MAX_BUNDLE_BYTES` is read
(`workbench.inputs`); the zip's directory is bounded before `zipfile` parses it (entry count and
directory size, no ZIP64); every member name must be one this format writes (so no path can
traverse anywhere; nothing is ever extracted to disk anyway); every member is decompressed through
a bounded read (a zip bomb stops at the bound, a lying size header fails its CRC); the JSON is
parsed with its nesting caught, and every field a re-run uses is type- and range-checked. Any
failure is one `BundleError` line naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.inputs import MiB, InputFileError, read_bytes

FORMAT = "workbench-bundle"
VERSION = 1

MAX_BUNDLE_BYTES = 256 * MiB
"""A bundle is prompts and answers as text: a session of thousands of answers is a few MiB."""
MAX_MANIFEST_BYTES = 32 * MiB
MAX_ANSWER_BYTES = 16 * MiB
MAX_TOTAL_BYTES = 512 * MiB
"""Everything decompressed, together: a zip bomb stops here."""
MAX_MEMBERS = 50_000
MAX_DIRECTORY_BYTES = 4 * MiB
"""The zip's central directory: 50,000 answers' entries take about 3.3 MiB."""

MAX_N_CTX = 131_072
"""The largest context a bundle may ask a re-run to allocate (a hostile one could ask for a machine's memory)."""

MANIFEST = "manifest.json"
_ANSWER_NAME = re.compile(r"answers/([1-9][0-9]{0,17})\.json\Z")
_CHAT_FORMAT = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same evidence makes the same bytes
ROLES = ("system", "user", "assistant")


class BundleError(Exception):
    """A bundle that cannot be written or read, as one line naming the file."""


@dataclass
class Bundle:
    """A bundle read and checked: its manifest, and its answers in the manifest's order."""

    path: Path
    manifest: dict
    answers: list[dict] = field(default_factory=list)

    @property
    def prompts(self) -> dict[int, dict]:
        """The prompts by id."""
        return {p["id"]: p for p in self.manifest["prompts"]}

    @property
    def models(self) -> dict[str, dict]:
        """The models' fingerprints by model id."""
        return self.manifest["models"]

    @property
    def votes(self) -> list[dict]:
        """Every vote, withdrawn ones included (they carry `retracted_at`)."""
        return self.manifest["votes"]


def answer_member(response_id: int) -> str:
    """The member name of an answer's file."""
    return f"answers/{int(response_id)}.json"


# -- writing -------------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """JSON as the bundle stores it: UTF-8, indented, stable; a figure that is not finite becomes null."""
    return json.dumps(_finite(obj), ensure_ascii=False, indent=1, allow_nan=False).encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_bundle(path: Path, manifest: dict, answers: list[dict]) -> int:
    """Write the zip all at once (a failure never leaves a half file); returns its size in bytes."""
    blobs = [(MANIFEST, dumps(manifest), MAX_MANIFEST_BYTES)]
    blobs += [(answer_member(a["id"]), dumps(a), MAX_ANSWER_BYTES) for a in answers]
    if len(blobs) > MAX_MEMBERS:
        raise BundleError(f"{path}: {len(answers)} answers are more than one bundle holds "
                          f"({MAX_MEMBERS - 1}); bundle fewer with --session or --tag")
    for name, blob, limit in blobs:
        if len(blob) > limit:
            raise BundleError(f"{path}: {name} would be {len(blob) >> 20} MiB, more than a bundle may hold "
                              f"({limit >> 20} MiB)")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise BundleError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=False) as zf:
            for name, blob, _limit in blobs:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, blob)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as any file the user writes (mkstemp made it 0600)
        os.replace(tmp, path)
        return path.stat().st_size
    except (OSError, zipfile.LargeZipFile) as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BundleError(f"{path}: cannot write: {getattr(exc, 'strerror', None) or exc}") from None


# -- reading -------------------------------------------------------------------------------------


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Read and check a bundle; BundleError (one line naming the file) for anything wrong with it."""
    path = Path(path)
    try:
        data = read_bytes(path, MAX_BUNDLE_BYTES)
    except InputFileError as exc:
        raise BundleError(str(exc)) from None
    bad = _Reader(path)
    bad.directory(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, struct.error) as exc:
        raise bad.error(f"not a zip file ({exc})") from None
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if name != MANIFEST and not _ANSWER_NAME.match(name):
            raise bad.error(f"unexpected member {name[:80]!r} (a bundle holds only {MANIFEST} and answers/<id>.json)")
        if name in by_name:
            raise bad.error(f"member {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise bad.error(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise bad.error(f"member {name!r} uses an unsupported compression")
        by_name[name] = info
    if MANIFEST not in by_name:
        raise bad.error(f"no {MANIFEST} in it")
    manifest = bad.json(zf, by_name[MANIFEST], MAX_MANIFEST_BYTES)
    check_manifest(manifest, bad)
    listed = manifest["answers"]
    extra = set(by_name) - set(listed) - {MANIFEST}
    if extra:
        raise bad.error(f"member {sorted(extra)[0]!r} is not listed in the manifest")
    answers = []
    prompt_ids = {p["id"] for p in manifest["prompts"]}
    for name in listed:
        if name not in by_name:
            raise bad.error(f"the manifest lists {name!r}, which is not in the file")
        answer = bad.json(zf, by_name[name], MAX_ANSWER_BYTES)
        check_answer(answer, name, manifest, prompt_ids, bad)
        answers.append(answer)
    return Bundle(path, manifest, answers)


class _Reader:
    """Bounded reads of one bundle, and its errors worded with its path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0

    def error(self, why: str) -> BundleError:
        return BundleError(f"{self.path}: not a usable workbench bundle: {why}")

    def directory(self, data: bytes) -> None:
        """Bound the zip's central directory before `zipfile` builds an object per entry."""
        pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
        if pos < 0 or len(data) < pos + 22:
            raise self.error("not a zip file (no end-of-directory record)")
        _disk, _cd_disk, _here, entries, size, offset, _comment = struct.unpack_from("<HHHHIIH", data, pos + 4)
        if entries == 0xFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF or data[pos - 20:pos - 16] == b"PK\x06\x07":
            raise self.error("a ZIP64 archive (a bundle never is one)")
        if entries > MAX_MEMBERS:
            raise self.error(f"{entries} members (a bundle holds at most {MAX_MEMBERS})")
        if size > MAX_DIRECTORY_BYTES:
            raise self.error(f"its zip directory is {size} bytes (at most {MAX_DIRECTORY_BYTES})")

    def json(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Any:
        """A member's JSON, decompressed through a bounded read."""
        name = info.filename
        if info.file_size > limit:
            raise self.error(f"{name} is {info.file_size} bytes unpacked (at most {limit})")
        try:
            with zf.open(info) as fh:
                blob = fh.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError) as exc:
            raise self.error(f"{name} cannot be unpacked ({exc})") from None
        if len(blob) > limit:
            raise self.error(f"{name} unpacks to more than {limit} bytes")
        self.total += len(blob)
        if self.total > MAX_TOTAL_BYTES:
            raise self.error(f"it unpacks to more than {MAX_TOTAL_BYTES >> 20} MiB")
        try:
            return json.loads(blob.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise self.error(f"{name} is not UTF-8 (byte {exc.start})") from None
        except RecursionError:
            raise self.error(f"{name} is nested too deeply") from None
        except ValueError as exc:
            raise self.error(f"{name} is not valid JSON ({str(exc)[:120]})") from None


# -- checking ------------------------------------------------------------------------------------

_KINDS = {
    "str": (str,), "int": (int,), "num": (int, float), "bool": (bool, int), "list": (list,), "dict": (dict,),
}


def _get(obj: dict, key: str, kind: str, where: str, bad: _Reader, optional: bool = False,
         low: float | None = None, high: float | None = None) -> Any:
    """`obj[key]`, checked: of `kind`, within [low, high] for numbers; None only when optional."""
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise bad.error(f"{where}: '{key}' is missing")
    ok = isinstance(value, _KINDS[kind]) and (kind == "bool" or not isinstance(value, bool))
    if ok and kind == "num" and not math.isfinite(value):
        ok = False
    if not ok:
        raise bad.error(f"{where}: '{key}' must be {'a number' if kind == 'num' else 'a ' + kind}")
    if kind in ("int", "num") and ((low is not None and value < low) or (high is not None and value > high)):
        raise bad.error(f"{where}: '{key}' is {value}, outside {_num(low)}…{_num(high)}")
    return value


def _num(x: float | None) -> str:
    return "–" if x is None else str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_manifest(manifest: Any, bad: _Reader) -> None:
    """The manifest's shape, and every field a re-run or the leaderboard uses."""
    if not isinstance(manifest, dict):
        raise bad.error(f"{MANIFEST} is not a JSON object")
    if manifest.get("format") != FORMAT:
        raise bad.error(f"{MANIFEST} does not say format {FORMAT!r}")
    version = _get(manifest, "version", "int", MANIFEST, bad, low=1, high=1 << 31)
    if version > VERSION:
        raise bad.error(f"made by a newer workbench (bundle format {version}; this one reads {VERSION})")
    for key in ("software", "reproducibility", "selection"):
        _get(manifest, key, "dict", MANIFEST, bad, optional=True)
    models = _get(manifest, "models", "dict", MANIFEST, bad)
    for model_id, model in models.items():
        where = f"{MANIFEST}: model {model_id[:40]!r}"
        if not isinstance(model, dict):
            raise bad.error(f"{where} is not an object")
        _get(model, "name", "str", where, bad)
        _get(model, "engine", "str", where, bad)
        for key in ("sha256", "file_name", "litellm_model", "api_host", "chat_template_sha256",
                    "llama_cpp_version", "architecture", "quantization"):
            _get(model, key, "str", where, bad, optional=True)
        _get(model, "chat_template", "dict", where, bad, optional=True)
    prompts = _get(manifest, "prompts", "list", MANIFEST, bad)
    seen: set[int] = set()
    for i, prompt in enumerate(prompts):
        where = f"{MANIFEST}: prompts[{i}]"
        if not isinstance(prompt, dict):
            raise bad.error(f"{where} is not an object")
        pid = _get(prompt, "id", "int", where, bad, low=1, high=1 << 62)
        if pid in seen:
            raise bad.error(f"{where}: prompt id {pid} appears twice")
        seen.add(pid)
        _get(prompt, "text", "str", where, bad)
        _get(prompt, "system", "str", where, bad, optional=True)
        for key in ("key", "title", "conversation"):
            _get(prompt, key, "str", where, bad, optional=True)
        _get(prompt, "turn", "int", where, bad, optional=True, low=1, high=1 << 31)
        _get(prompt, "session_id", "int", where, bad, optional=True, low=0, high=1 << 62)
        _get(prompt, "parent_prompt_id", "int", where, bad, optional=True, low=1, high=1 << 62)
        tags = _get(prompt, "tags", "list", where, bad, optional=True) or []
        if not all(isinstance(t, str) for t in tags):
            raise bad.error(f"{where}: 'tags' must be a list of strings")
        tests = _get(prompt, "tests", "dict", where, bad, optional=True)
        if tests is not None:
            _get(tests, "code", "str", f"{where}.tests", bad)
            for key in ("language", "tests_language"):
                _get(tests, key, "str", f"{where}.tests", bad, optional=True)
    votes = _get(manifest, "votes", "list", MANIFEST, bad)
    for i, vote in enumerate(votes):
        where = f"{MANIFEST}: votes[{i}]"
        if not isinstance(vote, dict):
            raise bad.error(f"{where} is not an object")
        _get(vote, "prompt_id", "int", where, bad, low=1, high=1 << 62)
        _get(vote, "outcome", "str", where, bad, optional=True)
        _get(vote, "winner_response_id", "int", where, bad, optional=True, low=1, high=1 << 62)
        ids = _get(vote, "response_ids", "list", where, bad)
        if not all(isinstance(r, int) and not isinstance(r, bool) for r in ids):
            raise bad.error(f"{where}: 'response_ids' must be a list of answer ids")
        _get(vote, "blind", "bool", where, bad, optional=True)
        for key in ("created_at", "retracted_at"):
            _get(vote, key, "str", where, bad, optional=True)
    listed = _get(manifest, "answers", "list", MANIFEST, bad)
    if len(listed) >= MAX_MEMBERS:
        raise bad.error(f"{MANIFEST} lists {len(listed)} answers (at most {MAX_MEMBERS - 1})")
    if not all(isinstance(n, str) and _ANSWER_NAME.match(n) for n in listed):
        raise bad.error(f"{MANIFEST}: 'answers' must list answers/<id>.json members")
    if len(set(listed)) != len(listed):
        raise bad.error(f"{MANIFEST}: 'answers' lists a member twice")


def check_answer(answer: Any, name: str, manifest: dict, prompt_ids: set[int], bad: _Reader) -> None:
    """One answer's file: its ids agree with its name and the manifest, its request is one a model can be sent."""
    if not isinstance(answer, dict):
        raise bad.error(f"{name} is not a JSON object")
    rid = _get(answer, "id", "int", name, bad, low=1, high=1 << 62)
    if answer_member(rid) != name:
        raise bad.error(f"{name} holds answer {rid}")
    prompt_id = _get(answer, "prompt_id", "int", name, bad, low=1, high=1 << 62)
    if prompt_id not in prompt_ids:
        raise bad.error(f"{name}: its prompt {prompt_id} is not in the manifest")
    model_id = _get(answer, "model_id", "str", name, bad, optional=True)
    if model_id is not None and model_id not in manifest["models"]:
        raise bad.error(f"{name}: its model {model_id[:40]!r} is not in the manifest")
    _get(answer, "model_name", "str", name, bad)
    for key in ("status", "text"):
        _get(answer, key, "str", name, bad)
    for key in ("error", "finish_reason", "where_run", "label", "engine"):
        _get(answer, key, "str", name, bad, optional=True)
    for key in ("position", "attempt"):
        _get(answer, key, "int", name, bad, optional=True, low=0, high=1 << 20)
    _get(answer, "parent_response_id", "int", name, bad, optional=True, low=1, high=1 << 62)
    _get(answer, "blind", "bool", name, bad, optional=True)
    request = _get(answer, "request", "dict", name, bad)
    where = f"{name}: request"
    _get(request, "prompt", "str", where, bad)
    _get(request, "system", "str", where, bad, optional=True)
    _get(request, "max_tokens", "int", where, bad, low=1, high=1 << 20)
    _get(request, "temperature", "num", where, bad, optional=True, low=0, high=100)
    _get(request, "seed", "int", where, bad, optional=True, low=-(1 << 63), high=(1 << 64) - 1)
    _get(request, "top_p", "num", where, bad, optional=True, low=0, high=1)
    history = _get(request, "history", "list", where, bad, optional=True) or []
    for i, message in enumerate(history):
        if not (isinstance(message, dict) and message.get("role") in ROLES and isinstance(message.get("content"), str)):
            raise bad.error(f"{where}: history[{i}] must be a {{role, content}} message")
    settings = _get(answer, "run_settings", "dict", name, bad, optional=True)
    if settings is not None:
        where = f"{name}: run_settings"
        _get(settings, "n_threads", "int", where, bad, optional=True, low=1, high=1024)
        _get(settings, "n_ctx", "int", where, bad, optional=True, low=16, high=MAX_N_CTX)
        _get(settings, "n_gpu_layers", "int", where, bad, optional=True, low=-1, high=1 << 20)
        _get(settings, "repeat_guard", "int", where, bad, optional=True, low=0, high=1 << 20)
        chat_format = _get(settings, "chat_format", "str", where, bad, optional=True)
        if chat_format is not None and not _CHAT_FORMAT.match(chat_format):
            raise bad.error(f"{where}: 'chat_format' is not a chat format's name")
    _get(answer, "verification", "dict", name, bad, optional=True)
    _get(answer, "redacted", "list", name, bad, optional=True)

"""Exactly which model produced an answer, as a `models` row: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import struct

from workbench.core import Answer, ModelIdentity
from workbench.inputs import InputFileError, open_regular


def file_sha256(path: str) -> str:
    """SHA-256 of a regular file, read in 1 MiB blocks; OSError for anything else (a device never ends)."""
    try:
        fd = open_regular(path)
    except InputFileError as exc:
        raise OSError(str(exc)) from None
    digest = hashlib.sha256()
    with open(fd, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def answered_identity(identity: ModelIdentity, answer: Answer) -> ModelIdentity:
    """The engine's identity with what only the answer knows: the provider's model id and fingerprint."""
    more = {k: v for k, v in (("provider_model_id", answer.model_id),
                              ("system_fingerprint", answer.system_fingerprint)) if v is not None}
    return identity.with_fields(**more) if more else identity


def model_row(identity: ModelIdentity, sha256: str | None = None) -> dict:
    """The `models` row for an identity; its id is a hash of what identifies the model."""
    if identity.fields.get("file") is not None:
        identity = identity.with_fields(sha256=sha256)
    row = {"name": identity.name, "engine": identity.engine,
           **{k: v for k, v in identity.fields.items() if k != "file"}}
    row["id"] = identity.id
    return row


_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # value type → bytes
_GGUF_STRING, _GGUF_ARRAY = 8, 9
_MAX_METADATA = 256 << 20  # a GGUF's metadata is a few MiB (its vocabulary); more is not a GGUF to trust
_MAX_TEMPLATE = 1 << 20


def gguf_chat_template(path: str) -> str | None:
    """The GGUF's `tokenizer.chat_template` (at most 1 MiB), read without llama.cpp; None if it has none.

    Walks the metadata (key, type, value) records from the header, skipping the vocabulary arrays
    (~0.1 s for Gemma 3). OSError or InputFileError for a file it cannot read, ValueError (or
    struct.error) for one that is not a GGUF this reader follows.
    """
    want = b"tokenizer.chat_template"
    with open(open_regular(path), "rb") as fh:
        data = bytearray(fh.read(1 << 20))

        def need(end: int) -> None:
            while len(data) < end:
                if len(data) >= _MAX_METADATA:
                    raise ValueError("metadata too large")
                more = fh.read(max(end - len(data), len(data)))
                if not more:
                    raise ValueError("truncated metadata")
                data.extend(more)

        def u64(pos: int) -> int:
            need(pos + 8)
            return struct.unpack_from("<Q", data, pos)[0]

        need(24)
        if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] < 2:
            raise ValueError("not a GGUF file this reader knows")
        pos = 24
        for _ in range(u64(16)):
            size = u64(pos)
            need(pos + 8 + size + 4)
            key = bytes(data[pos + 8:pos + 8 + size])
            pos += 8 + size
            kind = struct.unpack_from("<I", data, pos)[0]
            pos += 4
            if kind == _GGUF_STRING:
                size = u64(pos)
                if key == want:
                    if size > _MAX_TEMPLATE:
                        raise ValueError("chat template too large")
                    need(pos + 8 + size)
                    return bytes(data[pos + 8:pos + 8 + size]).decode("utf-8")
                pos += 8 + size
            elif kind == _GGUF_ARRAY:
                need(pos + 12)
                item, count = struct.unpack_from("<IQ", data, pos)
                pos += 12
                if item == _GGUF_STRING:
                    for _ in range(count):
                        pos += 8 + u64(pos)
                elif item in _GGUF_SIZES:
                    pos += _GGUF_SIZES[item] * count
                else:
                    raise ValueError("nested metadata arrays")
            elif kind in _GGUF_SIZES:
                pos += _GGUF_SIZES[kind]
            else:
                raise ValueError(f"metadata value type {kind}")
    return None

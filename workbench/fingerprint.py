"""Exactly which model produced an answer, as a `models` row: pure functions, no I/O."""

from __future__ import annotations

import hashlib

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

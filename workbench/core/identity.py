"""Who is who: ids made when an object is made, and what identifies a model in the log."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field


def new_id() -> str:
    """A fresh id for a comparison, turn or answer: unique for good, unlike `id()`, which is reused."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class ModelIdentity:
    """Exactly which model an engine runs, as the log records it.

    `fields` holds what the engine knows (a GGUF's path and metadata, a provider's model string
    and host); `key` names what makes two models different (`name`, `engine` or any field). Facts
    learned only from an answer (a provider's model id) or later (a GGUF's SHA-256) are added with
    `with_fields`. `fields["file"]`, when set, is a file whose SHA-256 the log adds as `sha256`.
    """

    name: str
    engine: str
    fields: dict = field(default_factory=dict, compare=False, hash=False)
    key: tuple[str, ...] = ("name", "engine")

    def with_fields(self, **more) -> "ModelIdentity":
        """A copy with more facts (the answer's provider ids, a GGUF's hash)."""
        return ModelIdentity(self.name, self.engine, {**self.fields, **more}, self.key)

    @property
    def id(self) -> str:
        """A short hash of what identifies the model: same id, same model."""
        named = {"name": self.name, "engine": self.engine}
        values = [named[k] if k in named else self.fields.get(k) for k in self.key]
        return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:16]

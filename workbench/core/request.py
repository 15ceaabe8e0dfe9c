"""What a model is sent: a prompt, its conversation so far, and the parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Message:
    """One message of a conversation: `role` is system, user or assistant."""

    role: str
    content: str


@dataclass(frozen=True)
class Request:
    """One prompt with the parameters sent identically to every model.

    `history` holds the earlier turns of a conversation as this model saw them (its own earlier
    answers, never another model's); it is empty for a first turn.
    """

    prompt: str
    system: str | None = None
    max_tokens: int = 512
    temperature: float | None = None
    seed: int | None = None
    top_p: float | None = None
    history: tuple[Message, ...] = ()

    def messages(self) -> list[dict[str, str]]:
        """The prompt, after the system prompt and the history, as chat messages."""
        out = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.extend({"role": m.role, "content": m.content} for m in self.history)
        out.append({"role": "user", "content": self.prompt})
        return out

    def with_history(self, history: tuple[Message, ...]) -> "Request":
        """The same request continuing a conversation."""
        return replace(self, history=tuple(history))

    def params(self) -> dict:
        """The sampling parameters, as logged."""
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed,
                "top_p": self.top_p}

    def as_dict(self) -> dict:
        """Plain dict, for pipes and logs."""
        return {"prompt": self.prompt, "system": self.system, **self.params(),
                "history": [{"role": m.role, "content": m.content} for m in self.history]}

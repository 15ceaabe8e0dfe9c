"""The contracts every layer shares: what goes to a model, what comes back, and who is who.

Engines, the store, exports, the arena, verification and the UI all depend on this package and
never on each other's internals. It imports nothing else of the workbench, and no Textual,
litellm or llama_cpp (import-linter checks it: `lint-imports`).
"""

from workbench.core.answer import ACTIVE, Answer, AnswerState
from workbench.core.engine import REPEAT_GUARD_DEFAULT, Engine, Mode
from workbench.core.comparison import Comparison, Subscriber, Turn
from workbench.core.events import (ENDINGS, Cancel, Done, EngineError, Event, Failed, Ignored, Received, Status,
                                   Token, Usage)
from workbench.core.identity import ModelIdentity, new_id
from workbench.core.repeat import REPEATING, RepeatGuard
from workbench.core.request import Message, Request

__all__ = [
    "ACTIVE", "Answer", "AnswerState", "Cancel", "Comparison", "Done", "ENDINGS", "Engine", "EngineError", "Event", "Failed", "Ignored",
    "Message", "Received", "Mode", "ModelIdentity", "REPEATING", "REPEAT_GUARD_DEFAULT", "RepeatGuard", "Request", "Status",
    "Subscriber", "Token", "Turn", "Usage", "new_id",
]

"""The agent: the loop (model decides, tools act), providers, prompt building, memory recall.

httpx is imported only in this package (through the provider modules), so the choice of HTTP
library can change in one place.
"""

from ._build import make_provider
from ._embedded import MODEL_NAME, EmbeddedServer
from ._loop import Provider, ToolOutcome, TurnResult, run_turn
from ._messages import Done, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._prompt import few_shot, system_prompt
from ._select import EMBEDDED_NOTICE, ProviderChoice, select_provider

__all__ = [
    "EMBEDDED_NOTICE",
    "MODEL_NAME",
    "Done",
    "EmbeddedServer",
    "Message",
    "Provider",
    "ProviderChoice",
    "TextDelta",
    "ToolCall",
    "ToolCallStarted",
    "ToolOutcome",
    "ToolSpec",
    "TurnResult",
    "few_shot",
    "make_provider",
    "run_turn",
    "select_provider",
    "system_prompt",
]

"""The agent: the loop (model decides, tools act), providers, prompt building, memory recall.

httpx is imported only in this package (through the provider modules), so the choice of HTTP
library can change in one place.
"""

from ._agents import Specialist, rank, read_only_refusal, specialists
from ._build import make_provider
from ._delegate import DELEGATE, Task, delegate_spec, plan, run_tasks
from ._embedded import MODEL_NAME, EmbeddedServer
from ._loop import Provider, ToolOutcome, TurnResult, run_turn
from ._messages import Done, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._probe import EndpointCheck, probe_endpoint
from ._prompt import few_shot, system_prompt
from ._recall import Viewer, author_uid, mark_tool_output, mark_untrusted, recall_message, visible
from ._select import EMBEDDED_NOTICE, ProviderChoice, named_provider, select_provider

__all__ = [
    "DELEGATE",
    "EMBEDDED_NOTICE",
    "MODEL_NAME",
    "Done",
    "EmbeddedServer",
    "EndpointCheck",
    "Message",
    "Provider",
    "ProviderChoice",
    "Specialist",
    "Task",
    "TextDelta",
    "ToolCall",
    "ToolCallStarted",
    "ToolOutcome",
    "ToolSpec",
    "TurnResult",
    "Viewer",
    "author_uid",
    "delegate_spec",
    "few_shot",
    "make_provider",
    "mark_tool_output",
    "mark_untrusted",
    "named_provider",
    "plan",
    "probe_endpoint",
    "rank",
    "read_only_refusal",
    "recall_message",
    "run_tasks",
    "run_turn",
    "select_provider",
    "specialists",
    "system_prompt",
    "visible",
]

"""Conversation messages, tool specs and streamed events, independent of any provider."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ToolCall:
    """One call the model asked for; ``arguments`` is the raw JSON text the model produced."""

    id: str
    name: str
    arguments: str


@attrs.frozen
class Message:
    """One message of the conversation (system, user, assistant or tool)."""

    role: str
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@attrs.frozen
class ToolSpec:
    """A tool as the model sees it."""

    name: str
    description: str
    parameters: dict[str, Any]


@attrs.frozen
class TextDelta:
    text: str


@attrs.frozen
class ToolCallStarted:
    id: str
    name: str


@attrs.frozen
class Done:
    """The end of one model reply: the whole assistant message and token usage when known."""

    message: Message
    usage: dict[str, Any] = attrs.field(factory=dict)
    finish_reason: str | None = None


Event = TextDelta | ToolCallStarted | Done

"""Anthropic messages (``POST {base_url}/v1/messages``), streamed.

The same interface and events as :class:`aios.agent._openai.OpenAIProvider`, the same HTTP
layer (:func:`aios.agent._http.stream_lines`: retries, timeouts, one-line errors). What differs
is the wire format:

- the system prompt is the top-level ``system`` field, not a message;
- tools are ``{"name", "description", "input_schema"}``;
- an assistant's tool calls are ``tool_use`` content blocks; tool results are ``tool_result``
  blocks in a *user* message, consecutive results merged into one message (the API requires
  roles to alternate, and every ``tool_use`` to be answered in the next user message);
- the stream is typed events: ``message_start`` (input usage), ``content_block_start`` /
  ``content_block_delta`` (``text_delta``, ``input_json_delta`` fragments per block index) /
  ``content_block_stop``, ``message_delta`` (stop reason, output usage), ``message_stop``.

Structured mode (for models without reliable tool calls) sends no tools; the system prompt
carries the reply format (:func:`aios.agent._prompt.system_prompt`) and the reply text is parsed
by :func:`aios.agent._structured.parse_reply`. Anthropic has no ``response_format``, so the
format is asked for, not enforced.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from typing import Any

import attrs
from ulid import ULID

from aios.errors import ProviderError

from . import _structured
from ._http import StreamingProvider, stream_lines
from ._messages import Event, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._reply import (
    KeepAliveWatch,
    ThinkFilter,
    cut_error,
    decode_event,
    error_in,
    final_events,
    malformed,
    stream_error,
)
from ._sse import SSEEvent, SSEParser

API_VERSION = "2023-06-01"

# Anthropic's stop reasons, in the OpenAI words the rest of aios uses.
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


def _tool_input(arguments: str) -> dict[str, Any]:
    """``input`` must be an object; invalid JSON from the model is kept visible to it."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"invalid_json": arguments}
    return value if isinstance(value, dict) else {"invalid_json": arguments}


def _blocks(m: Message, structured: bool) -> tuple[str, list[dict[str, Any]]]:
    """The role and content blocks of one non-system message."""
    if m.role == "tool":
        if structured:
            return "user", [
                {"type": "text", "text": f"Result of {m.name or 'the tool'}:\n{m.content}"}
            ]
        return "user", [
            {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
        ]
    if structured and m.role == "assistant" and m.content and not m.tool_calls:
        return "assistant", [{"type": "text", "text": _structured.render_answer(m.content)}]
    blocks: list[dict[str, Any]] = []
    if m.role == "assistant" and m.tool_calls:
        if structured:
            return "assistant", [{"type": "text", "text": _structured.render_call(m.tool_calls[0])}]
        if m.content:
            blocks.append({"type": "text", "text": m.content})
        for call in m.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _tool_input(call.arguments),
                }
            )
        return "assistant", blocks
    if m.content:
        blocks.append({"type": "text", "text": m.content})
    return ("assistant" if m.role == "assistant" else "user"), blocks


def wire_messages(messages: list[Message], structured: bool) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)`` in the Messages API's shape.

    Same-role neighbours are merged (consecutive tool results become one user message), empty
    messages are dropped, and the list starts with a user message: a leading assistant message
    (history cut by the context budget) goes, with the tool results that answered it.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role, blocks = _blocks(m, structured)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    while out and out[0]["role"] == "assistant":
        out.pop(0)
        if out:
            out[0]["content"] = [b for b in out[0]["content"] if b["type"] != "tool_result"]
            if not out[0]["content"]:
                out.pop(0)
    for msg in out:
        if len(msg["content"]) == 1 and msg["content"][0]["type"] == "text":
            msg["content"] = msg["content"][0]["text"]
    return system, out


def _count(value: Any) -> int:
    """A token count; anything that is not a number counts as 0 (usage is for display)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _usage(raw: dict[str, Any]) -> dict[str, int]:
    prompt = sum(
        _count(raw.get(k))
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    completion = _count(raw.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@attrs.define(kw_only=True)
class AnthropicProvider(StreamingProvider):
    """One Anthropic Messages endpoint (``base_url`` without ``/v1``; a trailing ``/v1`` is tolerated)."""

    kind: str = "anthropic"

    def __attrs_post_init__(self) -> None:
        self.base_url = self.base_url.removesuffix("/v1")

    def _body(
        self, messages: list[Message], tools: list[ToolSpec], force_answer: bool
    ) -> dict[str, Any]:
        system, wire = wire_messages(messages, self.structured)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        if system:
            body["system"] = system
        if tools and not self.structured:
            # Tools stay declared when an answer is forced: the API refuses a history holding
            # tool_use/tool_result blocks without them; tool_choice "none" forbids new calls.
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            if force_answer:
                body["tool_choice"] = {"type": "none"}
        return body

    async def stream(
        self, messages: list[Message], tools: list[ToolSpec], *, force_answer: bool = False
    ) -> AsyncIterator[Event]:
        """Stream one reply. Raises ProviderError (and subclasses) with a one-line fix.

        Cancellation: cancelling the caller closes the connection; nothing of the reply is kept.
        """
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "anthropic-version": API_VERSION,
        }
        if self.api_key:
            headers["x-api-key"] = self.api_key
        url = f"{self.base_url}/v1/messages"
        reply = _Reply(url, self.name)
        parser = SSEParser()
        watch = KeepAliveWatch(url, self.name, self.timeout)
        async with aclosing(stream_lines(
            url,
            self._body(messages, tools, force_answer),
            headers,
            provider=self.name,
            key_env=self.key_env,
            read_timeout=self.timeout,
            retries=self.retries,
        )) as lines:
            async for line in lines:
                for piece in reply.read(parser.feed(line)):
                    if not (self.structured and isinstance(piece, TextDelta)):
                        yield piece
                watch.seen(reply.progress)
                if reply.stopped:  # message_stop: whatever follows is not part of this reply
                    break
            else:
                for piece in reply.read(parser.close()):
                    if not (self.structured and isinstance(piece, TextDelta)):
                        yield piece
        if not (reply.stopped or reply.finish):
            raise cut_error(url, self.name)
        for piece in reply.close():
            if not (self.structured and isinstance(piece, TextDelta)):
                yield piece
        for closing in final_events("".join(reply.text), reply.tool_calls(), tools, structured=self.structured,
                                  force_answer=force_answer, finish=reply.finish, usage=_usage(reply.usage),
                                  provider=self.name, max_tokens=self.max_tokens):
            yield closing


REPLY_EVENTS = frozenset({
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "message",
})
"""Event types that move a reply on (for the keep-alive watch)."""


def _index(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value is None:
        return None
    raise TypeError(f"index is {type(value).__name__}")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{what} is {type(value).__name__}")
    return value


class _Reply:
    """One streamed message being read: event in, events out.

    Content blocks are kept by index (a missing index means the next block for a start, the
    latest block for a delta or stop). Only ``tool_use`` blocks are our tool calls:
    ``server_tool_use`` and ``mcp_tool_use`` blocks (run by the API itself), thinking and
    result blocks are not. Delta types this code does not know (``citations_delta``,
    ``signature_delta``, later ones) carry nothing to show. An event's type is its JSON
    ``type``, or its ``event:`` name when a compatible server leaves ``type`` out.
    """

    def __init__(self, url: str, provider: str) -> None:
        self.url, self.provider = url, provider
        self.text: list[str] = []
        self.think = ThinkFilter()
        self.blocks: dict[int, _Block] = {}
        self.latest: int | None = None
        self.usage: dict[str, Any] = {}
        self.finish: str | None = None
        self.progress = 0
        """Events of the reply itself read so far (keep-alive pings not counted)."""
        self.stopped = False

    def _text(self, value: Any) -> list[Event]:
        if value is None or value == "":
            return []
        if not isinstance(value, str):
            raise TypeError(f"text is {type(value).__name__}")
        # A server without a reasoning parser (llama.cpp --reasoning-format none) leaves the
        # reasoning in text blocks, as it does in OpenAI content.
        visible = self.think.feed(value)
        if not visible:
            return []
        self.text.append(visible)
        return [TextDelta(visible)]

    def close(self) -> list[Event]:
        """Text held back until the end (what might still have opened a reasoning block)."""
        rest = self.think.close()
        if not rest:
            return []
        self.text.append(rest)
        return [TextDelta(rest)]

    def _start(self, index: int, block: dict[str, Any]) -> list[Event]:
        kind = str(block.get("type") or "")
        self.blocks[index] = slot = _Block.of(kind, block)
        self.latest = index
        if kind == "tool_use":
            return [ToolCallStarted(slot.id, slot.name)]
        return self._text(block.get("text")) if kind == "text" else []

    def _stop_reason(self, reason: Any) -> None:
        if isinstance(reason, str) and reason:
            self.finish = STOP_REASONS.get(reason, reason)

    def read(self, events: Iterable[SSEEvent]) -> list[Event]:
        """What the SSE ``events`` of one line say; sets ``stopped`` at ``message_stop``."""
        out: list[Event] = []
        for event in events:
            if self.stopped:
                break
            if event.event == "error" and not event.data.lstrip().startswith("{"):
                raise stream_error(self.url, self.provider, event.data)
            chunk = decode_event(self.url, self.provider, event)
            if chunk is None:  # some proxies end every stream OpenAI's way
                continue
            try:
                out += self.feed(event.event, chunk)
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                raise malformed(self.url, self.provider, event.data) from exc
        return out

    def feed(self, name: str, chunk: dict[str, Any]) -> list[Event]:
        # llama.cpp's "error:" field carries {"code", "message", "type": "<kind>"}
        kind = "error" if name == "error" else chunk.get("type") or name
        if kind in REPLY_EVENTS and (kind != "message" or "content" in chunk):
            # Pings and events of no reply (an untyped event is "message") are keep-alives.
            self.progress += 1
        err = error_in(chunk)
        if kind == "error" or err is not None:
            raise stream_error(self.url, self.provider, chunk if err is None else err)
        if isinstance(chunk.get("choices"), list):
            raise ProviderError(
                f"{self.url} answers in the OpenAI chat-completions format; set "
                f'llm.providers.{self.provider}.kind = "openai"',
                data={"provider": self.provider},
            )
        if kind == "message" and "content" in chunk:  # a whole message: "stream" was ignored
            out: list[Event] = []
            for index, block in enumerate(chunk.get("content") or []):
                out += self._start(index, _dict(block, "a content block"))
            self._stop_reason(chunk.get("stop_reason"))
            self.usage.update(_dict(chunk.get("usage"), "usage"))
            self.stopped = True
            return out
        if kind == "message_start":
            self.usage.update(_dict(_dict(chunk.get("message"), "message").get("usage"), "usage"))
        elif kind == "content_block_start":
            given = _index(chunk.get("index"))
            index = max(self.blocks, default=-1) + 1 if given is None else given
            return self._start(index, _dict(chunk.get("content_block"), "content_block"))
        elif kind == "content_block_delta":
            at = _index(chunk.get("index"))
            delta = _dict(chunk.get("delta"), "delta")
            key = self.latest if at is None else at
            target = None if key is None else self.blocks.get(key)
            if delta.get("type") == "text_delta":
                return self._text(delta.get("text"))
            if delta.get("type") == "input_json_delta":
                if target is None:
                    raise ProviderError(f"{self.url} sent tool arguments for a block it never started")
                part = delta.get("partial_json")
                if part is not None and not isinstance(part, str):
                    raise TypeError(f"partial_json is {type(part).__name__}")
                if target.type == "tool_use":
                    target.parts.append(part or "")
        elif kind == "content_block_stop":
            _index(chunk.get("index"))
        elif kind == "message_delta":
            self._stop_reason(_dict(chunk.get("delta"), "delta").get("stop_reason"))
            self.usage.update(_dict(chunk.get("usage"), "usage"))
        elif kind == "message_stop":
            self.stopped = True
        return []

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(slot.id, slot.name, "".join(slot.parts).strip() or slot.initial or "{}")
            for _index, slot in sorted(self.blocks.items())
            if slot.type == "tool_use"
        )


@attrs.define
class _Block:
    """A content block of the reply; for a ``tool_use`` block, the call being assembled (its
    ``input`` is ``{}`` when streamed, the whole arguments otherwise)."""

    type: str
    id: str = ""
    name: str = ""
    parts: list[str] = attrs.field(factory=list)
    """``input_json_delta`` pieces, joined once at the end."""
    initial: str = ""

    @classmethod
    def of(cls, kind: str, block: dict[str, Any]) -> _Block:
        if kind != "tool_use":
            return cls(kind)
        name = block.get("name") or ""
        if not isinstance(name, str):
            raise TypeError(f"a tool name is {type(name).__name__}")
        initial = block.get("input")
        return cls(
            kind,
            str(block.get("id") or f"toolu_{ULID()}"),
            name,
            initial=json.dumps(initial, ensure_ascii=False) if initial else "",
        )

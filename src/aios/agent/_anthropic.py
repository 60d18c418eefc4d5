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
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import attrs
from ulid import ULID

from aios.errors import ProviderError

from . import _structured
from ._http import StreamingProvider, stream_lines
from ._messages import Event, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._reply import final_events, stream_error
from ._sse import SSEParser

API_VERSION = "2023-06-01"

# Anthropic's stop reasons, in the OpenAI words the rest of aios uses.
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
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


def _usage(raw: dict[str, Any]) -> dict[str, int]:
    prompt = sum(
        int(raw.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    completion = int(raw.get("output_tokens") or 0)
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
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        raw_usage: dict[str, Any] = {}
        finish: str | None = None
        done = False
        parser = SSEParser()
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
                for event, data in parser.feed(line):
                    if event == "error" and not data.lstrip().startswith("{"):
                        raise stream_error(url, self.name, data)
                    if data.strip() == "[DONE]":  # some proxies end every stream OpenAI's way
                        continue
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise ProviderError(
                            f"{url} sent a malformed stream event: {data[:120]!r}"
                        ) from exc
                    if not isinstance(chunk, dict):
                        raise ProviderError(f"{url} sent a malformed stream event: {data[:120]!r}")
                    # llama.cpp's "error:" field carries {"code", "message", "type": "<kind>"}
                    kind = "error" if event == "error" else chunk.get("type") or event
                    if kind == "error" or (kind == "message" and chunk.get("error")):
                        raise stream_error(url, self.name, chunk)
                    if kind == "message":
                        # A whole message from a server that ignored "stream".
                        for index, block in enumerate(chunk.get("content") or []):
                            if not isinstance(block, dict):
                                continue
                            if block.get("type") == "text" and block.get("text"):
                                text.append(block["text"])
                                if not self.structured:
                                    yield TextDelta(block["text"])
                            elif block.get("type") == "tool_use":
                                slot = calls[index] = self._slot(block)
                                yield ToolCallStarted(slot["id"], slot["name"])
                        reason = chunk.get("stop_reason")
                        if reason:
                            finish = STOP_REASONS.get(reason, reason)
                        raw_usage.update(chunk.get("usage") or {})
                        done = True
                    elif kind == "message_start":
                        raw_usage.update((chunk.get("message") or {}).get("usage") or {})
                    elif kind == "content_block_start":
                        block = chunk.get("content_block") or {}
                        index = int(chunk.get("index", len(calls)))
                        if block.get("type") == "tool_use":
                            slot = calls[index] = self._slot(block)
                            yield ToolCallStarted(slot["id"], slot["name"])
                        elif block.get("type") == "text" and block.get("text"):
                            text.append(block["text"])
                            if not self.structured:
                                yield TextDelta(block["text"])
                    elif kind == "content_block_delta":
                        delta = chunk.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            text.append(delta["text"])
                            if not self.structured:
                                yield TextDelta(delta["text"])
                        elif delta.get("type") == "input_json_delta":
                            target = calls.get(int(chunk.get("index", -1)))
                            if target is None:
                                raise ProviderError(
                                    f"{url} sent tool arguments for a block it never started"
                                )
                            target["arguments"] += delta.get("partial_json") or ""
                    elif kind == "message_delta":
                        reason = (chunk.get("delta") or {}).get("stop_reason")
                        if reason:
                            finish = STOP_REASONS.get(reason, reason)
                        raw_usage.update(chunk.get("usage") or {})
                    elif kind == "message_stop":
                        done = True
        for event, data in parser.close():
            if event == "error":
                raise stream_error(url, self.name, data)
            # another event after message_stop would be a protocol error; before it, the check below catches it
        if not done:
            raise ProviderError(
                f"the stream from {url} was cut before it finished; nothing of this reply was kept"
            )
        usage = _usage(raw_usage)
        content = "".join(text)
        tool_calls = tuple(
            ToolCall(slot["id"], slot["name"], slot["arguments"] or slot["initial"] or "{}")
            for _index, slot in sorted(calls.items())
        )
        for closing in final_events(content, tool_calls, tools, structured=self.structured, force_answer=force_answer,
                                  finish=finish, usage=usage, provider=self.name, max_tokens=self.max_tokens):
            yield closing

    @staticmethod
    def _slot(block: dict[str, Any]) -> dict[str, str]:
        """A tool call being assembled from a ``tool_use`` block (its ``input`` is ``{}`` when
        streamed, the whole arguments otherwise)."""
        initial = block.get("input")
        return {
            "id": block.get("id") or f"toolu_{ULID()}",
            "name": block.get("name") or "",
            "arguments": "",
            "initial": json.dumps(initial, ensure_ascii=False) if initial else "",
        }

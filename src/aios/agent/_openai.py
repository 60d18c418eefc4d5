"""OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server, vLLM …), streamed.

Two ways to get tool calls:

- native: ``tools`` in the request; tool calls assembled from streamed fragments (arguments
  split across chunks, several calls per message, the name repeated in every chunk by some
  servers: the first non-empty name wins);
- structured (:mod:`aios.agent._structured`): no ``tools``; ``response_format`` carries a JSON
  schema that admits exactly one registered tool with its arguments, or a final answer, so every
  reply of a small model is valid. The reply is parsed into the same tool-call objects.
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
from ._messages import Done, Event, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._sse import SSEParser


def _wire_message(m: Message, structured: bool) -> dict[str, Any]:
    if structured:
        if m.role == "tool":
            return {"role": "user", "content": f"Result of {m.name or 'the tool'}:\n{m.content}"}
        if m.role == "assistant" and m.tool_calls:
            call = m.tool_calls[0]
            return {"role": "assistant", "content": _structured.render_call(call)}
        return {"role": m.role, "content": m.content}
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        return {
            "role": "assistant",
            "content": m.content or "",
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ],
        }
    return {"role": m.role, "content": m.content}


@attrs.define(kw_only=True)
class OpenAIProvider(StreamingProvider):
    """One OpenAI-compatible endpoint."""

    kind: str = "openai"

    def _body(self, messages: list[Message], tools: list[ToolSpec], force_answer: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m, self.structured) for m in messages],
            "stream": True,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.kind == "embedded" and force_answer:
            # llama-server's own sampling knob (the embedded server only; OpenAI refuses unknown
            # keys): a 135M model writing free text otherwise loops on one token
            # ("x86_64-x86_64-…"). Not for tool calls, where copying an example is the point.
            body["repeat_penalty"] = 1.3
        if self.structured:
            schema = _structured.reply_schema([] if force_answer else tools)
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "strict": True, "schema": schema}}
        elif tools and not force_answer:
            body["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in tools
            ]
        return body

    async def stream(self, messages: list[Message], tools: list[ToolSpec], *, force_answer: bool = False) -> AsyncIterator[Event]:
        """Stream one reply. Raises ProviderError (and subclasses) with a one-line fix."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: dict[str, Any] = {}
        finish: str | None = None
        done = False
        parser = SSEParser()
        async with aclosing(stream_lines(
            url, self._body(messages, tools, force_answer), headers,
            provider=self.name, key_env=self.key_env, read_timeout=self.timeout, retries=self.retries,
        )) as lines:
            async for line in lines:
                for _event, data in parser.feed(line):
                    if data.strip() == "[DONE]":
                        done = True
                        continue
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise ProviderError(f"{url} sent a malformed stream chunk: {data[:120]!r}") from exc
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise ProviderError(f"{url} reported an error mid-stream: {chunk['error']}")
                    if not isinstance(chunk, dict):
                        raise ProviderError(f"{url} sent a malformed stream chunk: {data[:120]!r}")
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                        piece = delta.get("content")
                        if piece:
                            text.append(piece)
                            if not self.structured:
                                yield TextDelta(piece)
                        for frag in delta.get("tool_calls") or []:
                            slot = calls.setdefault(
                                int(frag.get("index", len(calls))), {"id": "", "name": "", "arguments": "", "fallback": f"call_{ULID()}"}
                            )
                            if frag.get("id") and not slot["id"]:
                                slot["id"] = frag["id"]
                            fn = frag.get("function") or {}
                            if fn.get("name") and not slot["name"]:
                                slot["name"] = fn["name"]
                                yield ToolCallStarted(slot["id"] or slot["fallback"], slot["name"])
                            if fn.get("arguments"):
                                slot["arguments"] += fn["arguments"]
        for _event, data in parser.close():
            if data.strip() == "[DONE]":
                done = True
        if not done and finish is None:
            raise ProviderError(f"the stream from {url} was cut before it finished; nothing of this reply was kept")
        content = "".join(text)
        if self.structured:
            message = _structured.parse_reply(content, [] if force_answer else tools)
            if message.content:
                yield TextDelta(message.content)
            yield Done(message, usage, finish)
            return
        tool_calls = tuple(
            ToolCall(slot["id"] or slot["fallback"], slot["name"], slot["arguments"] or "{}")
            for _index, slot in sorted(calls.items())
        )
        yield Done(Message("assistant", content, tool_calls), usage, finish)

"""OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server, vLLM …), streamed.

Two ways to get tool calls:

- native: ``tools`` in the request; tool calls assembled from streamed fragments (arguments
  split across chunks, several calls per message, missing or shared ``index`` values, the name
  repeated in every chunk by some servers, the legacy ``function_call`` delta: see
  :class:`_CallAssembler`);
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
from ._messages import Event, Message, TextDelta, ToolCall, ToolCallStarted, ToolSpec
from ._reply import ThinkFilter, final_events, stream_error
from ._sse import SSEParser


def _wire_message(m: Message, structured: bool) -> dict[str, Any]:
    if structured:
        if m.role == "tool":
            return {"role": "user", "content": f"Result of {m.name or 'the tool'}:\n{m.content}"}
        if m.role == "assistant" and m.tool_calls:
            call = m.tool_calls[0]
            return {"role": "assistant", "content": _structured.render_call(call)}
        if m.role == "assistant" and m.content:
            return {"role": "assistant", "content": _structured.render_answer(m.content)}
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
        calls = _CallAssembler()
        think = ThinkFilter()
        usage: dict[str, Any] = {}
        finish: str | None = None
        done = False
        parser = SSEParser()
        async with aclosing(stream_lines(
            url, self._body(messages, tools, force_answer), headers,
            provider=self.name, key_env=self.key_env, read_timeout=self.timeout, retries=self.retries,
        )) as lines:
            async for line in lines:
                for event, data in parser.feed(line):
                    if event == "error":  # llama.cpp's "error:" field
                        raise stream_error(url, self.name, data)
                    if data.strip() == "[DONE]":
                        done = True
                        continue
                    try:
                        chunk = json.loads(data)
                    except ValueError as exc:
                        raise ProviderError(f"{url} sent a malformed stream chunk: {data[:120]!r}") from exc
                    if not isinstance(chunk, dict):
                        raise ProviderError(f"{url} sent a malformed stream chunk: {data[:120]!r}")
                    if chunk.get("error"):
                        raise stream_error(url, self.name, chunk)
                    if isinstance(chunk.get("usage"), dict) and chunk["usage"]:
                        usage = chunk["usage"]
                    choices = chunk.get("choices")
                    for choice in choices if isinstance(choices, list) else []:
                        if not isinstance(choice, dict):
                            continue
                        # "delta" when streamed; "message" from a server that ignored "stream"
                        delta = choice.get("delta") or choice.get("message") or {}
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                        piece = delta.get("content")
                        if isinstance(piece, str) and piece:
                            visible = think.feed(piece)
                            if visible:
                                text.append(visible)
                                if not self.structured:
                                    yield TextDelta(visible)
                        frags = delta.get("tool_calls")
                        frags = list(frags) if isinstance(frags, list) else []
                        if isinstance(delta.get("function_call"), dict):  # the legacy single call
                            frags.append({"function": delta["function_call"]})
                        for frag in frags:
                            if isinstance(frag, dict):
                                started = calls.feed(frag)
                                if started is not None:
                                    yield started
        for event, data in parser.close():
            if event == "error":
                raise stream_error(url, self.name, data)
            if data.strip() == "[DONE]":
                done = True
        if not done and finish is None:
            raise ProviderError(f"the stream from {url} was cut before it finished; nothing of this reply was kept")
        rest = think.close()
        if rest:
            text.append(rest)
            if not self.structured:
                yield TextDelta(rest)
        content = "".join(text)
        if finish == "function_call":
            finish = "tool_calls"
        for closing in final_events(content, calls.result(), tools, structured=self.structured, force_answer=force_answer,
                                  finish=finish, usage=usage, provider=self.name, max_tokens=self.max_tokens):
            yield closing


class _CallAssembler:
    """Tool calls from streamed fragments, as real servers send them.

    OpenAI sends ``index`` on every fragment, ``id`` and ``name`` only on the first. Others
    differ: Ollama before 0.4.7 and some proxies omit ``index`` (each fragment then continues the
    latest call unless it carries a new id); Ollama since gives every call ``index`` 0, told apart
    only by their ids; some servers repeat the name in every fragment (the first one wins) or send
    the arguments as a JSON object instead of a string.
    """

    def __init__(self) -> None:
        self._slots: list[dict[str, str]] = []
        self._by_index: dict[int, int] = {}

    def feed(self, frag: dict[str, Any]) -> ToolCallStarted | None:
        index = frag.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = None
        fn = frag.get("function") if isinstance(frag.get("function"), dict) else {}
        assert isinstance(fn, dict)
        fid = frag.get("id") if isinstance(frag.get("id"), str) else ""
        name = fn.get("name") if isinstance(fn.get("name"), str) else ""
        if index is not None:
            pos = self._by_index.get(index)
        else:
            pos = len(self._slots) - 1 if self._slots else None
        slot = self._slots[pos] if pos is not None else None
        if slot is None or (fid and slot["id"] and fid != slot["id"]) or (name and slot["name"] and not fid and name != slot["name"]):
            slot = {"id": "", "name": "", "arguments": "", "fallback": f"call_{ULID()}"}
            self._slots.append(slot)
            if index is not None:
                self._by_index[index] = len(self._slots) - 1
        if fid and not slot["id"]:
            slot["id"] = fid
        args = fn.get("arguments")
        if isinstance(args, dict | list):
            args = json.dumps(args, ensure_ascii=False)
        if isinstance(args, str) and args:
            slot["arguments"] += args
        if name and not slot["name"]:
            slot["name"] = name
            return ToolCallStarted(slot["id"] or slot["fallback"], slot["name"])
        return None

    def result(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(slot["id"] or slot["fallback"], slot["name"], slot["arguments"] or "{}") for slot in self._slots
        )

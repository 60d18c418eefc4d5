"""OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp server, vLLM …), streamed.

Two ways to get tool calls:

- native: ``tools`` in the request; tool calls assembled from streamed fragments (arguments
  split across chunks, several calls per message, missing or shared ``index`` values, the name
  repeated in every chunk by some servers, the legacy ``function_call`` delta: see
  :class:`aios.agent._calls.CallAssembler`);
- structured (:mod:`aios.agent._structured`): no ``tools``; ``response_format`` carries a JSON
  schema that admits exactly one registered tool with its arguments, or a final answer, so every
  reply of a small model is valid. The reply is parsed into the same tool-call objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from typing import Any

import attrs

from aios.errors import ProviderError

from . import _structured
from ._calls import CallAssembler
from ._http import StreamingProvider, stream_lines
from ._messages import Event, Message, TextDelta, ToolSpec
from ._reply import (
    KeepAliveWatch,
    ThinkFilter,
    cut_error,
    decode_event,
    error_in,
    final_events,
    malformed,
    stream_error,
    text_of,
)
from ._sse import SSEEvent, SSEParser


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
        reply = _Reply(url, self.name, [t.name for t in tools])
        parser = SSEParser()
        watch = KeepAliveWatch(url, self.name, self.timeout)
        async with aclosing(stream_lines(
            url, self._body(messages, tools, force_answer), headers,
            provider=self.name, key_env=self.key_env, read_timeout=self.timeout, retries=self.retries,
        )) as lines:
            async for line in lines:
                for piece in reply.read(parser.feed(line)):
                    if not (self.structured and isinstance(piece, TextDelta)):
                        yield piece
                watch.seen(reply.progress)
                if reply.done:  # [DONE]: whatever follows is not part of this reply
                    break
            else:
                for piece in reply.read(parser.close()):
                    if not (self.structured and isinstance(piece, TextDelta)):
                        yield piece
        if not reply.done and reply.finish is None:
            raise cut_error(url, self.name)
        for piece in reply.close():
            if not (self.structured and isinstance(piece, TextDelta)):
                yield piece
        for closing in final_events(reply.content(), reply.calls.result(), tools, structured=self.structured,
                                  force_answer=force_answer, finish=reply.finish, usage=reply.usage,
                                  provider=self.name, max_tokens=self.max_tokens):
            yield closing


FINISH_ALIASES = {"function_call": "tool_calls"}


class _Reply:
    """One streamed reply being read: chunk in, events out.

    A chunk holds ``choices`` (each a ``delta``, or a whole ``message`` from a server that
    ignored ``stream``), ``usage`` (alone with ``choices: []``, or beside the last choice), or an
    error (:func:`aios.agent._reply.error_in`). Reasoning (``reasoning_content``, ``reasoning``,
    ``thinking``, a leading ``<think>`` block, ``thinking`` content parts) is not the answer; a
    ``refusal`` is.
    """

    def __init__(self, url: str, provider: str, tool_names: list[str]) -> None:
        self.url, self.provider = url, provider
        self.text: list[str] = []
        self.calls = CallAssembler(tool_names)
        self.think = ThinkFilter()
        self.usage: dict[str, Any] = {}
        self.finish: str | None = None
        self.progress = 0
        """Events of the reply itself read so far (keep-alive pings not counted)."""
        self.done = False

    def read(self, events: Iterable[SSEEvent]) -> list[Event]:
        """What the SSE ``events`` of one line say; sets ``done`` at ``[DONE]``."""
        out: list[Event] = []
        for event in events:
            if self.done:
                break
            if event.event == "error":  # llama.cpp's "error:" field, a gateway's error event
                raise stream_error(self.url, self.provider, event.data)
            chunk = decode_event(self.url, self.provider, event)
            if chunk is None:
                self.done = True
                break
            try:
                out += self.feed(chunk)
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                raise malformed(self.url, self.provider, event.data) from exc
        return out

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if chunk.get("choices") or chunk.get("usage") or chunk.get("x_groq"):
            # Only a chunk that can carry the reply moves it on: an unrelated event stream's
            # heartbeats (a wrong base_url) count as keep-alives, so they cannot hold it forever.
            self.progress += 1
        err = error_in(chunk)
        if err is not None:
            raise stream_error(self.url, self.provider, err)
        if chunk.get("type") == "message_start":
            raise ProviderError(
                f"{self.url} answers in Anthropic's messages format; set "
                f'llm.providers.{self.provider}.kind = "anthropic"',
                data={"provider": self.provider},
            )
        groq = chunk.get("x_groq")
        usage = chunk.get("usage") or (groq.get("usage") if isinstance(groq, dict) else None)
        if isinstance(usage, dict) and usage:
            self.usage = usage
        choices = chunk.get("choices")
        if isinstance(choices, dict):
            choices = [choices]
        out: list[Event] = []
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            at = choice.get("index")
            if isinstance(at, int) and not isinstance(at, bool) and at != 0:
                continue  # a second choice (a server that ignored n=1) is another reply
            reason = choice.get("finish_reason")
            if reason == "error":  # OpenRouter, when no error object came with it
                raise stream_error(self.url, self.provider, "the server ended the reply with finish_reason 'error'")
            if isinstance(reason, str) and reason:
                self.finish = FINISH_ALIASES.get(reason, reason)
            delta = choice.get("delta") or choice.get("message") or {}
            if not isinstance(delta, dict):
                raise TypeError(f"delta is {type(delta).__name__}")
            piece = text_of(delta.get("content")) + text_of(delta.get("refusal"))
            visible = self.think.feed(piece) if piece else ""
            if visible:
                self.text.append(visible)
                out.append(TextDelta(visible))
            frags = delta.get("tool_calls") or []
            frags = [frags] if isinstance(frags, dict) else frags
            if not isinstance(frags, list):
                raise TypeError(f"tool_calls is {type(frags).__name__}")
            if delta.get("function_call") is not None and not frags:
                # The legacy single call. Beside tool_calls it only mirrors them: llama-cpp-python
                # sends every piece in both, and reading both would double the arguments.
                frags = [{"function": delta["function_call"]}]
            for frag in frags:
                out.extend(self.calls.feed(frag))
        return out

    def close(self) -> list[Event]:
        """Events held back until the end: text after an unclosed ``<think``, calls not
        announced yet."""
        out: list[Event] = []
        rest = self.think.close()
        if rest:
            self.text.append(rest)
            out.append(TextDelta(rest))
        out.extend(self.calls.close())
        return out

    def content(self) -> str:
        return "".join(self.text)

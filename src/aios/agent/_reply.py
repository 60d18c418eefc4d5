"""What both streaming providers check about a reply, whatever its wire format."""

from __future__ import annotations

import json
from typing import Any

import trio

from aios.errors import ProviderError, ProviderTimeout

from . import _structured
from ._http import error_detail, one_line
from ._messages import Done, Event, Message, TextDelta, ToolCall, ToolSpec
from ._sse import SSEEvent

REASONING_BLOCKS = (
    ("<think>", "</think>"),
    # gpt-oss's harmony channels (llama.cpp's common_chat_parse_gpt_oss markers): the analysis
    # channel is reasoning, the final channel the answer; ``<|end|>`` between them may be gone.
    ("<|channel|>analysis<|message|>", "<|channel|>final<|message|>"),
)
"""(open, close) markers of a reasoning block that a server left in ``content``."""


class ThinkFilter:
    """Drops a leading reasoning block (:data:`REASONING_BLOCKS`) from streamed text.

    Reasoning models served without a reasoning parser (DeepSeek-R1 distills on llama.cpp with
    ``--reasoning-format none``, vLLM without ``--reasoning-parser``, older LM Studio, gpt-oss
    on a llama.cpp without its harmony parser) put their reasoning in ``content`` inside these
    markers; it is not the answer. Only a block at the very start counts, so an answer that
    mentions a marker later is kept as it is.
    """

    def __init__(self) -> None:
        self._state = "start"  # start | thinking | after (the block ended) | text
        self._buf = ""
        self._close = ""

    def feed(self, piece: str) -> str:
        """The visible part of ``piece`` (text that may still open a block is held back)."""
        if self._state == "text":
            return piece
        if self._state == "after":
            piece = piece.lstrip()
            if piece:
                self._state = "text"
            return piece
        self._buf += piece  # short: the start until a marker is decided, or a marker's length
        if self._state == "start":
            head = self._buf.lstrip()
            if any(len(head) < len(open_) and open_.startswith(head) for open_, _ in REASONING_BLOCKS):
                return ""
            for open_, close in REASONING_BLOCKS:
                if head.startswith(open_):
                    self._state, self._buf, self._close = "thinking", head[len(open_) :], close
                    break
            else:
                self._state, out, self._buf = "text", self._buf, ""
                return out
        end = self._buf.find(self._close)
        if end < 0:
            # Reasoning is dropped as it comes; only what may begin the close marker is kept,
            # so a long block costs linear time.
            self._buf = self._buf[max(0, len(self._buf) - len(self._close) + 1) :]
            return ""
        rest, self._buf, self._state = self._buf[end + len(self._close) :], "", "after"
        return self.feed(rest)

    def close(self) -> str:
        """Text still held back at the end (an unclosed reasoning block is dropped)."""
        out = self._buf if self._state == "start" else ""
        self._buf = ""
        return out


def stream_error(url: str, provider: str, data: Any) -> ProviderError:
    """The error a server reported inside a stream (an ``error`` event or object)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            pass
    return ProviderError(
        f"{url} reported an error mid-stream: {error_detail(data)}; nothing of this reply was kept",
        data={"provider": provider},
    )


def error_in(chunk: dict[str, Any]) -> Any:
    """The error a stream chunk carries, or None. Spellings: ``{"error": {...}}`` (OpenAI,
    OpenRouter, Anthropic-style proxies), ``{"error": "text"}`` (TGI, Ollama),
    ``{"object": "error", "message": ...}`` (vLLM), ``{"type": "error", ...}`` (Anthropic)."""
    if chunk.get("error"):
        return chunk["error"]
    if chunk.get("object") == "error" or chunk.get("type") == "error":
        return chunk
    return None


def cut_error(url: str, provider: str) -> ProviderError:
    return ProviderError(
        f"the stream from {url} was cut before it finished; nothing of this reply was kept",
        data={"provider": provider},
    )


def malformed(url: str, provider: str, data: str) -> ProviderError:
    return ProviderError(
        f"{url} sent a malformed stream event: {one_line(data, 120)!r}; nothing of this reply "
        "was kept",
        data={"provider": provider},
    )


def decode_event(url: str, provider: str, event: SSEEvent) -> dict[str, Any] | None:
    """The JSON object an event carries; None for OpenAI's ``[DONE]``.

    Raises:
        ProviderError: the data is not a JSON object (a cut stream when the body ended inside
            this event).
    """
    if event.data.strip() == "[DONE]":
        return None
    try:
        chunk = json.loads(event.data)
    except (ValueError, RecursionError):
        if not event.ended:
            raise cut_error(url, provider) from None
        raise malformed(url, provider, event.data) from None
    if not isinstance(chunk, dict):
        raise malformed(url, provider, event.data)
    return chunk


def text_of(content: Any) -> str:
    """The answer text of a ``content`` value: a string, or a list of typed parts of which
    only ``text`` parts count (Mistral's reasoning models send ``thinking`` parts too)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    raise TypeError(f"content is {type(content).__name__}")


CUT_SHORT = {
    "length": "the model hit max_tokens",
    "content_filter": "the server's content filter stopped the reply",
}
"""Finish reasons that mean the reply was stopped before the model ended it."""


def check_complete(message: Message, finish: str | None, *, provider: str, max_tokens: int) -> None:
    """Refuse a reply that was stopped where nothing usable is left.

    A tool call whose arguments were cut is not valid JSON, and the model cannot fix that by
    trying again; an empty reply cut by the limit is a thinking model that spent every token on
    its reasoning, and an empty one stopped by a filter is a refusal. A text answer cut short is
    kept: it is what the model said.
    """
    if finish not in CUT_SHORT:
        return
    fix = (
        f"raise llm.providers.{provider}.max_tokens (now {max_tokens})"
        if finish == "length"
        else "nothing was run; rephrase the request"
    )
    for call in message.tool_calls:
        try:
            json.loads(call.arguments or "{}")
        except (ValueError, RecursionError):
            raise ProviderError(
                f"{CUT_SHORT[finish]} in the middle of a call of {call.name} "
                f"({one_line(call.arguments, 80)!r}…); {fix}",
                data={"provider": provider},
            ) from None
    if message.tool_calls or message.content.strip():
        return
    if finish == "length":
        raise ProviderError(
            f"the model used all its max_tokens before it answered (on reasoning, for a thinking "
            f"model); {fix}",
            data={"provider": provider},
        )
    # A refusal or filter before the first word: an empty answer would tell the person nothing.
    raise ProviderError(
        f"{CUT_SHORT[finish]} before the model said anything (a refusal); {fix}",
        data={"provider": provider},
    )


def check_depth(call: ToolCall, provider: str) -> None:
    """Refuse arguments nested deeper than Python's JSON parser recurses: parsing them later
    (the loop, the audit) would raise RecursionError instead of an error the model can read."""
    try:
        json.loads(call.arguments)
    except RecursionError:
        raise ProviderError(
            f"the model sent arguments for {call.name} nested too deeply to read; nothing was run",
            data={"provider": provider},
        ) from None
    except ValueError:
        pass  # invalid JSON goes back to the model, which can correct it


KEEPALIVE_FACTOR = 5
"""Keep-alive comments hold a reply open for at most this many times the provider's timeout."""


class KeepAliveWatch:
    """Ends a reply that sends nothing but keep-alives for too long.

    The read timeout counts bytes, and a keep-alive (a ``: ping`` comment, Anthropic's ``ping``
    event) is bytes: a server whose upstream hangs while it keeps pinging would hold the turn
    forever. Keep-alives may bridge a long wait (a model that reasons before its first token),
    up to :data:`KEEPALIVE_FACTOR` × timeout without one event of the reply itself.
    """

    def __init__(self, url: str, provider: str, timeout: float) -> None:
        self.url, self.provider = url, provider
        self.limit = KEEPALIVE_FACTOR * timeout
        self.since: float | None = None  # from the first line: retries before it do not count
        self.progress = 0

    def seen(self, progress: int) -> None:
        """After each line: ``progress`` counts the reply's events so far (keep-alives not
        included). Raises ProviderTimeout when it has not moved for longer than the limit."""
        now = trio.current_time()
        if self.since is None or progress != self.progress:
            self.progress, self.since = progress, now
        elif now - self.since > self.limit:
            raise ProviderTimeout(
                f"{self.url} sent only keep-alives for {self.limit:g} s; nothing of this reply was "
                f"kept; raise llm.providers.{self.provider}.timeout or check the server",
                data={"provider": self.provider},
            )


def structured_cut(provider: str, max_tokens: int) -> ProviderError:
    return ProviderError(
        f"the model hit max_tokens before its structured reply was complete; raise "
        f"llm.providers.{provider}.max_tokens (now {max_tokens})",
        data={"provider": provider},
    )


def final_events(
    content: str,
    tool_calls: tuple[ToolCall, ...],
    tools: list[ToolSpec],
    *,
    structured: bool,
    force_answer: bool,
    finish: str | None,
    usage: dict[str, Any],
    provider: str,
    max_tokens: int,
) -> list[Event]:
    """The closing events of one streamed reply, whatever the wire format: a structured reply
    parsed (and its answer shown), or the native message checked for a max_tokens cut."""
    if structured:
        try:
            message = _structured.parse_reply(content, [] if force_answer else tools)
        except ProviderError as exc:
            if finish == "length":
                raise structured_cut(provider, max_tokens) from exc
            raise
        done = Done(message, usage, finish)
        return [TextDelta(message.content), done] if message.content else [done]
    message = Message("assistant", content, tool_calls)
    check_complete(message, finish, provider=provider, max_tokens=max_tokens)
    for call in tool_calls:
        check_depth(call, provider)
    return [Done(message, usage, finish)]

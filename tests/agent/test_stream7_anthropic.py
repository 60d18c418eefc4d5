"""Anthropic message streams as they are emitted, taken from source: the anthropic-sdk-python
streaming fixtures (recorded API streams), llama.cpp's ``/v1/messages``, Ollama's Anthropic
compatibility layer and LiteLLM's Anthropic adapter. Each test names the file its shape comes
from; the bytes are replayed verbatim by the scripted server on 127.0.0.1 against the real
provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_openai import fails, shown
from test_streams import calls_of

from aios.agent import ToolCallStarted
from llmserver import LLMServer, raw


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def ev(kind: str, data: dict[str, Any] | str, *, pad: str = "") -> str:
    """One event; ``pad`` is whitespace the API puts before the closing brace of some events."""
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if pad:
        body = body[:-1] + pad + "}"
    return f"event: {kind}\ndata: {body}\n\n"


def start(model: str = "claude-sonnet-4-20250514", **usage: Any) -> str:
    return ev("message_start", {"type": "message_start", "message": {
        "id": "msg_019Q1hrJbZG26Fb9BQhrkHEr", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 377, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard", **usage}}})


def block(index: int, content: dict[str, Any], **kw: Any) -> str:
    return ev("content_block_start", {"type": "content_block_start", "index": index, "content_block": content}, **kw)


def delta(index: int, d: dict[str, Any], **kw: Any) -> str:
    return ev("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}, **kw)


def stop(index: int, **kw: Any) -> str:
    return ev("content_block_stop", {"type": "content_block_stop", "index": index}, **kw)


def end(reason: str | None, output_tokens: int = 65, **extra: Any) -> list[str]:
    d: dict[str, Any] = {"stop_reason": reason, "stop_sequence": None, **extra}
    return [ev("message_delta", {"type": "message_delta", "delta": d, "usage": {"output_tokens": output_tokens}}),
            ev("message_stop", {"type": "message_stop"})]


PING = 'event: ping\ndata: {"type": "ping"}\n\n'


def text_delta(i: int, t: str) -> str:
    return delta(i, {"type": "text_delta", "text": t})


def json_delta(i: int, p: str) -> str:
    return delta(i, {"type": "input_json_delta", "partial_json": p})


async def run(srv: LLMServer, blocks: list[str]) -> list[Any]:
    srv.script([raw(blocks)])
    return await collect(provider_for("anthropic", srv), conversation(), [BASH, READ])


# ------------------------------------------------------------------------------------------
# The API itself (anthropic-sdk-python tests/lib/streaming/fixtures, tests/fixtures)


async def test_sdk_tool_use_response_fixture(srv: LLMServer) -> None:
    """tests/lib/streaming/fixtures/tool_use_response.txt: a ``ping`` after the first block
    start, a ``tool_use`` start with ``caller`` and ``input: {}``, an empty first
    ``partial_json``, the input cut inside a key and a value."""
    blocks = [
        start(), block(0, {"type": "text", "text": ""}), PING,
        text_delta(0, "I"), text_delta(0, "'ll check the log directory for you."), stop(0),
        block(1, {"type": "tool_use", "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "name": "bash", "caller": {"type": "direct"}, "input": {}}),
        json_delta(1, ""), json_delta(1, '{"comma'), json_delta(1, 'nd": "ls -la /v'), json_delta(1, "ar/lo"), json_delta(1, 'g"}'),
        stop(1), *end("tool_use"),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "I'll check the log directory for you."
    assert calls_of(events) == [("toolu_01NRLabsLyVHZPKxbKvkfSMn", "bash", {"command": "ls -la /var/log"})]


async def test_sdk_incomplete_partial_json_fixture_with_padded_events(srv: LLMServer) -> None:
    """tests/lib/streaming/fixtures/incomplete_partial_json_response.txt: every event's JSON has
    blanks before its last brace, and ``max_tokens`` stops the call inside a string (then
    ``message_stop`` as usual). The half call never reaches the loop."""
    blocks = [
        start(model="claude-3-7-sonnet-20250219"), block(0, {"type": "text", "text": ""}, pad="         "), PING,
        delta(0, {"type": "text_delta", "text": "I'll write the file now."}, pad="       "), stop(0, pad=" "),
        block(1, {"type": "tool_use", "id": "toolu_01EKqbqmZrGRXy18eN7m9kvY", "name": "bash", "input": {}}, pad="     "),
        delta(1, {"type": "input_json_delta", "partial_json": ""}, pad="       "),
        delta(1, {"type": "input_json_delta", "partial_json": '{"command": "cat > taxes.txt <<EOF\\n# GUIDE'}, pad="   "),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}, "usage": {"output_tokens": 124}}, pad="    "),
        ev("message_stop", {"type": "message_stop"}, pad=" "),
    ]
    assert "max_tokens" in await fails(srv, "anthropic", blocks)


@pytest.mark.parametrize("details", [
    {"type": "refusal", "category": "cyber", "explanation": "This request was refused due to policy."},
    {"type": "refusal", "category": None, "explanation": None, "fallback_credit_token": "tok_x", "fallback_has_prefill_claim": True},
])
async def test_sdk_refusal_with_an_empty_text_block(details: dict[str, Any], srv: LLMServer) -> None:
    """tests/lib/streaming/fixtures/refusal_response.txt: a text block that stays empty, then
    ``stop_reason: "refusal"`` with ``stop_details``. Not an empty answer: one line."""
    blocks = [start(model="claude-opus-4-7"), block(0, {"type": "text", "text": ""}), stop(0), *end("refusal", 0, stop_details=details)]
    message = await fails(srv, "anthropic", blocks)
    assert "refus" in message or "content filter" in message


async def test_sdk_fallback_and_compaction_blocks_are_not_the_answer(srv: LLMServer) -> None:
    """fallback_response.txt and compaction_response.txt: a ``fallback`` block (from/to model)
    and a ``compaction`` block with a ``compaction_delta`` come before the text block."""
    blocks = [
        start(model="claude-opus-4-7"),
        block(0, {"type": "fallback", "from": {"model": "claude-opus-4-7"}, "to": {"model": "claude-sonnet-4-5"}, "trigger": {"type": "refusal", "category": None}}),
        stop(0),
        block(1, {"type": "compaction", "content": None, "encrypted_content": None}), PING,
        delta(1, {"type": "compaction_delta", "content": "Earlier conversation summarized.", "encrypted_content": "EpwBCioIDxgC"}),
        stop(1),
        block(2, {"type": "text", "text": ""}), text_delta(2, "Hello there!"), stop(2),
        *end("end_turn", 8),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Hello there!"
    assert done_of(events).message.tool_calls == ()


async def test_sdk_server_tool_use_results_citations_then_our_call(srv: LLMServer) -> None:
    """tests/fixtures/fable-fallback/stream-a-toolrefusal.sse, with ``citations_delta`` from the
    SDK's types: the API's own ``server_tool_use`` (input streamed as ``input_json_delta``) and
    its ``web_search_tool_result`` are not ours; the text cites a result; then our ``tool_use``."""
    blocks = [
        start(),
        block(0, {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}}, pad="      "),
        json_delta(0, ""), json_delta(0, '{"query": "s'), json_delta(0, 'olar eclipse"}'), stop(0),
        block(1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": [
            {"type": "web_search_result", "title": "Eclipses", "url": "https://www.example.com/e", "encrypted_content": "Eo8B", "page_age": "1 week ago"}],
            "caller": {"type": "direct"}}),
        stop(1),
        block(2, {"type": "text", "text": "", "citations": []}),
        delta(2, {"type": "citations_delta", "citation": {"type": "web_search_result_location", "cited_text": "Two eclipses", "url": "https://www.example.com/e", "title": "Eclipses", "encrypted_index": "Eo8B"}}),
        text_delta(2, "Two eclipses this year. Saving a note."), stop(2),
        block(3, {"type": "tool_use", "id": "toolu_02", "name": "bash", "input": {}}),
        json_delta(3, '{"command": "echo eclipses >> /tmp/notes"}'), stop(3),
        *end("tool_use", 106),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Two eclipses this year. Saving a note."
    assert calls_of(events) == [("toolu_02", "bash", {"command": "echo eclipses >> /tmp/notes"})]
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [ToolCallStarted("toolu_02", "bash")]


async def test_sdk_thinking_with_an_empty_last_delta_and_signature(srv: LLMServer) -> None:
    """stream-a-refusal.sse's thinking block: thinking pieces, an empty ``thinking_delta``,
    then ``signature_delta``; none of it is the answer."""
    blocks = [
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "The person wants the uptime."}),
        delta(0, {"type": "thinking_delta", "thinking": ""}),
        delta(0, {"type": "signature_delta", "signature": "c3ludGhldGlj"}, pad=" "),
        stop(0, pad="  "),
        block(1, {"type": "text", "text": ""}), text_delta(1, "Up 3 days."), stop(1, pad="      "),
        *end("end_turn", 30),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Up 3 days."


# ------------------------------------------------------------------------------------------
# llama.cpp server, /v1/messages (tools/server/server-task.cpp to_json_anthropic*,
# server-common.cpp format_anthropic_sse, server-context.cpp stream errors)


async def test_llamacpp_blocks_left_open_tool_use_without_input(srv: LLMServer) -> None:
    """The partial results open blocks and never close them; the final result closes all of
    them at the end, in index order (thinking after text has started), after an empty
    ``signature_delta``; a ``tool_use`` start has no ``input`` at all."""
    blocks = [
        start(model="qwen3-8b", cache_read_input_tokens=0),
        block(0, {"type": "thinking", "thinking": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "List the logs."}),
        block(1, {"type": "text", "text": ""}), text_delta(1, "Listing."),
        block(2, {"type": "tool_use", "id": "Jq2cF8mXvA1lB0tY", "name": "bash"}),
        json_delta(2, '{"command":"'), json_delta(2, 'ls -la /var/log"}'),
        delta(0, {"type": "signature_delta", "signature": ""}),
        stop(0), stop(1), stop(2),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 31}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Listing."
    assert calls_of(events) == [("Jq2cF8mXvA1lB0tY", "bash", {"command": "ls -la /var/log"})]


async def test_llamacpp_two_calls_interleaved_with_text_open(srv: LLMServer) -> None:
    """The same layout with two calls whose deltas alternate (``content_block_index`` =
    text + ``tool_call_index``): each delta goes to its own block by index."""
    blocks = [
        start(model="qwen3-8b"),
        block(0, {"type": "text", "text": ""}), text_delta(0, "Two checks."),
        block(1, {"type": "tool_use", "id": "a1", "name": "bash"}), json_delta(1, '{"command":'),
        block(2, {"type": "tool_use", "id": "b2", "name": "read_file"}), json_delta(2, '{"path":'),
        json_delta(1, '"df -h"}'), json_delta(2, '"/etc/fstab"}'),
        stop(0), stop(1), stop(2), *end("tool_use", 40),
    ]
    events = await run(srv, blocks)
    assert calls_of(events) == [("a1", "bash", {"command": "df -h"}), ("b2", "read_file", {"path": "/etc/fstab"})]


async def test_llamacpp_error_event_is_the_bare_error_object(srv: LLMServer) -> None:
    """``format_anthropic_sse({{"event","error"},{"data", res_json}})``: the data is
    ``format_error_response``'s object, ``{"code", "message", "type"}``, with no
    ``"type": "error"`` wrapper and no ``error`` key."""
    blocks = [
        start(model="qwen3-8b"),
        block(0, {"type": "tool_use", "id": "a1", "name": "bash"}), json_delta(0, '{"command":"rm -rf /tmp/b'),
        ev("error", {"code": 500, "message": "Failed to decode the batch: KV cache is full", "type": "server_error"}),
    ]
    assert "KV cache is full" in await fails(srv, "anthropic", blocks)


# ------------------------------------------------------------------------------------------
# Ollama, /v1/messages (anthropic/anthropic.go StreamConverter, middleware/anthropic.go)


async def test_ollama_thinking_without_signature_then_whole_input(srv: LLMServer) -> None:
    """StreamConverter.Process: ``message_start`` without ``stop_reason`` (omitempty), a
    thinking block with no signature, text, then each call as start (``input: {}``) + one
    ``input_json_delta`` holding the whole arguments + stop; ``message_delta`` usage carries
    ``input_tokens`` too."""
    blocks = [
        ev("message_start", {"type": "message_start", "message": {"id": "msg_a1b2", "type": "message", "role": "assistant", "model": "qwen3:8b",
                                                                   "content": [], "usage": {"input_tokens": 88, "output_tokens": 0}}}),
        block(0, {"type": "thinking", "thinking": ""}), delta(0, {"type": "thinking_delta", "thinking": "Two tools."}), stop(0),
        block(1, {"type": "text", "text": ""}), text_delta(1, "Checking."), stop(1),
        block(2, {"type": "tool_use", "id": "call_x1", "name": "bash", "input": {}}), json_delta(2, '{"command":"uptime"}'), stop(2),
        block(3, {"type": "tool_use", "id": "call_x2", "name": "read_file", "input": {}}), json_delta(3, '{"path":"/etc/hostname"}'), stop(3),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"input_tokens": 88, "output_tokens": 44}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Checking."
    assert calls_of(events) == [("call_x1", "bash", {"command": "uptime"}), ("call_x2", "read_file", {"path": "/etc/hostname"})]


async def test_ollama_message_delta_without_a_stop_reason(srv: LLMServer) -> None:
    """mapStopReason returns "" for an empty done reason, and ``stop_reason`` is omitempty: the
    ``message_delta`` has ``delta: {}``; ``message_stop`` still ends the reply."""
    blocks = [
        start(model="llama3.2"), block(0, {"type": "text", "text": ""}), text_delta(0, "Fine."), stop(0),
        ev("message_delta", {"type": "message_delta", "delta": {}, "usage": {"input_tokens": 10, "output_tokens": 2}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    events = await run(srv, blocks)
    assert done_of(events).message.content == "Fine."


# ------------------------------------------------------------------------------------------
# LiteLLM's Anthropic adapter (litellm/llms/anthropic/experimental_pass_through/adapters/
# streaming_iterator.py)


async def test_litellm_adapter_mid_stream_error_event(srv: LLMServer) -> None:
    """``_mid_stream_error_sse_event``: ``event: error`` with
    ``AnthropicExceptionMapping.transform_to_anthropic_error`` (``{"type": "error", "error":
    {"type", "message"}}``) after a call has begun; the call never reaches the loop."""
    blocks = [
        start(model="gpt-4o"),
        block(0, {"type": "tool_use", "id": "call_abc", "name": "bash", "input": {}}),
        json_delta(0, '{"command": "systemctl rest'),
        ev("error", {"type": "error", "error": {"type": "api_error", "message": "Upstream stream ended before completion"}}),
    ]
    assert "Upstream stream ended" in await fails(srv, "anthropic", blocks)


# ------------------------------------------------------------------------------------------
# vLLM, /v1/messages (vllm/entrypoints/anthropic/serving.py message_stream_converter)


async def test_vllm_messages_without_usage_chunk_has_no_stops_or_message_delta(srv: LLMServer) -> None:
    """message_stream_converter closes the open block and sends ``message_delta`` only when the
    OpenAI stream it converts ends with a usage chunk (``choices: []``); without one, the
    ``[DONE]`` becomes ``message_stop`` right after the last ``input_json_delta``: no
    ``content_block_stop``, no stop reason. The thinking block gets a uuid signature."""
    blocks = [
        ev("message_start", {"type": "message_start", "message": {"id": "chatcmpl-b6e1", "type": "message", "role": "assistant", "content": [],
                                                                   "model": "Qwen/Qwen3-8B", "stop_reason": None, "stop_sequence": None,
                                                                   "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        block(0, {"type": "thinking", "thinking": ""}), delta(0, {"type": "thinking_delta", "thinking": "Uptime."}),
        delta(0, {"type": "signature_delta", "signature": "8f14e45fceea167a5a36dedd4bea2543"}), stop(0),
        block(1, {"type": "tool_use", "id": "chatcmpl-tool-9f2c", "name": "bash", "input": {}}),
        json_delta(1, '{"command": "up'), json_delta(1, 'time"}'),
        ev("message_stop", {"type": "message_stop"}),
    ]
    events = await run(srv, blocks)
    assert shown(events) == ""
    assert calls_of(events) == [("chatcmpl-tool-9f2c", "bash", {"command": "uptime"})]


async def test_vllm_messages_converter_error_event(srv: LLMServer) -> None:
    """An OpenAI error chunk fails ``ChatCompletionStreamResponse.model_validate_json`` in the
    converter, which sends ``event: error`` with ``{"type": "error", "error": {"type":
    "internal_error", "message": ...}}`` and stops: no ``message_stop``."""
    blocks = [
        start(model="Qwen/Qwen3-8B"), block(0, {"type": "text", "text": ""}), text_delta(0, "Checking"),
        ev("error", {"type": "error", "error": {"type": "internal_error", "message": "1 validation error for ChatCompletionStreamResponse"}}),
    ]
    assert "validation error" in await fails(srv, "anthropic", blocks)


async def test_sglang_messages_error_event_then_the_stream_goes_on(srv: LLMServer) -> None:
    """SGLang's /v1/messages (python/sglang/srt/entrypoints/anthropic/serving.py
    ``_generate_anthropic_stream``): a chunk it cannot parse becomes ``event: error``
    (``api_error``, "Stream processing error") and the loop *continues*, so ``[DONE]`` still
    brings the block stop, ``message_delta`` and ``message_stop``. The reply failed: one line,
    and the call begun before it is not run."""
    blocks = [
        ev("message_start", {"type": "message_start", "message": {"id": "msg_5f0c", "type": "message", "role": "assistant", "content": [],
                                                                   "model": "qwen3", "usage": {"input_tokens": 31, "output_tokens": 0, "cache_read_input_tokens": 0}}}),
        block(0, {"type": "tool_use", "id": "call_9c6f2f7e", "name": "bash", "input": {}}),
        json_delta(0, '{"command": "rm -rf /tmp/bu'),
        ev("error", {"type": "error", "error": {"type": "api_error", "message": "Stream processing error"}}),
        json_delta(0, 'ild"}'),
        stop(0),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"input_tokens": 31, "output_tokens": 12, "cache_read_input_tokens": 0}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    assert "Stream processing error" in await fails(srv, "anthropic", blocks)


@pytest.mark.parametrize("pieces", [
    ["<think>", "The user wants the uptime.", "</think>", "\n\nUp 3 days."],
    list("<think>One token at a time.</think>\nUp 3 days."),
    ["<|channel|>analysis<|message|>Answer briefly.<|end|><|start|>assistant<|channel|>final<|message|>", "Up 3 days."],
], ids=["think", "think-per-character", "harmony"])
async def test_reasoning_left_in_a_text_block_is_not_the_answer(pieces: list[str], srv: LLMServer) -> None:
    """llama.cpp's /v1/messages builds text blocks from the same diffs as its OpenAI endpoint
    (server-task.cpp ``to_json_anthropic``): with ``--reasoning-format none`` the reasoning stays
    in ``content_delta``, so it arrives as ``text_delta`` pieces, not a thinking block."""
    blocks = [start(model="qwen3-8b"), block(0, {"type": "text", "text": ""}), *(text_delta(0, p) for p in pieces), stop(0), *end("end_turn", 20)]
    events = await run(srv, blocks)
    assert shown(events) == "Up 3 days."
    assert done_of(events).message.content == "Up 3 days."

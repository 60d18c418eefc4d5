"""Streams and server behaviours that real servers produce (OpenAI, Anthropic, Ollama, llama.cpp,
vLLM, LM Studio, proxies), replayed verbatim by the scripted server against the real providers."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest
import trio
from test_providers import BASH, KEY_ENV, READ, collect, conversation, done_of, provider_for

from aios.agent import Done, Message, TextDelta, ToolCall, ToolCallStarted
from aios.errors import ProviderError, ProviderHTTPError, ProviderTimeout
from llmserver import LLMServer, error, gzipped, raw, reset, stall, text, tool_call

KINDS = ["openai", "anthropic"]


def oa(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    """One OpenAI chunk as an SSE block."""
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(chunk)}\n\n"


DONE = "data: [DONE]\n\n"


def an(kind: str, **fields: Any) -> str:
    """One Anthropic event as an SSE block."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def an_start() -> str:
    return an(
        "message_start",
        message={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "m",
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    )


def an_end(stop: str) -> list[str]:
    return [
        an("message_delta", delta={"stop_reason": stop}, usage={"output_tokens": 5}),
        an("message_stop"),
    ]


def calls_of(events: list[Any]) -> list[tuple[str, str, Any]]:
    return [(c.id, c.name, json.loads(c.arguments)) for c in done_of(events).message.tool_calls]


async def run(srv: LLMServer, kind: str, blocks: list[str], tools: list[Any] | None = None, **kw: Any) -> list[Any]:
    srv.script([raw(blocks, **kw)])
    return await collect(provider_for(kind, srv), conversation(), [BASH, READ] if tools is None else tools)


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


# ------------------------------------------------------------------------------------------
# OpenAI-compatible tool-call assembly


async def test_openai_index_missing_id_and_name_only_first(srv: LLMServer) -> None:
    """Old Ollama (#7881), Gemini: no ``index``; id and name only in the first fragment."""
    events = await run(
        srv,
        "openai",
        [
            oa({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "bash", "arguments": ""}}]}),
            oa({"tool_calls": [{"function": {"arguments": '{"comm'}}]}),
            oa({"tool_calls": [{"function": {"arguments": 'and": "ls"}'}}]}),
            oa({}, "tool_calls"),
            DONE,
        ],
    )
    assert calls_of(events) == [("c1", "bash", {"command": "ls"})]


async def test_openai_index_missing_two_complete_calls(srv: LLMServer) -> None:
    events = await run(
        srv,
        "openai",
        [
            oa({"tool_calls": [{"id": "c1", "function": {"name": "bash", "arguments": '{"command": "df"}'}}]}),
            oa({"tool_calls": [{"id": "c2", "function": {"name": "read_file", "arguments": '{"path": "/x"}'}}]}),
            oa({}, "tool_calls"),
            DONE,
        ],
    )
    assert calls_of(events) == [("c1", "bash", {"command": "df"}), ("c2", "read_file", {"path": "/x"})]


async def test_openai_all_calls_share_index_0(srv: LLMServer) -> None:
    """Ollama (#15457): every call has index 0, told apart only by its id."""
    events = await run(
        srv,
        "openai",
        [
            oa({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "bash", "arguments": '{"command": '}}]}),
            oa({"tool_calls": [{"index": 0, "function": {"arguments": '"df"}'}}]}),
            oa({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "bash", "arguments": '{"command": "free"}'}}]}),
            oa({}, "stop"),  # Ollama says "stop" even after tool calls
            DONE,
        ],
    )
    assert calls_of(events) == [("a", "bash", {"command": "df"}), ("b", "bash", {"command": "free"})]
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started == [ToolCallStarted("a", "bash"), ToolCallStarted("b", "bash")]


async def test_openai_index_null_and_arguments_as_object(srv: LLMServer) -> None:
    """Some proxies send ``"index": null`` and the arguments as a JSON object, not a string."""
    events = await run(
        srv,
        "openai",
        [
            oa({"tool_calls": [{"index": None, "id": "c1", "type": "function", "function": {"name": "bash", "arguments": {"command": "uptime"}}}]}),
            oa({}, "tool_calls"),
            DONE,
        ],
    )
    assert calls_of(events) == [("c1", "bash", {"command": "uptime"})]


async def test_openai_no_arg_tool_with_empty_arguments(srv: LLMServer) -> None:
    events = await run(
        srv,
        "openai",
        [oa({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "bash", "arguments": ""}}]}), oa({}, "tool_calls"), DONE],
    )
    assert done_of(events).message.tool_calls == (ToolCall("c1", "bash", "{}"),)


async def test_openai_legacy_function_call_delta(srv: LLMServer) -> None:
    """The pre-tools ``function_call`` delta and finish_reason ``function_call``."""
    events = await run(
        srv,
        "openai",
        [
            oa({"role": "assistant", "content": None, "function_call": {"name": "bash", "arguments": ""}}),
            oa({"function_call": {"arguments": '{"command":'}}),
            oa({"function_call": {"arguments": ' "id"}'}}),
            oa({}, "function_call"),
            DONE,
        ],
    )
    (call,) = done_of(events).message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("bash", {"command": "id"})
    assert call.id


# ------------------------------------------------------------------------------------------
# SSE framing


@pytest.mark.parametrize("kind", KINDS)
async def test_sse_framing_variants(kind: str, srv: LLMServer) -> None:
    """CRLF line endings, a BOM, comments (keep-alive), ``data:`` without a space, a data field
    split over two lines, and events split across writes."""
    if kind == "openai":
        first = json.dumps({"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]})
        blocks = [
            "\ufeff: keep-alive\r\n\r\n",
            f"data:{first}\r\n\r\n",
            'data: {"choices": [{"index": 0,\r\ndata: "delta": {"content": "lo"}, "finish_reason": null}]}\r\n\r\n',
            ": ping\r\n",
            '\r\ndata: {"choices": [{"index": 0, "delta": {}, "fini',
            'sh_reason": "stop"}]}\r\n\r\n',
            "data: [DONE]\r\n\r\n",
        ]
    else:
        blocks = [
            "\ufeff" + an_start().replace("\n", "\r\n"),
            ": keep-alive\r\n\r\n",
            an("content_block_start", index=0, content_block={"type": "text", "text": ""}).replace("data: ", "data:"),
            'event: content_block_delta\r\ndata: {"type": "content_block_delta", "index": 0,\r\ndata: "delta": {"type": "text_delta", "text": "Hel"}}\r\n\r\n',
            an("content_block_delta", index=0, delta={"type": "text_delta", "text": "lo"}),
            an("ping"),
            an("content_block_stop", index=0),
            *an_end("end_turn"),
        ]
    events = await run(srv, kind, blocks)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"
    assert done_of(events).message == Message("assistant", "Hello")


async def test_openai_usage_only_chunk_and_null_choices(srv: LLMServer) -> None:
    events = await run(
        srv,
        "openai",
        [
            oa({"role": "assistant", "content": ""}),
            'data: {"id": "x", "choices": null}\n\n',
            oa({"content": "ok"}),
            oa({}, "stop"),
            'data: {"id": "x", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}\n\n',
            DONE,
        ],
    )
    done = done_of(events)
    assert done.message.content == "ok" and done.usage["total_tokens"] == 6


async def test_openai_finish_without_done_and_done_without_finish(srv: LLMServer) -> None:
    """ik_llama.cpp ends without ``[DONE]``; some servers never set finish_reason."""
    events = await run(srv, "openai", [oa({"content": "a"}), oa({}, "stop")])
    assert done_of(events).message.content == "a"
    events = await run(srv, "openai", [oa({"content": "b"}), DONE])
    assert done_of(events).message.content == "b"


async def test_openai_error_null_is_not_an_error(srv: LLMServer) -> None:
    events = await run(srv, "openai", [oa({"content": "fine"}, error=None), oa({}, "stop"), DONE])
    assert done_of(events).message.content == "fine"


async def test_openai_error_chunk_message(srv: LLMServer) -> None:
    """OpenRouter-style mid-stream error: the message, not a dict repr."""
    err = {"error": {"code": 502, "message": "Provider returned error", "metadata": {"raw": "x"}}}
    with pytest.raises(ProviderError) as info:
        await run(srv, "openai", [oa({"content": "par"}), f"data: {json.dumps(err)}\n\n", DONE])
    assert "Provider returned error" in str(info.value) and "{" not in str(info.value)


async def test_llamacpp_error_field_then_done(srv: LLMServer) -> None:
    """llama.cpp sends a streamed error as an ``error:`` SSE field, then ``data: [DONE]``."""
    err = {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error"}
    seen: list[Any] = []
    with pytest.raises(ProviderError, match="exceeds the available context size") as info:
        srv.script([raw([f"error: {json.dumps(err)}\n\n", DONE])])
        async for event in provider_for("openai", srv).stream(conversation(), [BASH]):
            seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)]
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------
# Reasoning


async def test_openai_reasoning_deltas_are_not_the_answer(srv: LLMServer) -> None:
    events = await run(
        srv,
        "openai",
        [
            oa({"role": "assistant", "content": None, "reasoning_content": "Let me think"}),
            oa({"reasoning": " about disks."}),
            oa({"content": "The disk is fine."}),
            oa({}, "stop"),
            DONE,
        ],
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["The disk is fine."]
    assert done_of(events).message.content == "The disk is fine."


async def test_openai_think_tags_in_content_are_not_the_answer(srv: LLMServer) -> None:
    """DeepSeek-R1 distills on llama.cpp (reasoning_format none), vLLM without a reasoning
    parser, older LM Studio: the reasoning arrives in ``content`` inside <think> tags."""
    events = await run(
        srv,
        "openai",
        [
            oa({"content": "<thi"}),
            oa({"content": "nk>\nThe user wants"}),
            oa({"content": " disk usage.</th"}),
            oa({"content": "ink>\n\nDisk is "}),
            oa({"content": "42% full."}),
            oa({}, "stop"),
            DONE,
        ],
    )
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Disk is 42% full."
    assert done_of(events).message.content == "Disk is 42% full."


async def test_openai_text_that_merely_starts_with_a_tag_is_kept(srv: LLMServer) -> None:
    events = await run(srv, "openai", [oa({"content": "<"}), oa({"content": "tr> is HTML"}), oa({}, "stop"), DONE])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "<tr> is HTML"
    assert done_of(events).message.content == "<tr> is HTML"


@pytest.mark.parametrize("kind", KINDS)
async def test_reasoning_used_all_tokens(kind: str, srv: LLMServer) -> None:
    """A thinking model that spends max_tokens on reasoning leaves no answer: say so, instead of
    returning an empty answer."""
    if kind == "openai":
        blocks = [oa({"reasoning_content": "hmm " * 50}), oa({}, "length"), DONE]
    else:
        blocks = [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
            an("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hmm"}),
            *an_end("max_tokens"),
        ]
    with pytest.raises(ProviderError, match="max_tokens") as info:
        await run(srv, kind, blocks)
    assert "llm.providers.scripted.max_tokens" in str(info.value)


# ------------------------------------------------------------------------------------------
# Anthropic specifics


async def test_anthropic_thinking_blocks_and_tool_use(srv: LLMServer) -> None:
    events = await run(
        srv,
        "anthropic",
        [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
            an("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "I should run df."}),
            an("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "abc"}),
            an("content_block_stop", index=0),
            an("content_block_start", index=1, content_block={"type": "redacted_thinking", "data": "xyz"}),
            an("content_block_stop", index=1),
            an("content_block_start", index=2, content_block={"type": "text", "text": ""}),
            an("content_block_delta", index=2, delta={"type": "text_delta", "text": "Checking."}),
            an("content_block_stop", index=2),
            an("content_block_start", index=3, content_block={"type": "tool_use", "id": "tu1", "name": "bash", "input": {}}),
            an("content_block_delta", index=3, delta={"type": "input_json_delta", "partial_json": ""}),
            an("content_block_delta", index=3, delta={"type": "input_json_delta", "partial_json": '{"command": "df"}'}),
            an("content_block_stop", index=3),
            an("content_block_start", index=4, content_block={"type": "tool_use", "id": "tu2", "name": "read_file", "input": {"path": "/etc/os-release"}}),
            an("content_block_stop", index=4),
            *an_end("tool_use"),
        ],
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Checking."]
    assert done_of(events).message.content == "Checking."
    assert calls_of(events) == [("tu1", "bash", {"command": "df"}), ("tu2", "read_file", {"path": "/etc/os-release"})]


@pytest.mark.parametrize("kind", KINDS)
async def test_max_tokens_in_the_middle_of_a_tool_call(kind: str, srv: LLMServer) -> None:
    """Cut by max_tokens inside the arguments: a clear error, not a call with broken JSON."""
    if kind == "openai":
        blocks = [
            oa({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "bash", "arguments": '{"command": "find / -na'}}]}),
            oa({}, "length"),
            DONE,
        ]
    else:
        blocks = [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "tool_use", "id": "tu1", "name": "bash", "input": {}}),
            an("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"command": "find / -na'}),
            an("content_block_stop", index=0),
            *an_end("max_tokens"),
        ]
    with pytest.raises(ProviderError, match="max_tokens") as info:
        await run(srv, kind, blocks)
    assert "llm.providers.scripted.max_tokens" in str(info.value)


async def test_anthropic_overloaded_error_event(srv: LLMServer) -> None:
    err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(ProviderError, match="Overloaded"):
        await run(srv, "anthropic", [an_start(), f"event: error\ndata: {json.dumps(err)}\n\n"])


async def test_anthropic_llamacpp_error_field(srv: LLMServer) -> None:
    """llama.cpp's /v1/messages reports errors with the same ``error:`` field."""
    err = {"code": 500, "message": "slot unavailable", "type": "server_error"}
    with pytest.raises(ProviderError, match="slot unavailable"):
        await run(srv, "anthropic", [an_start(), f"error: {json.dumps(err)}\n\n"])


async def test_anthropic_trailing_done_from_a_proxy(srv: LLMServer) -> None:
    events = await run(
        srv,
        "anthropic",
        [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "text", "text": "hi"}),
            an("content_block_stop", index=0),
            *an_end("end_turn"),
            DONE,
        ],
    )
    assert done_of(events).message.content == "hi"


# ------------------------------------------------------------------------------------------
# Whole-body answers instead of a stream


async def test_openai_json_body_instead_of_a_stream(srv: LLMServer) -> None:
    """A server or proxy that ignores ``stream: true`` and answers one JSON completion."""
    body = {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "df"}'}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    events = await run(srv, "openai", [json.dumps(body, indent=2)], content_type="application/json", chunked=False)
    done = done_of(events)
    assert done.message.content == "Let me check."
    assert calls_of(events) == [("c1", "bash", {"command": "df"})]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Let me check."]
    assert done.usage["total_tokens"] == 7


async def test_anthropic_json_body_instead_of_a_stream(srv: LLMServer) -> None:
    body = {
        "id": "msg",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "tu1", "name": "bash", "input": {"command": "df"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    events = await run(srv, "anthropic", [json.dumps(body)], content_type="application/json", chunked=False)
    assert done_of(events).message.content == "Checking."
    assert calls_of(events) == [("tu1", "bash", {"command": "df"})]
    assert done_of(events).finish_reason == "tool_calls"


@pytest.mark.parametrize("kind", KINDS)
async def test_200_with_a_json_error_body(kind: str, srv: LLMServer) -> None:
    """Some proxies answer 200 with an error object."""
    with pytest.raises(ProviderError, match="upstream model is loading"):
        await run(srv, kind, ['{"error": {"message": "upstream model is loading"}}'], content_type="application/json", chunked=False)


@pytest.mark.parametrize("kind", KINDS)
async def test_200_with_an_html_page(kind: str, srv: LLMServer) -> None:
    """base_url pointing at a web UI: say so, not "the stream was cut"."""
    with pytest.raises(ProviderError, match="base_url") as info:
        await run(srv, kind, ["<!doctype html>\n<html><body>Open WebUI</body></html>\n"], content_type="text/html; charset=utf-8", chunked=False)
    assert "HTML" in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------
# HTTP errors


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("openai", {"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "type": "invalid_request_error", "code": "context_length_exceeded"}}),
        ("openai", {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error"}}),
        ("anthropic", {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 208000 tokens > 200000 maximum"}}),
    ],
)
async def test_400_context_length(kind: str, body: Any, srv: LLMServer) -> None:
    srv.script([error(400, body=body)])
    with pytest.raises(ProviderHTTPError) as info:
        await collect(provider_for(kind, srv), conversation(), [BASH])
    message = str(info.value)
    assert "llm.context_budget" in message, message
    assert ".model" not in message, "a context overflow is not a wrong model name"


async def test_400_model_does_not_support_tools(srv: LLMServer) -> None:
    """Ollama with a model without tool support."""
    body = {"error": {"message": "registry.ollama.ai/library/gemma:2b does not support tools", "type": "api_error"}}
    srv.script([error(400, body=body)])
    with pytest.raises(ProviderHTTPError, match="structured_output"):
        await collect(provider_for("openai", srv), conversation(), [BASH])


@pytest.mark.parametrize("kind", KINDS)
async def test_error_page_with_newlines_is_one_line(kind: str, srv: LLMServer) -> None:
    page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    srv.script([error(502, body=page)])
    with pytest.raises(ProviderHTTPError) as info:
        await collect(provider_for(kind, srv, retries=0), conversation(), [])
    message = str(info.value)
    assert "\n" not in message and "\r" not in message and "502 Bad Gateway" in message
    assert "<" not in message


async def test_404_unknown_model(srv: LLMServer) -> None:
    srv.script([error(404, body={"error": {"message": 'model "qwen9:7b" not found, try pulling it first', "type": "api_error"}})])
    with pytest.raises(ProviderHTTPError, match=r"qwen9:7b.*llm.providers.scripted.model"):
        await collect(provider_for("openai", srv), conversation(), [])


async def test_fastapi_detail_error_body(srv: LLMServer) -> None:
    srv.script([error(422, body={"detail": [{"loc": ["body", "messages"], "msg": "field required"}]})])
    with pytest.raises(ProviderHTTPError, match="field required"):
        await collect(provider_for("openai", srv), conversation(), [])


@pytest.mark.parametrize("kind", KINDS)
async def test_429_retry_after_http_date(kind: str, srv: LLMServer) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    srv.script([error(429, headers={"Retry-After": when}), text("after the wait")])
    start = time.monotonic()
    events = await collect(provider_for(kind, srv), conversation(), [])
    elapsed = time.monotonic() - start
    assert done_of(events).message.content == "after the wait"
    assert elapsed >= 0.9, elapsed  # it waited as asked (no upper bound: timings are for benchmarks)


async def test_429_asking_for_a_long_wait_fails_at_once(srv: LLMServer) -> None:
    srv.script([error(429, headers={"Retry-After": "3600"}), text("never reached")])
    with pytest.raises(ProviderHTTPError, match="asks to wait 3600 s") as info:
        await collect(provider_for("openai", srv), conversation(), [])
    assert info.value.data["retry_after_s"] == 3600 and len(srv.requests) == 1


async def test_429_exhausted_says_rate_limited(srv: LLMServer) -> None:
    srv.script([error(429), error(429)])
    with pytest.raises(ProviderHTTPError, match="rate") as info:
        await collect(provider_for("openai", srv, retries=1), conversation(), [])
    assert "max_retries" in str(info.value)


# ------------------------------------------------------------------------------------------
# Transport


@pytest.mark.parametrize("kind", KINDS)
async def test_headers_then_stall_times_out(kind: str, srv: LLMServer) -> None:
    srv.script([stall(text("never finished", chunks=4), after=2, seconds=4)])
    seen: list[Any] = []
    with trio.fail_after(3):
        with pytest.raises(ProviderTimeout) as info:
            async for event in provider_for(kind, srv, timeout=0.5).stream(conversation(), []):
                seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)]
    assert "timeout" in str(info.value) and "nothing of this reply was kept" in str(info.value)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_gzip_encoded_stream(kind: str, srv: LLMServer) -> None:
    srv.script([gzipped(tool_call("bash", {"command": "ls -l"}, id="c9", text="Looking."))])
    events = await collect(provider_for(kind, srv), conversation(), [BASH])
    assert calls_of(events) == [("c9", "bash", {"command": "ls -l"})]


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_reset_mid_stream(kind: str, srv: LLMServer) -> None:
    srv.script([reset(text("one two three four", chunks=4), after=3), text("second")])
    seen: list[Any] = []
    with pytest.raises(ProviderError) as info:
        async for event in provider_for(kind, srv).stream(conversation(), []):
            seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)]
    assert "nothing of this reply was kept" in str(info.value)
    assert len(srv.requests) == 1, "a reply cut mid-way is not retried"


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_reset_before_any_reply_is_retried(kind: str, srv: LLMServer) -> None:
    srv.script([reset(text("x"), after=0), text("second try")])
    events = await collect(provider_for(kind, srv), conversation(), [])
    assert done_of(events).message.content == "second try"
    assert len(srv.requests) == 2


# ------------------------------------------------------------------------------------------
# Structured mode


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "reply",
    [
        '\n\n  {"tool": "bash", "arguments": {"command": "df -h"}}\n',
        '```json\n{"tool": "bash", "arguments": {"command": "df -h"}}\n```',
        'Here is the call:\n```\n{"tool": "bash", "arguments": {"command": "df -h"}}\n```\nDone.',
        '<think>\nI need {disk} usage.\n</think>\n{"tool": "bash", "arguments": {"command": "df -h"}}',
        '{"tool": "bash", "arguments": "{\\"command\\": \\"df -h\\"}"}',
    ],
)
async def test_structured_reply_wrapping(kind: str, reply: str, srv: LLMServer) -> None:
    srv.script([text(reply, chunks=5)])
    events = await collect(provider_for(kind, srv, structured=True), conversation(), [BASH])
    (call,) = done_of(events).message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("bash", {"command": "df -h"})


async def test_structured_answer_in_fences(srv: LLMServer) -> None:
    srv.script([text('```json\n{"answer": "All good."}\n```')])
    events = await collect(provider_for("anthropic", srv, structured=True), conversation(), [BASH])
    assert done_of(events).message == Message("assistant", "All good.")


async def test_structured_cut_by_max_tokens(srv: LLMServer) -> None:
    srv.script([raw([oa({"content": '{"answer": "The disk is'}), oa({}, "length"), DONE])])
    with pytest.raises(ProviderError, match="max_tokens"):
        await collect(provider_for("openai", srv, structured=True), conversation(), [BASH])


def test_key_env_constant() -> None:
    assert KEY_ENV


@pytest.mark.parametrize("kind", KINDS)
async def test_event_stream_labelled_as_json(kind: str, srv: LLMServer) -> None:
    """A proxy that labels the event stream ``application/json``: still read as a stream."""
    if kind == "openai":
        blocks = [oa({"content": "stre"}), oa({"content": "am"}), oa({}, "stop"), DONE]
    else:
        blocks = [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "text", "text": "stream"}),
            an("content_block_stop", index=0),
            *an_end("end_turn"),
        ]
    events = await run(srv, kind, blocks, content_type="application/json")
    assert done_of(events).message.content == "stream"


async def test_malformed_json_body(srv: LLMServer) -> None:
    with pytest.raises(ProviderError, match="malformed JSON answer"):
        await run(srv, "openai", ['{"choices": [{"message": '], content_type="application/json", chunked=False)

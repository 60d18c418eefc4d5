"""OpenAI-compatible streams from proxies and smaller servers, spelled the way their source
emits them: LiteLLM, LocalAI, SGLang, text-generation-webui, and OpenAI's own newer chunk
fields. Each test names the file its shape comes from; helpers are shared with
test_stream7_openai.py (vLLM, llama.cpp, Ollama, TGI)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import done_of
from test_stream7_openai import run, sse
from test_stream_openai import fails, shown
from test_streams import DONE, calls_of

from llmserver import LLMServer


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


# ------------------------------------------------------------------------------------------
# LiteLLM proxy (litellm/types/utils.py Delta, ChatCompletionDeltaToolCall, streaming_handler.py)


def litellm(delta: dict[str, Any], finish: str | None = None) -> str:
    full = {"content": None, "role": None, "function_call": None, "tool_calls": None, "audio": None, "refusal": None,
            "provider_specific_fields": None, **delta}
    return sse({"id": "chatcmpl-5d1a", "created": 1764633600, "model": "gpt-4o-mini", "object": "chat.completion.chunk",
                "system_fingerprint": None, "choices": [{"finish_reason": finish, "index": 0, "delta": full, "logprobs": None}],
                "provider_specific_fields": None, "stream_options": None, "citations": None})


async def test_litellm_every_delta_field_present_and_null(srv: LLMServer) -> None:
    """LiteLLM's Delta serializes every field: ``"function_call": null`` beside the calls,
    ``"tool_calls": null`` beside text, and fragments with ``"id": null``, ``"name": null`` and
    ``"type": "function"`` repeated."""
    def frag(args: str, **fields: Any) -> dict[str, Any]:
        return {"id": None, "function": {"arguments": args, "name": None}, "type": "function", "index": 0, **fields}
    blocks = [
        litellm({"role": "assistant", "content": "Looking."}),
        litellm({"tool_calls": [{"id": "call_Zt3", "function": {"arguments": "", "name": "bash"}, "type": "function", "index": 0}]}),
        litellm({"tool_calls": [frag('{"comm')]}),
        litellm({"tool_calls": [frag('and": "ls -la /var/log"}')]}),
        litellm({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Looking."
    assert calls_of(events) == [("call_Zt3", "bash", {"command": "ls -la /var/log"})]


# ------------------------------------------------------------------------------------------
# LocalAI (core/http/endpoints/openai/chat.go)


def localai(delta: dict[str, Any], finish: str | None = None) -> str:
    """LocalAI writes ``json.Encoder`` output (a trailing newline) after ``data: `` and one more
    newline; ``usage`` is on every chunk."""
    body = json.dumps({"created": 1764633600, "object": "chat.completion.chunk", "id": "b7d4c0de-1f2a-4c3b-9d8e-0a1b2c3d4e5f",
                       "model": "hermes-2-pro", "choices": [{"index": 0, "finish_reason": finish, "delta": delta}],
                       "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}, separators=(",", ":"))
    return f"data: {body}\n\n"


async def test_localai_parallel_calls_share_the_request_id(srv: LLMServer) -> None:
    """processTools in older releases: each call is two chunks, the name (``index`` i) then the
    arguments (``index`` i, with the text content beside); every call's ``id`` is the
    *request's* uuid, so two calls share one id and differ only by index."""
    rid = "b7d4c0de-1f2a-4c3b-9d8e-0a1b2c3d4e5f"
    def call(i: int, name: str | None = None, args: str | None = None) -> dict[str, Any]:
        fn: dict[str, Any] = {}
        if name:
            fn["name"] = name
        if args is not None:
            fn["arguments"] = args
        return {"index": i, "id": rid, "type": "function", "function": fn}
    blocks = [
        localai({"role": "assistant", "tool_calls": [call(0, name="bash")]}),
        localai({"role": "assistant", "content": "", "tool_calls": [call(0, args='{"command":"uptime"}')]}),
        localai({"role": "assistant", "tool_calls": [call(1, name="read_file")]}),
        localai({"role": "assistant", "content": "", "tool_calls": [call(1, args='{"path":"/proc/loadavg"}')]}),
        localai({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, blocks)
    got = [(name, args) for _, name, args in calls_of(events)]
    assert got == [("bash", {"command": "uptime"}), ("read_file", {"path": "/proc/loadavg"})]


async def test_shared_id_across_indexes_second_spelling_whole_calls(srv: LLMServer) -> None:
    """The same class as current LocalAI spells it (chat_stream_workers.go
    ``emitJSONToolCallDeltas``: one chunk per whole call, ``Index: i``, ``ID: id``, the
    request's): index 0 and index 1 with one id are two calls, never one call with both
    argument objects glued together."""
    blocks = [
        localai({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "chatcmpl-1", "type": "function", "function": {"name": "bash", "arguments": '{"command":"df"}'}}]}),
        localai({"tool_calls": [
            {"index": 1, "id": "chatcmpl-1", "type": "function", "function": {"name": "bash", "arguments": '{"command":"free"}'}}]}),
        localai({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, blocks)
    assert [(n, a) for _, n, a in calls_of(events)] == [("bash", {"command": "df"}), ("bash", {"command": "free"})]
    assert len({i for i, _, _ in calls_of(events)}) == 2, "two calls need two ids for their results"


# ------------------------------------------------------------------------------------------
# SGLang (python/sglang/srt/entrypoints/openai/serving_chat.py)


def sglang(delta: dict[str, Any], finish: str | None = None, **choice: Any) -> str:
    return sse({"id": "9a1e6c", "object": "chat.completion.chunk", "created": 1764633600, "model": "qwen3",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish, "matched_stop": None, **choice}],
                "usage": None})


async def test_sglang_null_fields_and_held_back_arguments_before_the_finish(srv: LLMServer) -> None:
    """serving_chat.py ``_process_tool_call_stream``: ``model_dump_json()`` with every field, so
    continuations carry ``"id": null`` and ``"name": null`` (an id only with the name),
    ``"type": "function"`` everywhere, ``reasoning_content`` deltas; at the end
    ``_check_for_unstreamed_tool_args`` sends the arguments the parser held back in a chunk of
    their own (no finish), then the finish chunk with ``matched_stop``."""
    def frag(args: str, **head: Any) -> dict[str, Any]:
        return {"id": None, "index": 0, "type": "function", "function": {"name": None, "arguments": args}, **head}
    none = {"role": None, "content": None, "reasoning_content": None}
    blocks = [
        sglang({"role": "assistant", "content": "", "reasoning_content": None, "tool_calls": None}),
        sglang({**none, "reasoning_content": "Check the load.", "tool_calls": None}),
        sglang({**none, "tool_calls": [frag("", id="call_9c6f2f7e1b2a4c5d6e7f8a9b", function={"name": "bash", "arguments": ""})]}),
        sglang({**none, "tool_calls": [frag('{"command": "cat ')]}),
        sglang({**none, "tool_calls": [frag('/proc/loadavg"}')]}),
        sglang({**none, "tool_calls": None}, "tool_calls", matched_stop=151645),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == ""
    assert calls_of(events) == [("call_9c6f2f7e1b2a4c5d6e7f8a9b", "bash", {"command": "cat /proc/loadavg"})]


# ------------------------------------------------------------------------------------------
# text-generation-webui (extensions/openai/completions.py)


async def test_textgen_webui_message_and_delta_in_every_chunk(srv: LLMServer) -> None:
    """Older chat_streaming_chunk: "So yeah... do both methods? delta and messages." Every chunk
    carries the same piece as ``message`` and as ``delta``; the object is
    ``chat.completions.chunk``. The text must appear once."""
    def both(piece: str, finish: str | None = None) -> str:
        return sse({"id": "chatcmpl-1764633600", "object": "chat.completions.chunk", "created": 1764633600, "model": "Llama-3",
                    "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": piece},
                                 "delta": {"role": "assistant", "content": piece}}]})
    blocks = [both(""), both("All "), both("good."), both("", "stop"), DONE]
    events = await run(srv, blocks)
    assert shown(events) == "All good."
    assert done_of(events).message.content == "All good."


async def test_textgen_webui_calls_only_on_the_finish_chunk(srv: LLMServer) -> None:
    """Newer chat_streaming_chunk: tool markup is never streamed; the calls come whole in the
    last chunk, beside ``finish_reason: "tool_calls"``, each as parse_tool_call built it
    (``type`` first, then ``function``, ``id``, ``index``); include_usage sets ``"usage": null``
    and adds a usage chunk with ``choices: []``."""
    head = {"id": "chatcmpl-1764633600123", "object": "chat.completion.chunk", "created": 1764633600, "model": "Qwen3-8B", "system_fingerprint": None}
    blocks = [
        sse({**head, "choices": [{"index": 0, "finish_reason": None, "delta": {"role": "assistant", "refusal": None, "content": ""}, "logprobs": None}], "usage": None}),
        sse({**head, "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {"tool_calls": [
            {"type": "function", "function": {"name": "bash", "arguments": json.dumps({"command": "ls -la /var/log"})}, "id": "call_0a1b2c3d", "index": 0}]},
            "logprobs": None}], "usage": None}),
        sse({**head, "choices": [], "usage": {"prompt_tokens": 200, "completion_tokens": 25, "total_tokens": 225}}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert calls_of(events) == [("call_0a1b2c3d", "bash", {"command": "ls -la /var/log"})]


# ------------------------------------------------------------------------------------------
# OpenAI's own newer fields (openai-python types/chat/chat_completion_chunk.py)


def openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    head = {"id": "chatcmpl-CZ1", "object": "chat.completion.chunk", "created": 1764633600, "model": "gpt-4.1-mini-2025-04-14",
            "service_tier": "default", "system_fingerprint": "fp_6f2eabb9a5"}
    return sse({**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], "usage": None,
                "obfuscation": "Qx7", **extra})


async def test_openai_refusal_null_annotations_obfuscation_and_usage(srv: LLMServer) -> None:
    """``refusal: null`` and ``annotations: []`` in the first delta, ``obfuscation`` padding and
    ``service_tier`` on every chunk, ``usage: null`` until the include_usage chunk, which has
    token details."""
    blocks = [
        openai_chunk({"role": "assistant", "content": "", "refusal": None, "annotations": []}),
        openai_chunk({"content": "Uptime is 3 days."}),
        openai_chunk({}, "stop"),
        sse({"id": "chatcmpl-CZ1", "object": "chat.completion.chunk", "created": 1764633600, "model": "gpt-4.1-mini-2025-04-14",
             "service_tier": "default", "system_fingerprint": "fp_6f2eabb9a5", "choices": [],
             "usage": {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46,
                       "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
             "obfuscation": "kT0p"}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Uptime is 3 days."
    assert done_of(events).usage["total_tokens"] == 46


async def test_openai_audio_transcript_and_logprobs_are_not_calls(srv: LLMServer) -> None:
    """Audio output puts the words in ``delta.audio.transcript`` (content null); logprobs come
    as ``{"content": [...], "refusal": null}``. Neither is a tool call or breaks the reply."""
    blocks = [
        openai_chunk({"role": "assistant", "content": None, "refusal": None, "audio": {"id": "audio_1", "transcript": "", "expires_at": 1764637200}}),
        openai_chunk({"content": "Yes.", "audio": {"transcript": "Yes.", "data": "UklGRg=="}}),
        sse({"id": "chatcmpl-CZ1", "object": "chat.completion.chunk", "created": 1764633600, "model": "m",
             "choices": [{"index": 0, "delta": {"content": ""}, "logprobs": {"content": [{"token": "Yes", "logprob": -0.01, "bytes": [89, 101, 115], "top_logprobs": []}], "refusal": None}, "finish_reason": "stop"}]}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Yes."
    assert done_of(events).message.tool_calls == ()


@pytest.mark.parametrize("blocks", [
    [openai_chunk({"role": "assistant", "content": None, "refusal": ""}), openai_chunk({}, "content_filter"), DONE],
    [openai_chunk({"role": "assistant", "content": ""}), openai_chunk({"content": None}, "content_filter"), DONE],
], ids=["refusal-empty", "content-empty"])
async def test_content_filter_with_nothing_said_is_one_line(blocks: list[str], srv: LLMServer) -> None:
    """Azure/OpenAI ``finish_reason: "content_filter"`` before any word: not an empty answer
    (the person would see nothing and not know why), but one line saying the filter stopped it."""
    assert "content filter" in await fails(srv, "openai", blocks)


# ------------------------------------------------------------------------------------------
# llama-cpp-python's server (llama_cpp/llama_chat_format.py, llama_cpp/server/app.py)


def lcp(delta: dict[str, Any], finish: str | None = None) -> str:
    """app.py sends ``json.dumps(chunk)`` through sse_starlette, whose lines end in CRLF."""
    body = json.dumps({"id": "chatcmpl-4e1f", "object": "chat.completion.chunk", "created": 1764633600, "model": "qwen2.5-7b-instruct-q4_k_m.gguf",
                       "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "delta": delta}]})
    return f"data: {body}\r\n\r\n"


async def test_llama_cpp_python_function_call_mirrors_tool_calls(srv: LLMServer) -> None:
    """``_stream_response_to_function_stream``: every argument piece is sent twice in one delta,
    as the legacy ``function_call`` and as ``tool_calls[0]`` (name and id repeated on each);
    the call is read once, its arguments not doubled."""
    tool_id = "call__0_bash_cmpl-4e1f"
    def both(piece: str) -> dict[str, Any]:
        return {"role": None, "content": None, "function_call": {"name": "bash", "arguments": piece},
                "tool_calls": [{"index": 0, "id": tool_id, "type": "function", "function": {"name": "bash", "arguments": piece}}]}
    blocks = [
        lcp({"role": "assistant", "content": None, "function_call": None, "tool_calls": None}),
        *(lcp(both(p)) for p in ('{"command": "', "ls -la", ' /var/log"}')),
        lcp({"role": None, "content": None, "function_call": None, "tool_calls": None}, "tool_calls"),
        "data: [DONE]\r\n\r\n",
    ]
    events = await run(srv, blocks)
    assert calls_of(events) == [(tool_id, "bash", {"command": "ls -la /var/log"})]


async def test_llama_cpp_python_whole_message_with_both_spellings(srv: LLMServer) -> None:
    """The second spelling: chatml-function-calling's whole (non-streamed) message holds the
    call in ``tool_calls`` and, for a single call, again in ``function_call``; a server that
    answers so despite ``stream`` is read as one call."""
    message = {"role": "assistant", "content": None,
               "tool_calls": [{"id": "call__0_bash_cmpl-9", "type": "function", "function": {"name": "bash", "arguments": '{"command": "uptime"}'}}],
               "function_call": {"name": "bash", "arguments": '{"command": "uptime"}'}}
    body = json.dumps({"id": "chatcmpl-9", "object": "chat.completion", "created": 1764633600, "model": "m",
                       "choices": [{"finish_reason": "tool_calls", "index": 0, "logprobs": None, "message": message}],
                       "usage": {"completion_tokens": 9, "prompt_tokens": 80, "total_tokens": 89}})
    events = await run(srv, [body], content_type="application/json", chunked=False)
    assert calls_of(events) == [("call__0_bash_cmpl-9", "bash", {"command": "uptime"})]


@pytest.mark.parametrize("stream", [False, True], ids=["whole-message", "one-delta"])
async def test_localai_same_id_without_index_two_whole_calls(stream: bool, srv: LLMServer) -> None:
    """chat.go's non-streamed branch condenses the calls into one choice, each ``schema.ToolCall``
    with ``ID: id`` (the request's) and no index; read whole, or as one delta carrying both:
    two different whole calls under one id are two calls, never one glued argument string."""
    rid = "0f6a2b1c-5d4e-4f3a-8b9c-7d6e5f4a3b2c"
    calls = [{"id": rid, "type": "function", "function": {"name": "bash", "arguments": '{"command":"uptime"}'}},
             {"id": rid, "type": "function", "function": {"name": "read_file", "arguments": '{"path":"/etc/hostname"}'}}]
    if stream:
        blocks = [localai({"role": "assistant", "content": "", "tool_calls": calls}), localai({}, "tool_calls"), DONE]
        events = await run(srv, blocks)
    else:
        body = json.dumps({"created": 1764633600, "object": "chat.completion", "id": rid, "model": "hermes-2-pro",
                           "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "", "tool_calls": calls}}],
                           "usage": {"prompt_tokens": 60, "completion_tokens": 20, "total_tokens": 80}})
        events = await run(srv, [body], content_type="application/json", chunked=False)
    got = calls_of(events)
    assert [(n, a) for _, n, a in got] == [("bash", {"command": "uptime"}), ("read_file", {"path": "/etc/hostname"})]
    assert got[0][0] != got[1][0]

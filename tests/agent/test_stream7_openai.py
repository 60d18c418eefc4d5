"""OpenAI-compatible streams spelled the way real servers emit them, taken from their source:
vLLM, llama.cpp's server, Ollama, Hugging Face TGI, LiteLLM, LocalAI, SGLang,
text-generation-webui, and OpenAI's own newer chunk fields. Each test names the file its shape
comes from; the bytes are replayed verbatim by the scripted server on 127.0.0.1 against the real
provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_openai import fails, one_line, shown
from test_streams import DONE, calls_of

from aios.agent import ToolCallStarted
from aios.errors import ProviderError
from llmserver import LLMServer, error, raw


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def sse(obj: Any) -> str:
    """One event as the server writes it (compact JSON, as Go's and nlohmann's encoders do)."""
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def chunk(delta: dict[str, Any] | None, finish: str | None = None, *, head: dict[str, Any] | None = None,
          choice: dict[str, Any] | None = None, **extra: Any) -> str:
    """A chat.completion.chunk with ``head`` fields first, one choice (``choice`` adds fields to
    it; ``delta=None`` leaves the delta out) and ``extra`` top-level fields after it."""
    ch: dict[str, Any] = {"index": 0}
    if delta is not None:
        ch["delta"] = delta
    ch.update(choice or {})
    ch.setdefault("finish_reason", finish)
    base = head if head is not None else {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1764633600, "model": "m"}
    return sse({**base, "choices": [ch], **extra})


async def run(srv: LLMServer, blocks: list[str], **kw: Any) -> list[Any]:
    srv.script([raw(blocks, **kw)])
    return await collect(provider_for("openai", srv), conversation(), [BASH, READ])


LS = '{"command": "ls -la /var/log"}'


# ------------------------------------------------------------------------------------------
# vLLM (vllm/entrypoints/openai/chat_completion/serving.py, vllm/tool_parsers/*)


VLLM = {"id": "chatcmpl-b6e1", "object": "chat.completion.chunk", "created": 1764633600, "model": "Qwen/Qwen2.5-7B-Instruct"}


async def test_vllm_hermes_content_and_two_entries_for_one_index_in_one_delta(srv: LLMServer) -> None:
    """vLLM's hermes parser (hermes_tool_parser.py): one DeltaMessage carries the text before
    ``<tool_call>`` *and* two entries for index 0, the name (``function`` without
    ``arguments``) then the first argument diff; text-only deltas carry ``"tool_calls": []``,
    argument deltas ``"content": null`` (``model_dump_json(exclude_unset=True)``); the last
    argument diff rides on the finish chunk, with ``stop_reason`` beside ``finish_reason``."""
    blocks = [
        chunk({"role": "assistant", "content": ""}, head=VLLM, choice={"logprobs": None}),
        chunk({"content": "Let me look.", "tool_calls": []}, head=VLLM),
        chunk({"content": None, "tool_calls": [
            {"id": "chatcmpl-tool-9f2c", "type": "function", "index": 0, "function": {"name": "bash"}},
            {"index": 0, "function": {"arguments": '{"command": "ls'}},
        ]}, head=VLLM),
        chunk({"content": None, "tool_calls": [{"index": 0, "function": {"arguments": " -la /var/log"}}]}, head=VLLM),
        chunk({"content": None, "tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]}, "tool_calls",
              head=VLLM, choice={"stop_reason": None}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Let me look."
    assert calls_of(events) == [("chatcmpl-tool-9f2c", "bash", {"command": "ls -la /var/log"})]


async def test_vllm_parallel_calls_next_name_in_the_same_delta(srv: LLMServer) -> None:
    """vLLM re-parses the whole text per token, so one delta can end call 0's arguments and
    start call 1 (name entry and first arguments); the stop token id is ``stop_reason``."""
    blocks = [
        chunk({"role": "assistant", "content": ""}, head=VLLM),
        chunk({"tool_calls": [{"id": "chatcmpl-tool-a", "type": "function", "index": 0, "function": {"name": "bash"}},
                              {"index": 0, "function": {"arguments": '{"command": "df -h"'}}]}, head=VLLM),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "}"}},
                              {"id": "chatcmpl-tool-b", "type": "function", "index": 1, "function": {"name": "read_file"}},
                              {"index": 1, "function": {"arguments": '{"path": '}}]}, head=VLLM),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"/etc/fstab"}'}}]}, "tool_calls",
              head=VLLM, choice={"stop_reason": 151645}),
        sse({**VLLM, "choices": [], "usage": {"prompt_tokens": 310, "total_tokens": 352, "completion_tokens": 42}}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert calls_of(events) == [("chatcmpl-tool-a", "bash", {"command": "df -h"}), ("chatcmpl-tool-b", "read_file", {"path": "/etc/fstab"})]
    assert done_of(events).usage["completion_tokens"] == 42


@pytest.mark.parametrize("error", [
    {"error": {"message": "Internal server error", "type": "InternalServerError", "param": None, "code": 500}},
    {"error": {"object": "error", "message": "The model ran out of KV cache", "type": "BadRequestError", "param": None, "code": 400}},
])
async def test_vllm_error_after_half_a_call_then_done(error: dict[str, Any], srv: LLMServer) -> None:
    """vLLM's generator catches a GenerationError or any exception mid-stream, yields
    ``create_streaming_error_response`` (``{"error": {...}}``, older versions with
    ``"object": "error"`` inside) and still ends with ``data: [DONE]``."""
    blocks = [
        chunk({"role": "assistant", "content": ""}, head=VLLM),
        chunk({"tool_calls": [{"id": "chatcmpl-tool-a", "type": "function", "index": 0, "function": {"name": "bash"}},
                              {"index": 0, "function": {"arguments": '{"command": "rm -rf /tmp/bu'}}]}, head=VLLM),
        sse(error),
        DONE,
    ]
    message = await fails(srv, "openai", blocks)
    assert error["error"]["message"] in message


async def test_vllm_continuous_usage_on_every_chunk(srv: LLMServer) -> None:
    """``stream_options: {include_usage, continuous_usage_stats}``: ``usage`` on every chunk,
    then a last usage chunk with ``choices: []``."""
    def u(n: int) -> dict[str, int]:
        return {"prompt_tokens": 20, "total_tokens": 20 + n, "completion_tokens": n}
    blocks = [
        chunk({"role": "assistant", "content": ""}, head=VLLM, usage=u(0)),
        chunk({"content": "Disk is "}, head=VLLM, usage=u(2)),
        chunk({"content": "fine."}, head=VLLM, usage=u(3)),
        chunk({"content": ""}, "stop", head=VLLM, choice={"stop_reason": None}, usage=u(4)),
        sse({**VLLM, "choices": [], "usage": u(4)}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == "Disk is fine."
    assert done_of(events).usage["completion_tokens"] == 4


# ------------------------------------------------------------------------------------------
# llama.cpp server (tools/server/server-task.cpp, common/chat.cpp)


LLAMA = {"created": 1764633600, "id": "chatcmpl-Xq3", "model": "gpt-3.5-turbo", "system_fingerprint": "b7200-2f8e1c", "object": "chat.completion.chunk"}


def llama(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    """llama.cpp puts ``choices`` first and ``finish_reason`` before ``delta``."""
    return sse({"choices": [{"finish_reason": finish, "index": 0, "delta": delta}], **LLAMA, **extra})


async def test_llamacpp_diffs_reasoning_then_call(srv: LLMServer) -> None:
    """``common_chat_msg_diff_to_json_oaicompat``: one diff per chunk; a tool call diff always has
    ``function.arguments`` (``""`` with the name), ``id`` and ``type`` only when the id is new;
    the first chunk is ``{"role": "assistant", "content": null}``; the finish chunk has an
    empty delta and ``timings``, then a usage chunk with ``choices: []``."""
    blocks = [
        llama({"role": "assistant", "content": None}),
        llama({"reasoning_content": "The user wants the log dir."}),
        llama({"reasoning_content": " I will list it."}),
        llama({"tool_calls": [{"index": 0, "id": "Jq2cF8mXvA1lB0tY", "type": "function", "function": {"name": "bash", "arguments": ""}}]}),
        llama({"tool_calls": [{"index": 0, "function": {"arguments": '{"command":"'}}]}),
        llama({"tool_calls": [{"index": 0, "function": {"arguments": 'ls -la /var/log"}'}}]}),
        llama({}, "tool_calls", timings={"prompt_n": 120, "predicted_n": 31}),
        sse({"choices": [], **LLAMA, "usage": {"completion_tokens": 31, "prompt_tokens": 120, "total_tokens": 151}}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == ""
    assert calls_of(events) == [("Jq2cF8mXvA1lB0tY", "bash", {"command": "ls -la /var/log"})]
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [ToolCallStarted("Jq2cF8mXvA1lB0tY", "bash")]


async def test_llamacpp_error_object_mid_stream(srv: LLMServer) -> None:
    """server-context.cpp: an error result while streaming is ``format_oai_sse({"error": ...})``
    with ``format_error_response``'s ``{"code", "message", "type"}``, and the stream ends."""
    blocks = [
        llama({"role": "assistant", "content": None}),
        llama({"content": "Checking"}),
        sse({"error": {"code": 500, "message": "the request exceeds the available context size", "type": "exceed_context_size_error"}}),
    ]
    assert "context size" in await fails(srv, "openai", blocks)


@pytest.mark.parametrize("pieces", [
    ["<|channel|>", "analysis<|message|>The user wants the uptime.", "<|end|><|start|>assistant<|channel|>final<|message|>", "Up 3 ", "days."],
    ["<|channel|>analysis<|message|>Plan: answer.<|start|>assistant", "<|channel|>final<|message|>Up 3 days."],
    list("<|channel|>analysis<|message|>One token at a time.<|end|><|start|>assistant<|channel|>final<|message|>Up 3 days."),
    list("<think>The same class with DeepSeek's tags, one token at a time.</think>\n\nUp 3 days."),
], ids=["with-end", "end-stripped", "per-character", "think-per-character"])
async def test_llamacpp_gpt_oss_harmony_reasoning_in_content(pieces: list[str], srv: LLMServer) -> None:
    """common/chat.cpp common_chat_parse_gpt_oss: reasoning is what lies between
    ``<|channel|>analysis<|message|>`` and ``<|start|>assistant<|channel|>final<|message|>``;
    with ``--reasoning-format none`` (or a build without the gpt-oss parser) all of it stays in
    ``content``, the ``<|end|>`` sometimes stripped. Only the final channel is the answer."""
    blocks = [llama({"role": "assistant", "content": None}), *(llama({"content": p}) for p in pieces), llama({}, "stop"), DONE]
    events = await run(srv, blocks)
    assert shown(events) == "Up 3 days."
    assert done_of(events).message.content == "Up 3 days."


# ------------------------------------------------------------------------------------------
# Ollama (openai/openai.go, middleware/openai.go)


def ollama(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    head = {"id": "chatcmpl-412", "object": "chat.completion.chunk", "created": 1764633600, "model": "qwen3:8b", "system_fingerprint": "fp_ollama"}
    return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


async def test_ollama_thinking_split_from_the_calls_then_finish_and_usage(srv: LLMServer) -> None:
    """``ToStreamChunks``: a response with thinking and tool calls becomes two chunks (the
    ``reasoning`` one first); calls come whole with their own ``index`` and arguments as a
    string; ``FinishChunk`` sends ``delta: {}`` with ``tool_calls``; include_usage adds a chunk
    with ``choices: []``."""
    blocks = [
        ollama({"role": "assistant", "content": "", "reasoning": "Need two things."}),
        ollama({"content": "", "tool_calls": [
            {"id": "call_k2x9", "index": 0, "type": "function", "function": {"name": "bash", "arguments": '{"command":"uptime"}'}},
            {"id": "call_p0q1", "index": 1, "type": "function", "function": {"name": "read_file", "arguments": '{"path":"/etc/os-release"}'}},
        ]}),
        ollama({}, "tool_calls"),
        sse({"id": "chatcmpl-412", "object": "chat.completion.chunk", "created": 1764633600, "model": "qwen3:8b",
             "system_fingerprint": "fp_ollama", "choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 40, "total_tokens": 130}}),
        DONE,
    ]
    events = await run(srv, blocks)
    assert shown(events) == ""
    assert calls_of(events) == [("call_k2x9", "bash", {"command": "uptime"}), ("call_p0q1", "read_file", {"path": "/etc/os-release"})]


async def test_ollama_error_after_200_ends_without_finish(srv: LLMServer) -> None:
    """server/routes.go streamResponse writes ``{"error": "..."}`` once headers are out; the
    OpenAI ChatWriter decodes it as an empty ChatResponse (one chunk with ``"content": ""``)
    and the body just ends: no finish, no ``[DONE]``. The half-received call is not kept."""
    blocks = [
        ollama({"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "index": 0, "type": "function", "function": {"name": "bash", "arguments": '{"command":"ls"}'}}]}),
        ollama({"content": ""}),
    ]
    assert "cut" in await fails(srv, "openai", blocks)


# ------------------------------------------------------------------------------------------
# Hugging Face TGI (router/src/chat.rs, router/src/lib.rs, router/src/server.rs)


def tgi(delta: dict[str, Any], finish: str | None = None) -> str:
    """ChatCompletionChunk has no ``object``; ``id`` is empty; ``usage`` is null; every delta
    repeats ``role``."""
    return sse({"id": "", "created": 1764633600, "model": "meta-llama/Llama-3.1-8B-Instruct", "system_fingerprint": "3.3.6-native",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], "usage": None})


def tgi_call(args: str, name: str | None = None) -> dict[str, Any]:
    return {"role": "assistant", "tool_calls": [{"index": 0, "id": "0", "type": "function", "function": {"name": name, "arguments": args}}]}


@pytest.mark.parametrize("finish", [None, "eos_token"])
async def test_tgi_tool_call_every_fragment_same_id_name_null(finish: str | None, srv: LLMServer) -> None:
    """ChatState::push: the first fragment is ``"{"`` with the name, later ones ``"name": null``,
    every one with ``index`` 0, ``id`` "0" and ``type``; the closing brace of the wrapper is
    trimmed from the last. The eos token is special, so the stream may end with ``[DONE]``
    and no finish at all, or with ``eos_token``."""
    pieces = [' "command"', ":", ' "ls -la /var/log"', "}", ""]
    blocks = [tgi(tgi_call("{", "bash"))] + [tgi(tgi_call(p)) for p in pieces]
    if finish:
        blocks.append(tgi({"role": "assistant", "content": ""}, finish))
    events = await run(srv, [*blocks, DONE])
    assert calls_of(events) == [("0", "bash", {"command": "ls -la /var/log"})]


async def test_tgi_error_event(srv: LLMServer) -> None:
    """server.rs ``impl From<InferError> for Event``: ``{"error": "...", "error_type": "..."}``."""
    blocks = [tgi({"role": "assistant", "content": "The"}), sse({"error": "Request failed during generation: Server error: CUDA out of memory", "error_type": "generation"})]
    assert "CUDA out of memory" in await fails(srv, "openai", blocks)


@pytest.mark.parametrize("message", [
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 3900 `inputs` tokens and 256 `max_new_tokens`",
    "Input validation error: `inputs` must have less than 4096 tokens. Given: 5120",
])
async def test_tgi_context_overflow_is_named(message: str, srv: LLMServer) -> None:
    """router/src/validation.rs ValidationError (``Input validation error: ...``), sent by
    server.rs as a 422 ``{"error", "error_type": "validation"}``: the conversation is too long,
    and the line says what to lower."""
    srv.script([error(422, body={"error": message, "error_type": "validation"})])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for("openai", srv), conversation(), [BASH, READ])
    assert "llm.context_budget" in one_line(info.value)


# ------------------------------------------------------------------------------------------
# Servers started without tool calling: the refusal says what to change, at once


@pytest.mark.parametrize(("status", "body"), [
    # vllm/entrypoints/openai/chat_completion/serving.py, a server without the two flags
    (400, {"error": {"message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
                     "type": "BadRequestError", "param": None, "code": 400}}),
    # llama.cpp tools/server utils (oaicompat_chat_params_parse), a server without --jinja: a 500
    (500, {"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}}),
    # the same file in older builds, which could not stream tool calls at all
    (500, {"error": {"code": 500, "message": "Cannot use tools with stream", "type": "server_error"}}),
], ids=["vllm-auto-tool-choice", "llamacpp-jinja", "llamacpp-stream"])
async def test_server_without_tool_calling_is_one_line_with_the_fix(status: int, body: dict[str, Any], srv: LLMServer) -> None:
    """The refusal names structured output (which sends no tools) and is not retried: a 500
    that says the server lacks a flag will say it again."""
    srv.script([error(status, body=body), error(status, body=body), error(status, body=body)])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for("openai", srv, retries=2), conversation(), [BASH, READ])
    message = one_line(info.value)
    assert "structured_output" in message and body["error"]["message"] in message
    assert len(srv.requests) == 1, "a deterministic refusal is not retried"

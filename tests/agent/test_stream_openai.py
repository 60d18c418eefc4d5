"""OpenAI-compatible chunk shapes from the servers people run (OpenAI, vLLM, llama.cpp, Ollama,
LM Studio, OpenRouter, Groq, Together, DeepSeek, Mistral, Azure), spelled from their wire formats
and replayed verbatim against the real provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_streams import DONE, calls_of, oa, run

from aios.agent import Done, TextDelta, ToolCall, ToolCallStarted
from aios.errors import ProviderError
from llmserver import LLMServer, error, raw, split, text


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def tc(index: int | None = 0, *, id: str | None = None, name: str | None = None, args: Any = None, type: str | None = None) -> dict[str, Any]:
    """One ``tool_calls`` entry of a delta with only the given keys."""
    entry: dict[str, Any] = {}
    if index is not None:
        entry["index"] = index
    if id is not None:
        entry["id"] = id
    if type is not None:
        entry["type"] = type
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    if function:
        entry["function"] = function
    return entry


def calls(*entries: dict[str, Any]) -> str:
    return oa({"tool_calls": list(entries)})


def shown(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message and "Traceback" not in message
    return message


async def fails(srv: LLMServer, kind: str, blocks: list[str], match: str | None = None) -> str:
    """Replay ``blocks``: the stream must end in one ProviderError line and hand back no
    finished message (so no tool call can run). Returns the message."""
    srv.script([raw(blocks)])
    seen: list[Any] = []
    with pytest.raises(ProviderError, match=match) as info:
        async for event in provider_for(kind, srv).stream(conversation(), [BASH, READ]):
            seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)], seen
    return one_line(info.value)


# ------------------------------------------------------------------------------------------
# Tool calls assembled from fragments


async def test_id_name_and_arguments_each_in_their_own_chunks(srv: LLMServer) -> None:
    """Arguments cut one character at a time, so cuts fall inside strings and escapes."""
    args = json.dumps({"command": 'printf "%s\\n" "caf\u00e9 \\"quoted\\"" | tee /tmp/o'})
    assert "\\u00e9" in args and '\\"' in args
    blocks = [oa({"role": "assistant", "content": None}), calls(tc(0, id="call_1")), calls(tc(0, type="function")), calls(tc(0, name="bash"))]
    blocks += [calls(tc(0, args=c)) for c in args]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    assert calls_of(events) == [("call_1", "bash", json.loads(args))]


async def test_parallel_calls_interleaved_by_index(srv: LLMServer) -> None:
    a = split(json.dumps({"command": "df -h"}), 4)
    b = split(json.dumps({"path": "/etc/hostname"}), 4)
    blocks = [calls(tc(0, id="a", type="function", name="bash", args="")), calls(tc(1, id="b", type="function", name="read_file", args=""))]
    for x, y in zip(a, b, strict=True):
        blocks += [calls(tc(1, args=y)), calls(tc(0, args=x))]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    assert calls_of(events) == [("a", "bash", {"command": "df -h"}), ("b", "read_file", {"path": "/etc/hostname"})]


async def test_two_calls_in_one_delta(srv: LLMServer) -> None:
    """Both calls' fragments in the same ``tool_calls`` list of one chunk."""
    blocks = [
        calls(tc(0, id="a", name="bash", args='{"comm'), tc(1, id="b", name="bash", args='{"command"')),
        calls(tc(0, args='and": "id"}'), tc(1, args=': "uname -a"}')),
        oa({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert calls_of(events) == [("a", "bash", {"command": "id"}), ("b", "bash", {"command": "uname -a"})]


@pytest.mark.parametrize("indexes", [(1, 2), (1, 3), (0, 2), (5, 1)])
async def test_indexes_that_start_at_1_skip_or_go_down(indexes: tuple[int, int], srv: LLMServer) -> None:
    """No phantom empty call for an index nobody sent; calls keep the order they came in."""
    i, j = indexes
    blocks = [
        calls(tc(i, id="a", type="function", name="bash", args='{"command": ')),
        calls(tc(i, args='"who"}')),
        calls(tc(j, id="b", type="function", name="read_file", args='{"path": "/x"}')),
        oa({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert calls_of(events) == [("a", "bash", {"command": "who"}), ("b", "read_file", {"path": "/x"})]


async def test_id_type_and_name_repeated_on_every_chunk(srv: LLMServer) -> None:
    """Some servers repeat id, type and the whole name with each fragment: the name is not
    doubled ("bashbash") and it stays one call."""
    args = json.dumps({"command": "ls -la /var"})
    blocks = [calls(tc(0, id="c1", type="function", name="bash", args=p)) for p in split(args, 5)]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    assert calls_of(events) == [("c1", "bash", {"command": "ls -la /var"})]
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [ToolCallStarted("c1", "bash")]


async def test_name_repeated_without_index_or_id_after_the_first(srv: LLMServer) -> None:
    """Second spelling: no index at all, id only first, the name again with every piece."""
    args = json.dumps({"path": "/etc/os-release"})
    blocks = [calls({"id": "r1", "function": {"name": "read_file", "arguments": ""}})]
    blocks += [calls({"function": {"name": "read_file", "arguments": p}}) for p in split(args, 4)]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    assert calls_of(events) == [("r1", "read_file", {"path": "/etc/os-release"})]


async def test_name_split_across_chunks(srv: LLMServer) -> None:
    blocks = [calls(tc(0, id="c1", name="read_")), calls(tc(0, name="file")), calls(tc(0, args='{"path": "/x"}')), oa({}, "tool_calls"), DONE]
    events = await run(srv, "openai", blocks)
    assert calls_of(events) == [("c1", "read_file", {"path": "/x"})]


async def test_id_only_on_the_first_chunk_and_type_missing(srv: LLMServer) -> None:
    blocks = [calls(tc(0, id="c7", name="bash")), calls(tc(0, args='{"command"')), calls(tc(0, args=': "w"}')), oa({}, "tool_calls"), DONE]
    events = await run(srv, "openai", blocks)
    assert calls_of(events) == [("c7", "bash", {"command": "w"})]


async def test_call_without_any_id_gets_one(srv: LLMServer) -> None:
    """Some local servers send no id at all: the call still gets a unique, non-empty id."""
    blocks = [calls(tc(0, name="bash", args='{"command": "a"}')), calls(tc(1, name="bash", args='{"command": "b"}')), oa({}, "tool_calls"), DONE]
    (first, second) = done_of(await run(srv, "openai", blocks)).message.tool_calls
    assert first.id and second.id and first.id != second.id
    assert [json.loads(c.arguments) for c in (first, second)] == [{"command": "a"}, {"command": "b"}]


# ------------------------------------------------------------------------------------------
# Argument spellings


@pytest.mark.parametrize(
    "fragments",
    [
        [{"command": "uptime"}],  # one whole object, not a string
        ["", {"command": "uptime"}],  # an empty string first, then the object
        [{"command": "uptime"}, ""],  # the object, then an empty string
    ],
)
async def test_arguments_as_an_object(fragments: list[Any], srv: LLMServer) -> None:
    blocks = [calls(tc(0, id="c1", name="bash", args=f)) for f in fragments]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    assert calls_of(events) == [("c1", "bash", {"command": "uptime"})]


@pytest.mark.parametrize("fragments", [[""], ["", ""], [None], [" "], ["{}"], ["", "{}"]])
async def test_no_arguments_mean_an_empty_object(fragments: list[Any], srv: LLMServer) -> None:
    blocks = [calls(tc(0, id="c1", name="bash", args=f)) if f is not None else calls(tc(0, id="c1", name="bash")) for f in fragments]
    events = await run(srv, "openai", [*blocks, oa({}, "tool_calls"), DONE])
    (call,) = done_of(events).message.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == ("c1", "bash", {})


async def test_whole_call_and_finish_in_one_chunk(srv: LLMServer) -> None:
    """Groq and Mistral send the complete call, and the finish, in a single chunk."""
    chunk = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [tc(0, id="g1", type="function", name="bash", args='{"command": "free -m"}')]}, "finish_reason": "tool_calls"}]}
    events = await run(srv, "openai", [f"data: {json.dumps(chunk)}\n\n", DONE])
    assert calls_of(events) == [("g1", "bash", {"command": "free -m"})]


# ------------------------------------------------------------------------------------------
# Finish reasons


async def test_legacy_function_call_in_one_chunk_finish_stop(srv: LLMServer) -> None:
    blocks = [oa({"role": "assistant", "function_call": {"name": "bash", "arguments": '{"command": "id"}'}}), oa({}, "stop"), DONE]
    (call,) = done_of(await run(srv, "openai", blocks)).message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("bash", {"command": "id"}) and call.id


async def test_legacy_function_call_name_repeated(srv: LLMServer) -> None:
    blocks = [oa({"function_call": {"name": "bash", "arguments": p}}) for p in split('{"command": "pwd"}', 3)]
    (call,) = done_of(await run(srv, "openai", [*blocks, oa({}, "function_call"), DONE])).message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("bash", {"command": "pwd"})


@pytest.mark.parametrize("finish", ["length", "content_filter"])
async def test_cut_tool_call_is_not_returned(finish: str, srv: LLMServer) -> None:
    """A reply cut short inside the arguments: one clear line, and no call handed back."""
    blocks = [calls(tc(0, id="c1", name="bash", args='{"command": "rm -rf /tmp/build')), oa({}, finish), DONE]
    await fails(srv, "openai", blocks)


async def test_length_after_complete_text_keeps_the_text_and_says_so(srv: LLMServer) -> None:
    events = await run(srv, "openai", [oa({"content": "The disk is 42"}), oa({}, "length"), DONE])
    done = done_of(events)
    assert done.message.content == "The disk is 42" and done.finish_reason == "length"


@pytest.mark.parametrize("finish", ["eos", "end_turn", "stop_sequence", "STOP"])
async def test_unknown_finish_reasons_end_a_text_answer(finish: str, srv: LLMServer) -> None:
    events = await run(srv, "openai", [oa({"content": "fine"}), oa({}, finish), DONE])
    assert done_of(events).message.content == "fine"


async def test_tool_calls_finish_with_text_only_is_an_answer(srv: LLMServer) -> None:
    events = await run(srv, "openai", [oa({"content": "Nothing to run."}), oa({}, "tool_calls"), DONE])
    assert done_of(events).message.content == "Nothing to run." and not done_of(events).message.tool_calls


# ------------------------------------------------------------------------------------------
# Chunks that carry no answer


async def test_role_only_first_chunk_and_empty_deltas(srv: LLMServer) -> None:
    blocks = [
        oa({"role": "assistant"}),
        oa({}),
        'data: {"choices": [{"index": 0, "finish_reason": null}]}\n\n',
        'data: {"choices": [{"index": 0, "delta": null, "finish_reason": null}]}\n\n',
        oa({"content": "hi"}),
        oa({"content": None}),
        oa({}, "stop"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert shown(events) == "hi" and done_of(events).message.content == "hi"


async def test_azure_prompt_filter_first_chunk(srv: LLMServer) -> None:
    """Azure OpenAI opens with ``choices: []`` and ``prompt_filter_results``."""
    first = {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    blocks = [f"data: {json.dumps(first)}\n\n", oa({"content": "az"}), oa({}, "stop"), DONE]
    assert done_of(await run(srv, "openai", blocks)).message.content == "az"


async def test_usage_inside_the_finish_chunk(srv: LLMServer) -> None:
    """Groq and some llama.cpp builds put ``usage`` (or ``x_groq.usage``) in the last choice chunk."""
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    blocks = [oa({"content": "u"}), oa({}, "stop", usage=usage), DONE]
    done = done_of(await run(srv, "openai", blocks))
    assert done.message.content == "u" and done.usage["total_tokens"] == 11


async def test_content_null_beside_tool_calls(srv: LLMServer) -> None:
    blocks = [oa({"role": "assistant", "content": None, "tool_calls": [tc(0, id="c1", name="bash", args="")]}), oa({"content": None, "tool_calls": [tc(0, args='{"command": "ls"}')]}), oa({}, "tool_calls"), DONE]
    events = await run(srv, "openai", blocks)
    assert shown(events) == "" and done_of(events).message.content == ""
    assert done_of(events).message.tool_calls == (ToolCall("c1", "bash", '{"command": "ls"}'),)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
async def test_reasoning_before_a_tool_call_is_not_shown(field: str, srv: LLMServer) -> None:
    blocks = [
        oa({"role": "assistant", field: "I will list"}),
        oa({field: " the files.", "reasoning_details": [{"type": "reasoning.text", "text": "x"}]}),
        calls(tc(0, id="c1", name="bash", args='{"command": "ls"}')),
        oa({}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert shown(events) == "" and done_of(events).message.content == ""
    assert calls_of(events) == [("c1", "bash", {"command": "ls"})]


async def test_message_instead_of_delta(srv: LLMServer) -> None:
    """A proxy that streams one chunk holding a whole ``message`` instead of a ``delta``."""
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole", "tool_calls": [tc(None, id="m1", type="function", name="bash", args='{"command": "id"}')]}, "finish_reason": "tool_calls"}]}
    events = await run(srv, "openai", [f"data: {json.dumps(chunk)}\n\n", DONE])
    assert done_of(events).message.content == "whole"
    assert calls_of(events) == [("m1", "bash", {"command": "id"})]


# ------------------------------------------------------------------------------------------
# Errors inside a 200 stream


@pytest.mark.parametrize(
    "chunk",
    [
        {"error": "Input validation error: inputs tokens + max_new_tokens must be <= 4096", "error_type": "validation"},  # TGI
        {"object": "error", "message": "Input validation error: too long", "type": "BadRequestError", "param": None, "code": 400},  # vLLM
        {"id": "x", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}], "error": {"code": 502, "message": "Input validation error: upstream"}},  # OpenRouter
    ],
)
async def test_error_spellings_mid_stream(chunk: dict[str, Any], srv: LLMServer) -> None:
    blocks = [oa({"content": "par"}), calls(tc(0, id="c1", name="bash", args='{"command": "ls"}')), f"data: {json.dumps(chunk)}\n\n", DONE]
    assert "{" not in await fails(srv, "openai", blocks, "Input validation error")


async def test_finish_reason_error_without_an_error_object(srv: LLMServer) -> None:
    await fails(srv, "openai", [oa({"content": "par"}), oa({}, "error"), DONE])


async def test_error_event_type(srv: LLMServer) -> None:
    """``event: error`` with a JSON body, as some gateways send it."""
    await fails(srv, "openai", [oa({"content": "a"}), 'event: error\ndata: {"message": "gateway timeout upstream"}\n\n'], "gateway timeout upstream")


# ------------------------------------------------------------------------------------------
# Streams that stop early


@pytest.mark.parametrize(
    "blocks",
    [
        [calls(tc(0, id="c1", name="bash", args='{"command": "rm -rf /tmp/bu'))],  # mid-string
        [calls(tc(0, id="c1", name="bash", args='{"command": "ls"}'))],  # complete JSON, no end
        [oa({"content": "half an ans"})],  # text, no end
    ],
)
async def test_clean_close_without_finish_or_done(blocks: list[str], srv: LLMServer) -> None:
    """The body ends properly (HTTP-wise) but the model never finished: nothing is handed on."""
    await fails(srv, "openai", blocks)


# ------------------------------------------------------------------------------------------
# HTTP errors


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (403, "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>\n<body><h1>Sorry, you have been blocked</h1></body></html>", "403"),
        (404, "<html><body><h1>404 Not Found</h1>\n<p>The requested URL was not found.</p></body></html>", "404"),
        (400, "Bad Request: invalid JSON in body\n", "invalid JSON"),
        (500, "", "500"),
        (500, {"error": {"message": "CUDA out of memory", "type": "server_error"}}, "CUDA out of memory"),
        (503, {"error": {"message": "Model is loading", "code": 503}}, "Model is loading"),
    ],
)
async def test_http_error_bodies_are_one_line(status: int, body: Any, words: str, srv: LLMServer) -> None:
    srv.script([error(status, body=body)])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for("openai", srv, retries=0), conversation(), [BASH])
    message = one_line(info.value)
    assert words in message and "<" not in message, message
    if isinstance(body, str) and "<html" in body.lower():
        assert "key" not in message, "an HTML page is a proxy or a wrong URL, not a refused key"


async def test_503_retry_after_seconds_then_success(srv: LLMServer) -> None:
    srv.script([error(503, body="<html>busy</html>", headers={"Retry-After": "1"}), text("back")])
    events = await collect(provider_for("openai", srv), conversation(), [])
    assert done_of(events).message.content == "back" and len(srv.requests) == 2


async def test_429_retry_after_ms(srv: LLMServer) -> None:
    """OpenAI also sends ``retry-after-ms``."""
    srv.script([error(429, headers={"retry-after-ms": "300"}), text("later")])
    events = await collect(provider_for("openai", srv), conversation(), [])
    assert done_of(events).message.content == "later" and len(srv.requests) == 2


async def test_json_body_instead_of_a_stream_with_reasoning(srv: LLMServer) -> None:
    """Ignoring ``stream: true``, second spelling: reasoning_content and a tool call with
    arguments as an object (Ollama's native shape)."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "reasoning_content": "hmm", "tool_calls": [{"id": "o1", "function": {"name": "read_file", "arguments": {"path": "/x"}}}]}, "finish_reason": "tool_calls"}]}
    events = await run(srv, "openai", [json.dumps(body)], content_type="application/json", chunked=False, tools=[BASH, READ])
    assert shown(events) == "" and calls_of(events) == [("o1", "read_file", {"path": "/x"})]

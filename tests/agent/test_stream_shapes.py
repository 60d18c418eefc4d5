"""Fields of unexpected types, content as lists of parts, refusals, and answers that are not an
event stream at all: whatever the JSON holds, the reply is read right or refused in one line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_openai import one_line, shown, tc
from test_streams import DONE, an, an_end, an_start, calls_of, oa, run

from aios.agent import Done
from aios.errors import ProviderError
from llmserver import LLMServer, raw


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


async def done_or_one_line(srv: LLMServer, kind: str, blocks: list[str]) -> Done | None:
    """The reply's Done, or None after a one-line ProviderError; anything else fails."""
    srv.script([raw(blocks)])
    try:
        events = await collect(provider_for(kind, srv), conversation(), [BASH, READ])
    except ProviderError as exc:
        one_line(exc)
        return None
    return done_of(events)


def data(obj: Any) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def choice(**fields: Any) -> str:
    return data({"choices": [{"index": 0, **fields}]})


ODD_OPENAI = [
    choice(delta="just a string"),
    choice(delta=["a", "list"]),
    choice(delta={"content": 42}),
    choice(delta={"content": {"text": "an object"}}),
    choice(delta={"tool_calls": {"index": 0}}),
    choice(delta={"tool_calls": ["bash"]}),
    choice(delta={"tool_calls": [{"index": 0, "function": "bash"}]}),
    choice(delta={"tool_calls": [{"index": "0", "id": 7, "function": {"name": ["bash"], "arguments": 3}}]}),
    choice(delta={"function_call": "bash"}),
    choice(delta={}, finish_reason=7),
    data({"choices": "none"}),
    data({"choices": [None, 3, "x"]}),
    data({"usage": 5, "choices": []}),
    data({"usage": {"prompt_tokens": "many"}, "choices": []}),
    data([1, 2]),
    data("a string"),
    data(None),
    data(17),
]


@pytest.mark.parametrize("odd", ODD_OPENAI)
async def test_openai_odd_types_never_a_traceback(odd: str, srv: LLMServer) -> None:
    blocks = [oa({"content": "before "}), odd, oa({"content": "after"}), oa({}, "stop"), DONE]
    done = await done_or_one_line(srv, "openai", blocks)
    assert done is None or done.message.content.startswith("before")


ODD_ANTHROPIC = [
    an("content_block_delta", index=0, delta="text"),
    an("content_block_delta", index=0, delta={"type": "text_delta", "text": 5}),
    an("content_block_delta", index=None, delta={"type": "text_delta", "text": "x"}),
    an("content_block_delta", index="zero", delta={"type": "text_delta", "text": "x"}),
    an("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": {"a": 1}}),
    an("content_block_start", index=1, content_block="tool_use"),
    an("content_block_start", index=[1], content_block={"type": "tool_use", "id": 5, "name": None}),
    an("content_block_stop", index={"i": 0}),
    an("message_delta", delta="stop", usage=7),
    an("message_delta", delta={"stop_reason": 5}, usage={"output_tokens": "lots"}),
    an("message_start", message="hello"),
    an("message_start", message={"usage": {"input_tokens": [1]}}),
    "event: content_block_delta\ndata: [1, 2]\n\n",
    'event: message_delta\ndata: "just text"\n\n',
]


@pytest.mark.parametrize("odd", ODD_ANTHROPIC)
async def test_anthropic_odd_types_never_a_traceback(odd: str, srv: LLMServer) -> None:
    blocks = [
        an_start(),
        an("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        an("content_block_delta", index=0, delta={"type": "text_delta", "text": "before "}),
        odd,
        an("content_block_delta", index=0, delta={"type": "text_delta", "text": "after"}),
        an("content_block_stop", index=0),
        *an_end("end_turn"),
    ]
    done = await done_or_one_line(srv, "anthropic", blocks)
    assert done is None or done.message.content.startswith("before")


async def test_anthropic_events_without_index(srv: LLMServer) -> None:
    """A compatible server that leaves ``index`` out: each delta belongs to the latest block."""
    blocks = [
        an_start(),
        an("content_block_start", content_block={"type": "text", "text": ""}),
        an("content_block_delta", delta={"type": "text_delta", "text": "Checking."}),
        an("content_block_stop"),
        an("content_block_start", content_block={"type": "tool_use", "id": "tu1", "name": "bash", "input": {}}),
        an("content_block_delta", delta={"type": "input_json_delta", "partial_json": '{"command"'}),
        an("content_block_delta", delta={"type": "input_json_delta", "partial_json": ': "ls"}'}),
        an("content_block_stop"),
        an("content_block_start", content_block={"type": "tool_use", "id": "tu2", "name": "read_file", "input": {}}),
        an("content_block_delta", delta={"type": "input_json_delta", "partial_json": '{"path": "/x"}'}),
        an("content_block_stop"),
        *an_end("tool_use"),
    ]
    events = await run(srv, "anthropic", blocks)
    assert shown(events) == "Checking."
    assert calls_of(events) == [("tu1", "bash", {"command": "ls"}), ("tu2", "read_file", {"path": "/x"})]


# ------------------------------------------------------------------------------------------
# Content as parts, refusals


async def test_openai_content_as_a_list_of_parts(srv: LLMServer) -> None:
    """Mistral's reasoning models stream ``content`` as typed parts: thinking parts are not
    the answer, text parts are."""
    blocks = [
        oa({"role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me see."}]}]}),
        oa({"content": [{"type": "text", "text": "Disk "}]}),
        oa({"content": [{"type": "text", "text": "is fine."}, {"type": "image_url", "image_url": "x"}]}),
        oa({"content": "!"}),
        oa({}, "stop"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert shown(events) == "Disk is fine.!" and done_of(events).message.content == "Disk is fine.!"


async def test_openai_refusal_is_the_answer(srv: LLMServer) -> None:
    """A refusal (``delta.refusal``) is what the model said: shown, not an empty answer."""
    blocks = [oa({"role": "assistant", "content": None, "refusal": "I can't "}), oa({"refusal": "help with that."}), oa({}, "stop"), DONE]
    events = await run(srv, "openai", blocks)
    assert done_of(events).message.content == "I can't help with that." == shown(events)


# ------------------------------------------------------------------------------------------
# Not an event stream


@pytest.mark.parametrize("ctype", ["text/plain", "application/octet-stream", "text/plain; charset=utf-8"])
async def test_whole_json_answer_with_another_content_type(ctype: str, srv: LLMServer) -> None:
    """Ignoring ``stream`` and labelling the JSON answer as something else."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "plain", "tool_calls": [{"id": "p1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "id"}'}}]}, "finish_reason": "tool_calls"}]}
    events = await run(srv, "openai", [json.dumps(body, indent=2)], content_type=ctype, chunked=False)
    assert done_of(events).message.content == "plain" and calls_of(events) == [("p1", "bash", {"command": "id"})]


async def test_anthropic_whole_message_as_text_plain(srv: LLMServer) -> None:
    body = {"type": "message", "role": "assistant", "content": [{"type": "tool_use", "id": "tu1", "name": "bash", "input": {"command": "id"}}], "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}}
    events = await run(srv, "anthropic", [json.dumps(body, indent=1)], content_type="text/plain", chunked=False)
    assert calls_of(events) == [("tu1", "bash", {"command": "id"})]


@pytest.mark.parametrize("ctype", ["application/x-ndjson", "application/jsonl", "text/plain"])
async def test_openai_chunks_as_json_lines(ctype: str, srv: LLMServer) -> None:
    """Chunks as newline-delimited JSON, no ``data:`` prefix (some gateways)."""
    lines = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "J"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "SON lines"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [tc(0, id="n1", name="bash", args='{"command": "ls"}')]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    events = await run(srv, "openai", [json.dumps(x) + "\n" for x in lines], content_type=ctype)
    assert done_of(events).message.content == "JSON lines"
    assert calls_of(events) == [("n1", "bash", {"command": "ls"})]


@pytest.mark.parametrize("body", ["", "\n\n", "OK", "null", "[]", "<h1>It works!</h1>"])
async def test_200_that_is_no_answer_at_all(body: str, srv: LLMServer) -> None:
    for ctype in ("text/event-stream", "application/json", "text/plain"):
        srv.script([raw([body], content_type=ctype, chunked=False)])
        seen: list[Any] = []
        with pytest.raises(ProviderError) as info:
            async for event in provider_for("openai", srv).stream(conversation(), [BASH]):
                seen.append(event)
        one_line(info.value)
        assert not [e for e in seen if isinstance(e, Done)]



async def test_whole_json_answer_labelled_as_an_event_stream(srv: LLMServer) -> None:
    """Ignoring ``stream`` but keeping the ``text/event-stream`` label (a proxy that sets it)."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "labelled", "tool_calls": [{"id": "e1", "type": "function", "function": {"name": "bash", "arguments": '{"command": "id"}'}}]}, "finish_reason": "tool_calls"}]}
    events = await run(srv, "openai", [json.dumps(body, indent=2)])
    assert done_of(events).message.content == "labelled" and calls_of(events) == [("e1", "bash", {"command": "id"})]
    anthropic = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "labelled"}], "stop_reason": "end_turn", "usage": {}}
    events = await run(srv, "anthropic", [json.dumps(anthropic, indent=1)])
    assert done_of(events).message.content == "labelled"


async def test_json_lines_labelled_as_an_event_stream(srv: LLMServer) -> None:
    lines = [
        {"choices": [{"index": 0, "delta": {"content": "nd"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "json"}, "finish_reason": "stop"}]},
    ]
    events = await run(srv, "openai", [json.dumps(x) + "\n" for x in lines])
    assert done_of(events).message.content == "ndjson"

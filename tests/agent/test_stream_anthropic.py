"""Anthropic messages streams (the API and servers that speak it: llama.cpp, LiteLLM, proxies),
spelled from the public event format and replayed verbatim against the real provider."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_openai import fails, one_line, shown
from test_streams import an, an_end, an_start, calls_of, run

from aios.agent import ToolCall, ToolCallStarted
from aios.errors import ProviderHTTPError
from llmserver import LLMServer, error, raw, split, text


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def block_start(index: int, block: dict[str, Any]) -> str:
    return an("content_block_start", index=index, content_block=block)


def delta(index: int, **d: Any) -> str:
    return an("content_block_delta", index=index, delta=d)


def stop(index: int) -> str:
    return an("content_block_stop", index=index)


def tool_block(index: int, id: str, name: str, pieces: list[str], *, close: bool = True) -> list[str]:
    out = [block_start(index, {"type": "tool_use", "id": id, "name": name, "input": {}})]
    out += [delta(index, type="input_json_delta", partial_json=p) for p in pieces]
    return out + ([stop(index)] if close else [])


def text_block(index: int, pieces: list[str]) -> list[str]:
    out = [block_start(index, {"type": "text", "text": ""})]
    return out + [delta(index, type="text_delta", text=p) for p in pieces] + [stop(index)]


# ------------------------------------------------------------------------------------------
# Tool input assembled from fragments


async def test_input_json_split_at_every_character(srv: LLMServer) -> None:
    """Cuts inside keys, strings, escapes and \\u sequences."""
    args = json.dumps({"command": 'grep -r "caf\u00e9\\t" /srv | head -n 3', "n": [1, 2.5, None, True]})
    assert "\\u00e9" in args and "\\\\t" in args
    events = await run(srv, "anthropic", [an_start(), an("ping"), *tool_block(0, "tu1", "bash", list(args)), *an_end("tool_use")])
    assert calls_of(events) == [("tu1", "bash", json.loads(args))]


async def test_three_tool_use_blocks_after_text(srv: LLMServer) -> None:
    blocks = [an_start(), *text_block(0, ["I'll ", "check ", "three things."])]
    blocks += tool_block(1, "t1", "bash", split('{"command": "df -h"}', 3))
    blocks += tool_block(2, "t2", "read_file", split('{"path": "/etc/fstab"}', 5))
    blocks += tool_block(3, "t3", "bash", ['{"command": "free"}'])
    events = await run(srv, "anthropic", [*blocks, *an_end("tool_use")])
    assert shown(events) == "I'll check three things." and done_of(events).message.content == shown(events)
    assert calls_of(events) == [("t1", "bash", {"command": "df -h"}), ("t2", "read_file", {"path": "/etc/fstab"}), ("t3", "bash", {"command": "free"})]
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [ToolCallStarted("t1", "bash"), ToolCallStarted("t2", "read_file"), ToolCallStarted("t3", "bash")]


@pytest.mark.parametrize("pieces", [["", "{}"], ["{}"], [""], [], ["", ""], ["{", "}"]])
async def test_empty_inputs(pieces: list[str], srv: LLMServer) -> None:
    """A tool without arguments: an empty ``partial_json`` then ``{}``, only ``""``, or no delta
    at all (input stays the ``{}`` of content_block_start)."""
    events = await run(srv, "anthropic", [an_start(), *tool_block(0, "tu1", "bash", pieces), *an_end("tool_use")])
    assert done_of(events).message.tool_calls == (ToolCall("tu1", "bash", "{}"),)


async def test_input_in_the_start_block_and_no_deltas(srv: LLMServer) -> None:
    """Some Anthropic-compatible servers put the whole input in content_block_start."""
    blocks = [an_start(), block_start(0, {"type": "tool_use", "id": "tu1", "name": "read_file", "input": {"path": "/x"}}), stop(0), *an_end("tool_use")]
    assert calls_of(await run(srv, "anthropic", blocks)) == [("tu1", "read_file", {"path": "/x"})]


async def test_thinking_with_signature_then_tool_use_only(srv: LLMServer) -> None:
    blocks = [
        an_start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, type="thinking_delta", thinking="The user wants "),
        delta(0, type="thinking_delta", thinking="disk usage."),
        delta(0, type="signature_delta", signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pk"),
        stop(0),
        *tool_block(1, "tu1", "bash", ['{"comma', 'nd": "df"}']),
        *an_end("tool_use"),
    ]
    events = await run(srv, "anthropic", blocks)
    assert shown(events) == "" and done_of(events).message.content == ""
    assert calls_of(events) == [("tu1", "bash", {"command": "df"})]


async def test_unknown_blocks_and_deltas_are_ignored(srv: LLMServer) -> None:
    """Citations, server tool blocks the API ran itself, and delta types from newer API
    versions: not text, not our tool calls."""
    blocks = [
        an_start(),
        block_start(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"query": "x"}'),
        stop(0),
        block_start(1, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
        stop(1),
        block_start(2, {"type": "text", "text": ""}),
        delta(2, type="text_delta", text="Sourced."),
        delta(2, type="citations_delta", citation={"type": "char_location", "cited_text": "x"}),
        delta(2, type="some_future_delta", value=1),
        stop(2),
        *an_end("end_turn"),
    ]
    events = await run(srv, "anthropic", blocks)
    assert shown(events) == "Sourced." and done_of(events).message == done_of(events).message.__class__("assistant", "Sourced.")


# ------------------------------------------------------------------------------------------
# Event names


async def test_events_without_event_lines(srv: LLMServer) -> None:
    """Compatible servers that send only ``data:`` (the type is inside the JSON)."""
    blocks = [an_start(), *text_block(0, ["no ", "names"]), *tool_block(1, "tu1", "bash", ['{"command": "ls"}']), *an_end("tool_use")]
    bare = ["".join(line + "\n" for line in b.splitlines() if not line.startswith("event:")) + "\n" for b in blocks]
    events = await run(srv, "anthropic", bare)
    assert shown(events) == "no names" and calls_of(events) == [("tu1", "bash", {"command": "ls"})]


async def test_event_lines_without_type_in_data(srv: LLMServer) -> None:
    """Second spelling: the event line names the type and the JSON leaves ``type`` out."""
    blocks = [an_start(), *text_block(0, ["ty", "peless"]), *an_end("end_turn")]

    def drop_type(block: str) -> str:
        lines = block.splitlines()
        data = json.loads(lines[1].removeprefix("data: "))
        data.pop("type")
        return f"{lines[0]}\ndata: {json.dumps(data)}\n\n"

    events = await run(srv, "anthropic", [drop_type(b) for b in blocks])
    assert shown(events) == "typeless"


# ------------------------------------------------------------------------------------------
# Errors and early ends


@pytest.mark.parametrize(
    "event",
    [
        'event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}\n\n',
        'data: {"type": "error", "error": {"type": "overloaded_error", "message": "Internal server error"}}\n\n',
        'event: error\ndata: {"error": {"message": "Internal server error"}}\n\n',
        'event: error\ndata: {"type": "error", "message": "Internal server error"}\n\n',
    ],
)
async def test_error_event_after_a_tool_call(event: str, srv: LLMServer) -> None:
    """An error after a complete tool_use block: the call is not handed back."""
    blocks = [an_start(), *text_block(0, ["Running."]), *tool_block(1, "tu1", "bash", ['{"command": "ls"}']), event]
    assert "{" not in await fails(srv, "anthropic", blocks, "Internal server error")


@pytest.mark.parametrize("closed", [True, False])
async def test_max_tokens_inside_tool_input(closed: bool, srv: LLMServer) -> None:
    """Cut by max_tokens in the input, with or without the block's content_block_stop."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": ', '"tar czf /tmp/b'], close=closed), *an_end("max_tokens")]
    assert "max_tokens" in await fails(srv, "anthropic", blocks)


async def test_max_tokens_after_a_complete_call_and_a_cut_one(srv: LLMServer) -> None:
    """Neither call runs: the reply as a whole was cut."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": "ls"}']), *tool_block(1, "tu2", "bash", ['{"comm'], close=False), *an_end("max_tokens")]
    await fails(srv, "anthropic", blocks, "max_tokens")


@pytest.mark.parametrize(
    "tail",
    [
        [],  # ends right after the tool block
        [an("message_delta", delta={"stop_reason": None}, usage={"output_tokens": 3})],
    ],
)
async def test_clean_close_without_message_stop(tail: list[str], srv: LLMServer) -> None:
    """The body ends properly but no stop_reason and no message_stop ever came."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": "ls"}']), *tail]
    await fails(srv, "anthropic", blocks)


async def test_clean_close_inside_a_tool_block(srv: LLMServer) -> None:
    await fails(srv, "anthropic", [an_start(), *tool_block(0, "tu1", "bash", ['{"command": "rm -r'], close=False)])


async def test_stop_reason_without_message_stop_is_complete(srv: LLMServer) -> None:
    """message_delta with a stop_reason says the reply is whole; a missing message_stop after
    it is a proxy dropping the last event."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": "ls"}']), an("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 3})]
    assert calls_of(await run(srv, "anthropic", blocks)) == [("tu1", "bash", {"command": "ls"})]


@pytest.mark.parametrize("reason", ["refusal", "pause_turn", "stop_sequence", "end_turn"])
async def test_other_stop_reasons_with_text(reason: str, srv: LLMServer) -> None:
    events = await run(srv, "anthropic", [an_start(), *text_block(0, ["Stopped."]), *an_end(reason)])
    assert done_of(events).message.content == "Stopped."


async def test_invalid_json_in_tool_input_is_one_line(srv: LLMServer) -> None:
    """A complete reply whose input is not JSON: handed back (the loop returns the parse error
    to the model, tests/agent/test_loop.py) or refused, but never a traceback."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": ls}']), *an_end("tool_use")]
    srv.script([raw(blocks)])
    try:
        events = await collect(provider_for("anthropic", srv), conversation(), [BASH, READ])
    except Exception as exc:
        one_line(exc)
    else:
        assert done_of(events).message.tool_calls[0].arguments == '{"command": ls}'


# ------------------------------------------------------------------------------------------
# HTTP


async def test_529_overloaded_is_retried(srv: LLMServer) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    srv.script([error(529, body=overloaded), text("after overload")])
    events = await collect(provider_for("anthropic", srv), conversation(), [])
    assert done_of(events).message.content == "after overload" and len(srv.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "Overloaded"),
        (413, {"type": "error", "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}, "maximum size"),
        (502, "<html><head><title>502 Bad Gateway</title></head></html>", "502"),
        (400, "", "400"),
    ],
)
async def test_http_errors_are_one_line(status: int, body: Any, words: str, srv: LLMServer) -> None:
    srv.script([error(status, body=body)])
    with pytest.raises(ProviderHTTPError) as info:
        await collect(provider_for("anthropic", srv, retries=0), conversation(), [])
    message = one_line(info.value)
    assert words in message and "<" not in message, message

"""Second spellings: for each class of stream the parser got wrong before (see the report of
branch streams6), another way a server says the same thing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
from test_loop import Tools, turn
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_anthropic import block_start, delta, stop, text_block, tool_block
from test_stream_openai import calls, fails, one_line, shown, tc
from test_streams import DONE, an, an_end, an_start, calls_of, oa, run

from aios.errors import ProviderError, ProviderTimeout
from llmserver import LLMServer, error, raw, slow, text


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


async def test_unterminated_last_event_cut_inside_its_json(srv: LLMServer) -> None:
    """The body ends inside the last event's JSON: a cut stream, not "malformed"."""
    message = await fails(srv, "openai", [oa({"content": "a"}), 'data: {"choices": [{"index": 0, "delta": {"content": "b'])
    assert "cut before it finished" in message
    message = await fails(srv, "anthropic", [an_start(), *text_block(0, ["a"]), 'event: message_delta\ndata: {"type": "message_delta", "delta": {"stop_re'])
    assert "cut before it finished" in message


async def test_anthropic_nothing_after_message_stop(srv: LLMServer) -> None:
    blocks = [an_start(), *text_block(0, ["done"]), *an_end("end_turn"), delta(0, type="text_delta", text=" and more"), 'event: error\ndata: {"type": "error", "error": {"message": "late"}}\n\n']
    assert done_of(await run(srv, "anthropic", blocks)).message.content == "done"


async def test_two_whole_calls_with_the_same_name_and_no_index_or_id(srv: LLMServer) -> None:
    blocks = [calls({"function": {"name": "bash", "arguments": '{"command": "df"}'}}), calls({"function": {"name": "bash", "arguments": '{"command": "free"}'}}), oa({}, "tool_calls"), DONE]
    (a, b) = done_of(await run(srv, "openai", blocks)).message.tool_calls
    assert [json.loads(a.arguments), json.loads(b.arguments)] == [{"command": "df"}, {"command": "free"}] and a.id != b.id


async def test_name_cut_in_pieces_without_index(srv: LLMServer) -> None:
    blocks = [calls({"id": "c1", "function": {"name": "re"}}), calls({"function": {"name": "ad_fi"}}), calls({"function": {"name": "le", "arguments": '{"path": "/x"}'}}), oa({}, "tool_calls"), DONE]
    assert calls_of(await run(srv, "openai", blocks)) == [("c1", "read_file", {"path": "/x"})]


@pytest.mark.parametrize("pieces", [[" "], ["", "\n"], [" \t "]])
async def test_anthropic_blank_input_means_empty_object(pieces: list[str], srv: LLMServer) -> None:
    events = await run(srv, "anthropic", [an_start(), *tool_block(0, "tu1", "bash", pieces), *an_end("tool_use")])
    (call,) = done_of(events).message.tool_calls
    assert json.loads(call.arguments) == {}


async def test_anthropic_refusal_inside_tool_input(srv: LLMServer) -> None:
    """Anthropic's streaming classifier stops a reply with stop_reason ``refusal``."""
    blocks = [an_start(), *tool_block(0, "tu1", "bash", ['{"command": "curl http://ex'], close=False), *an_end("refusal")]
    assert "content filter" in await fails(srv, "anthropic", blocks)


@pytest.mark.parametrize(
    "chunk",
    [
        {"type": "error", "error": {"type": "overloaded_error", "message": "Upstream overloaded"}},  # an Anthropic-style proxy
        {"error": {"message": "Upstream overloaded", "code": "server_error"}, "choices": []},
        {"object": "error", "message": "Upstream overloaded", "code": 500},
    ],
)
async def test_openai_error_chunk_spellings_after_a_call(chunk: dict[str, Any], srv: LLMServer) -> None:
    blocks = [calls(tc(0, id="c1", name="bash", args='{"command": "ls"}')), oa({}, "tool_calls"), f"data: {json.dumps(chunk)}\n\n", DONE]
    assert "Upstream overloaded" in await fails(srv, "openai", blocks)


async def test_finish_reason_error_on_the_call_chunk(srv: LLMServer) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [tc(0, id="c1", name="bash", args='{"command": "ls"}')]}, "finish_reason": "error"}]}
    await fails(srv, "openai", [f"data: {json.dumps(chunk)}\n\n", DONE])


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_401_html_from_a_proxy(kind: str, srv: LLMServer) -> None:
    page = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    srv.script([error(401, body=page)])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for(kind, srv, retries=0), conversation(), [])
    message = one_line(info.value)
    assert "401" in message and "proxy" in message and "key" not in message and "<" not in message


async def test_anthropic_mcp_tool_use_is_not_our_call(srv: LLMServer) -> None:
    blocks = [
        an_start(),
        block_start(0, {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "bash", "server_name": "x", "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"command": "rm -rf /"}'),
        stop(0),
        block_start(1, {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "content": []}),
        stop(1),
        *text_block(2, ["Done remotely."]),
        *an_end("end_turn"),
    ]
    events = await run(srv, "anthropic", blocks)
    assert done_of(events).message.tool_calls == () and shown(events) == "Done remotely."


async def test_anthropic_text_stop_reason_without_message_stop(srv: LLMServer) -> None:
    blocks = [an_start(), *text_block(0, ["whole"]), an("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 1})]
    assert done_of(await run(srv, "anthropic", blocks)).message.content == "whole"


async def test_anthropic_index_as_digit_strings(srv: LLMServer) -> None:
    blocks = [an_start(), *text_block(0, ["Ok."]), *tool_block(1, "tu1", "bash", ['{"command": "ls"}'])]
    blocks = [b.replace('"index": 1', '"index": "1"').replace('"index": 0', '"index": "0"') for b in blocks]
    events = await run(srv, "anthropic", [*blocks, *an_end("tool_use")])
    assert shown(events) == "Ok." and calls_of(events) == [("tu1", "bash", {"command": "ls"})]


async def test_content_parts_and_refusal_in_a_whole_json_answer(srv: LLMServer) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "Parts. "}], "refusal": "No more."}, "finish_reason": "stop"}]}
    events = await run(srv, "openai", [json.dumps(body)], content_type="application/json", chunked=False)
    assert done_of(events).message.content == "Parts. No more."


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_deeply_nested_json_event(kind: str, srv: LLMServer) -> None:
    """JSON nested deeper than Python's parser recurses: one line, not a RecursionError."""
    await fails(srv, kind, [f"data: {'[' * 100_000}{']' * 100_000}\n\n"])


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_deeply_nested_tool_arguments_never_run(kind: str, srv: LLMServer) -> None:
    args = '{"command": ' + "[" * 100_000 + "]" * 100_000 + "}"
    if kind == "openai":
        blocks = [calls(tc(0, id="c1", name="bash", args=args)), oa({}, "tool_calls"), DONE]
    else:
        blocks = [an_start(), *tool_block(0, "c1", "bash", [args]), *an_end("tool_use")]
    srv.script([raw(blocks), text("after")])
    tools = Tools()
    try:
        await turn(provider_for(kind, srv), tools)
    except ProviderError as exc:
        one_line(exc)
    assert tools.ran == []


async def test_structured_reply_deeply_nested(srv: LLMServer) -> None:
    srv.script([text('{"tool": "bash", "arguments": ' + "[" * 100_000 + "]" * 100_000 + "}")])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for("openai", srv, structured=True), conversation(), [BASH, READ])
    one_line(info.value)


async def test_groq_usage_inside_x_groq(srv: LLMServer) -> None:
    """Groq puts the usage of a stream in ``x_groq.usage`` of the last chunk."""
    usage = {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}
    done = done_of(await run(srv, "openai", [oa({"content": "g"}), oa({}, "stop", x_groq={"id": "req_1", "usage": usage}), DONE]))
    assert done.message.content == "g" and done.usage["total_tokens"] == 5


async def test_the_other_protocol_names_the_kind_to_set(srv: LLMServer) -> None:
    """A server that answers in the other provider's format: one line naming ``kind``."""
    assert 'kind = "anthropic"' in await fails(srv, "openai", [an_start(), *text_block(0, ["hi"]), *an_end("end_turn")])
    assert 'kind = "openai"' in await fails(srv, "anthropic", [oa({"content": "hi"}), oa({}, "stop"), DONE])


async def test_anthropic_untyped_unnamed_event_is_not_a_whole_message(srv: LLMServer) -> None:
    """An event with neither ``event:`` nor ``type`` (a proxy's note) does not end the reply."""
    blocks = [an_start(), *text_block(0, ["one"]), 'data: {"note": "proxied"}\n\n', *text_block(1, [" two"]), *an_end("end_turn")]
    assert done_of(await run(srv, "anthropic", blocks)).message.content == "one two"


async def test_openai_a_second_choice_is_another_reply(srv: LLMServer) -> None:
    """A server that sends two choices: only the first is the reply; the second's fragments
    (same call index 0) never merge into its tool call."""
    def chunk(i: int, d: dict[str, Any], finish: str | None = None) -> str:
        return f"data: {json.dumps({'choices': [{'index': i, 'delta': d, 'finish_reason': finish}]})}\n\n"

    blocks = [
        chunk(0, {"tool_calls": [tc(0, id="a", name="bash", args='{"command": ')]}),
        chunk(1, {"tool_calls": [tc(0, id="b", name="bash", args='{"command": "rm -rf ~"}')]}),
        chunk(0, {"tool_calls": [tc(0, args='"ls"}')]}),
        chunk(1, {"content": "other text"}, "tool_calls"),
        chunk(0, {}, "tool_calls"),
        DONE,
    ]
    events = await run(srv, "openai", blocks)
    assert calls_of(events) == [("a", "bash", {"command": "ls"})] and shown(events) == ""


async def test_openai_two_choices_in_one_chunk(srv: LLMServer) -> None:
    both = {"choices": [
        {"index": 0, "delta": {"content": "first"}, "finish_reason": "stop"},
        {"index": 1, "delta": {"content": " second", "tool_calls": [tc(0, id="x", name="bash", args='{"command": "reboot"}')]}, "finish_reason": "tool_calls"},
    ]}
    done = done_of(await run(srv, "openai", [f"data: {json.dumps(both)}\n\n", DONE]))
    assert done.message.content == "first" and done.message.tool_calls == ()


@pytest.mark.parametrize(
    ("kind", "ping"),
    [
        ("openai", ": OPENROUTER PROCESSING\n\n"),
        ("anthropic", ": keep-alive\n\n"),
        ("anthropic", 'event: ping\ndata: {"type": "ping"}\n\n'),
        ("anthropic", 'data: {"type": "ping"}\n\n'),
    ],
)
async def test_keepalives_forever_end_the_reply(kind: str, ping: str, srv: LLMServer) -> None:
    """A server that pings and never answers: a timeout error after 5 × timeout of pings, not a
    hang (the pings would reset a plain read timeout forever)."""
    head = [] if kind == "openai" else [an_start()]
    srv.script([slow(raw([*head, *[ping] * 100, *text_block(0, ["late"])] if kind == "anthropic" else [ping] * 100), 0.05)])
    seen: list[Any] = []
    with trio.fail_after(8), pytest.raises(ProviderTimeout) as info:
        async for event in provider_for(kind, srv, timeout=0.2).stream(conversation(), []):
            seen.append(event)
    assert "keep-alive" in one_line(info.value) and not seen


async def test_keepalives_between_events_are_fine(srv: LLMServer) -> None:
    """Pings while the reply moves on do not count against it."""
    blocks = [x for i in range(12) for x in (": ping\n\n", oa({"content": str(i % 10)}))]
    srv.script([slow(raw([*blocks, oa({}, "stop"), DONE]), 0.05)])
    events = await collect(provider_for("openai", srv, timeout=0.2), conversation(), [])
    assert done_of(events).message.content == "012345678901"


async def test_retry_waits_do_not_count_as_keepalive_time(srv: LLMServer) -> None:
    """A 429 wait longer than 5 × timeout before the stream starts is not a keep-alive stall."""
    srv.script([error(429, headers={"Retry-After": "1.2"}), raw([oa({"content": "ok"}), oa({}, "stop"), DONE])])
    events = await collect(provider_for("openai", srv, timeout=0.2), conversation(), [])
    assert done_of(events).message.content == "ok"

"""Event-stream framing as real encoders write it, taken from source: the anthropic-sdk-python
SSE decoder tests (tests/test_streaming.py), and the JSON encoders of the servers, which write
U+2028, U+2029 and U+0085 raw inside strings (nlohmann's ``dump`` in llama.cpp, pydantic-core
in vLLM and SGLang, serde_json in TGI; Go's encoding/json escapes U+2028/U+2029 but not
U+0085). Only CR, LF and CRLF end an event-stream line; a reader that splits where
``str.splitlines`` does cuts such an event in two."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import trio
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_stream_openai import one_line, shown
from test_streams import DONE, an, an_end, an_start, calls_of

from aios.agent._sse import LineSplitter, split_lines
from aios.errors import ProviderError, ProviderTimeout
from llmserver import LLMServer, endless, error, raw, raw_bytes, slow

KINDS = ["openai", "anthropic"]

# Characters str.splitlines (and so httpx's line reader) breaks on that JSON may carry raw.
RAW_IN_JSON = ["\u2028", "\u2029", "\u0085"]


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def compact(obj: Any) -> str:
    """JSON as these encoders write it: no ASCII escaping, so U+2028 stays one raw character."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def text_reply(kind: str, pieces: list[str]) -> list[str]:
    if kind == "openai":
        head = [f"data: {compact({'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''}, 'finish_reason': None}]})}\n\n"]
        body = [f"data: {compact({'choices': [{'index': 0, 'delta': {'content': p}, 'finish_reason': None}]})}\n\n" for p in pieces]
        return [*head, *body, f"data: {compact({'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n", DONE]
    start = [an_start(), an("content_block_start", index=0, content_block={"type": "text", "text": ""})]
    body = [f"event: content_block_delta\ndata: {compact({'type': 'content_block_delta', 'index': 0, 'delta': {'type': 'text_delta', 'text': p}})}\n\n"
            for p in pieces]
    return [*start, *body, an("content_block_stop", index=0), *an_end("end_turn")]


async def run(srv: LLMServer, kind: str, blocks: list[str], **kw: Any) -> list[Any]:
    srv.script([raw(blocks, **kw)])
    return await collect(provider_for(kind, srv), conversation(), [BASH, READ])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("char", RAW_IN_JSON, ids=["U+2028", "U+2029", "U+0085"])
async def test_raw_line_separator_inside_a_json_string(kind: str, char: str, srv: LLMServer) -> None:
    """anthropic-sdk-python tests/test_streaming.py test_special_new_line_character: a text
    delta ``" \\u2028"`` sent raw between two others. It is text, not a line end."""
    events = await run(srv, kind, text_reply(kind, [" culpa", f" {char}", "foo"]))
    assert shown(events) == f" culpa {char}foo"
    assert done_of(events).message.content == f" culpa {char}foo"


@pytest.mark.parametrize("char", RAW_IN_JSON, ids=["U+2028", "U+2029", "U+0085"])
async def test_raw_line_separator_inside_tool_arguments(char: str, srv: LLMServer) -> None:
    """The second spelling: the character inside a call's arguments (llama.cpp writes a diff's
    ``arguments`` with nlohmann's ``dump``, raw), cut across two writes around it."""
    command = f"printf 'a{char}b' > /tmp/sep"
    args = compact({"command": command})
    cut = args.index(char)
    frag = [args[:cut], args[cut:cut + 1], args[cut + 1:]]
    blocks = [
        f"data: {compact({'choices': [{'finish_reason': None, 'index': 0, 'delta': {'tool_calls': [{'index': 0, 'id': 'c1', 'type': 'function', 'function': {'name': 'bash', 'arguments': ''}}]}}]})}\n\n",
        *(f"data: {compact({'choices': [{'finish_reason': None, 'index': 0, 'delta': {'tool_calls': [{'index': 0, 'function': {'arguments': f}}]}}]})}\n\n" for f in frag),
        f"data: {compact({'choices': [{'finish_reason': 'tool_calls', 'index': 0, 'delta': {}}]})}\n\n",
        DONE,
    ]
    encoded = "".join(blocks).encode()
    at = encoded.index(char.encode()) + 1  # a write boundary inside the character's bytes
    srv.script([raw_bytes([encoded[:at], encoded[at:]])])
    events = await collect(provider_for("openai", srv), conversation(), [BASH, READ])
    assert calls_of(events) == [("c1", "bash", {"command": command})]


@pytest.mark.parametrize("kind", KINDS)
async def test_raw_line_separator_in_a_body_not_labelled_as_a_stream(kind: str, srv: LLMServer) -> None:
    """A server that ignores ``stream`` answers with one JSON document (any content type);
    a raw U+2028 inside it must not turn it into two broken lines."""
    if kind == "openai":
        body = compact({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "a\u2028b"}, "finish_reason": "stop"}]})
    else:
        body = compact({"id": "m", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "a\u2028b"}], "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}})
    events = await run(srv, kind, [body], content_type="application/json", chunked=False)
    assert done_of(events).message.content == "a\u2028b"


@pytest.mark.parametrize("kind", KINDS)
async def test_json_lines_body_with_a_raw_line_separator(kind: str, srv: LLMServer) -> None:
    """JSON lines (NDJSON, a proxy that re-labels the stream): one line holds a raw U+2029."""
    if kind == "openai":
        lines = [compact({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}) for p in ("x\u2029", "y")]
        lines.append(compact({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    else:
        lines = [compact({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}),
                 compact({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                 compact({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x\u2029"}}),
                 compact({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "y"}}),
                 compact({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
                 compact({"type": "message_stop"})]
    events = await run(srv, kind, ["\n".join(lines) + "\n"], content_type="application/x-ndjson")
    assert done_of(events).message.content == "x\u2029y"


@pytest.mark.parametrize("kind", KINDS)
async def test_sdk_multiple_data_lines_with_empty_ones(kind: str, srv: LLMServer) -> None:
    """tests/test_streaming.py test_multiple_data_lines_with_empty_line: ``data: {``,
    ``data: "foo":``, ``data: `` , ``data:``, ``data: true}`` make one event whose data has
    blank lines inside; they are part of it, not separate (blank) events."""
    if kind == "openai":
        lines = ['data: {"choices": [{"index": 0,\n', 'data: "delta":\n', "data: \n", "data:\n",
                 'data: {"content": "multi"}, "finish_reason": "stop"}]}\n', "\n", DONE]
    else:
        lines = [an_start(), an("content_block_start", index=0, content_block={"type": "text", "text": ""}),
                 "event: content_block_delta\n", 'data: {"type": "content_block_delta",\n', 'data: "index": 0,\n', "data: \n", "data:\n",
                 'data: "delta": {"type": "text_delta", "text": "multi"}}\n', "\n",
                 an("content_block_stop", index=0), *an_end("end_turn")]
    events = await run(srv, kind, lines)
    assert done_of(events).message.content == "multi"


@pytest.mark.parametrize("kind", KINDS)
async def test_sdk_escaped_double_new_line_in_data(kind: str, srv: LLMServer) -> None:
    """tests/test_streaming.py test_data_json_escaped_double_new_line: ``\\n\\n`` escaped inside
    the JSON is text, and the event's own closing ``\\n\\n`` comes in a separate write."""
    text = "my long\n\ncontent"
    blocks = text_reply(kind, [text])
    split = [part for b in blocks for part in ((b[:-2], b[-2:]) if b.endswith("\n\n") else (b,))]
    events = await run(srv, kind, split)
    assert done_of(events).message.content == text


def test_line_splitter_matches_the_standard_at_every_cut() -> None:
    """Every way of cutting a text in two writes gives the lines the event-stream standard
    gives the whole: ends at CR, LF and CRLF only (a CRLF cut between writes is one end)."""
    text = "a\r\nb\rc\n\nd\u2028e\u0085f\r\r\ng\u2029\x0b\x1ch\r"
    expected = re.split(r"\r\n|\r|\n", text)
    expected = expected[:-1] if expected[-1] == "" else expected
    for cut in range(len(text) + 1):
        splitter = LineSplitter()
        got = [*splitter.feed(text[:cut]), *splitter.feed(text[cut:]), *splitter.close()]
        assert got == expected, cut
    assert split_lines(text) == expected


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_names_the_address_to_configure(kind: str, status: int, srv: LLMServer) -> None:
    """A reverse proxy in front of the server (nginx ``return 301 https://$host$request_uri``,
    Caddy's automatic HTTPS) answers the POST with a redirect and an empty body. It is not
    followed (the key would go to another address); the line names where it points."""
    srv.script([error(status, body="", headers={"Location": "https://llm.example.internal/v1/chat/completions"})])
    with pytest.raises(ProviderError) as info:
        await collect(provider_for(kind, srv, retries=0), conversation(), [BASH, READ])
    message = one_line(info.value)
    assert "https://llm.example.internal/v1/chat/completions" in message and "base_url" in message


@pytest.mark.parametrize(("kind", "status", "ctype"), [
    ("openai", 200, "text/event-stream"),
    ("anthropic", 200, "text/event-stream"),
    ("openai", 200, "application/octet-stream"),
    ("anthropic", 500, "text/plain"),
], ids=["event-stream", "event-stream-anthropic", "not-a-stream", "error-status"])
async def test_a_body_that_never_ends_is_refused(kind: str, status: int, ctype: str, srv: LLMServer) -> None:
    """A ``base_url`` that answers with bytes forever and never a line end: bytes keep coming,
    so no read timeout fires. The reply is refused in one line once a line (or a whole body,
    or an error page) is longer than any model server sends. ``fail_after`` only turns the old
    endless wait into a failure; it asserts no speed."""
    srv.script([endless(status=status, content_type=ctype)])
    with trio.fail_after(120), pytest.raises(ProviderError) as info:
        await collect(provider_for(kind, srv, retries=0), conversation(), [BASH, READ])
    assert "MiB" in one_line(info.value) or str(status) in one_line(info.value)


@pytest.mark.parametrize(("kind", "junk"), [
    ("openai", 'data: {"status":"ok","uptime":12}\n\n'),
    ("openai", 'data: {"choices":[]}\n\n'),
    ("anthropic", 'event: heartbeat\ndata: {"type":"heartbeat"}\n\n'),
    ("anthropic", 'data: {"ts":1764633600}\n\n'),
], ids=["openai-other-service", "openai-empty-choices", "anthropic-unknown-event", "anthropic-untyped"])
async def test_events_that_carry_nothing_forever_end_the_reply(kind: str, junk: str, srv: LLMServer) -> None:
    """A ``base_url`` pointing at some other event stream (a status feed's heartbeats) sends
    well-formed events that are no part of a reply, forever. They count as keep-alives: the
    reply ends with the keep-alive timeout after 5 × timeout, not never."""
    head = [] if kind == "openai" else [an_start()]
    srv.script([slow(raw([*head, *[junk] * 100]), 0.05)])
    with trio.fail_after(8), pytest.raises(ProviderTimeout) as info:
        await collect(provider_for(kind, srv, timeout=0.2), conversation(), [])
    assert "keep-alive" in one_line(info.value)

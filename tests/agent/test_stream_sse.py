"""SSE framing as servers really send it (the WHATWG event-stream rules plus what servers get
wrong), replayed byte for byte by the scripted server against both real providers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_providers import BASH, READ, collect, conversation, done_of, provider_for
from test_streams import DONE, an, an_end, an_start, calls_of, oa, run

from aios.agent import TextDelta
from llmserver import LLMServer, raw_bytes, slow

KINDS = ["openai", "anthropic"]


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def answer(events: list[Any]) -> str:
    """The streamed text, checked against the final message."""
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert done_of(events).message.content == shown
    return shown


def text_stream(kind: str, pieces: list[str], stop: bool = True) -> list[str]:
    """A plain text answer in ``pieces``, one SSE block per piece, LF line ends."""
    if kind == "openai":
        return [
            oa({"role": "assistant"}),
            *(oa({"content": p}) for p in pieces),
            *([oa({}, "stop"), DONE] if stop else []),
        ]
    return [
        an_start(),
        an("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *(an("content_block_delta", index=0, delta={"type": "text_delta", "text": p}) for p in pieces),
        an("content_block_stop", index=0),
        *(an_end("end_turn") if stop else []),
    ]


def tool_stream(kind: str, arguments: str) -> list[str]:
    """One ``bash`` call ``c1`` whose arguments come as one fragment."""
    if kind == "openai":
        call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "bash", "arguments": arguments}}
        return [oa({"role": "assistant", "content": None}), oa({"tool_calls": [call]}), oa({}, "tool_calls"), DONE]
    return [
        an_start(),
        an("content_block_start", index=0, content_block={"type": "tool_use", "id": "c1", "name": "bash", "input": {}}),
        an("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": arguments}),
        an("content_block_stop", index=0),
        *an_end("tool_use"),
    ]


async def replay_bytes(srv: LLMServer, kind: str, parts: list[bytes], tools: list[Any] | None = None) -> list[Any]:
    # A short pause per write so each lands in its own read on the client side.
    srv.script([slow(raw_bytes(parts), 0.002)])
    return await collect(provider_for(kind, srv), conversation(), [BASH, READ] if tools is None else tools)


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ------------------------------------------------------------------------------------------
# Line ends


@pytest.mark.parametrize("kind", KINDS)
async def test_cr_only_line_ends(kind: str, srv: LLMServer) -> None:
    """Old Mac line ends (a lone CR) are line ends too in an event stream."""
    blocks = [b.replace("\n", "\r") for b in text_stream(kind, ["Hel", "lo"])]
    assert answer(await run(srv, kind, blocks)) == "Hello"


@pytest.mark.parametrize("kind", KINDS)
async def test_mixed_line_ends_in_one_stream(kind: str, srv: LLMServer) -> None:
    ends = ["\n", "\r\n", "\r"]
    blocks = [b.replace("\n", ends[i % 3]) for i, b in enumerate(text_stream(kind, ["a", "b", "c"]))]
    assert answer(await run(srv, kind, blocks)) == "abc"


@pytest.mark.parametrize("kind", KINDS)
async def test_crlf_split_between_two_writes(kind: str, srv: LLMServer) -> None:
    """A CR at the end of one read and its LF at the start of the next are one line end, not
    two (two would end the event early and leave half of it)."""
    data = "".join(text_stream(kind, ["x", "y"])).replace("\n", "\r\n").encode()
    parts: list[bytes] = []
    start = 0
    for i in range(len(data)):
        if data[i : i + 1] == b"\r":
            parts.append(data[start : i + 1])
            start = i + 1
    parts.append(data[start:])
    assert answer(await replay_bytes(srv, kind, parts)) == "xy"


# ------------------------------------------------------------------------------------------
# Fields


async def test_openai_id_retry_event_and_unknown_fields(srv: LLMServer) -> None:
    blocks = [
        "retry: 3000\n\n",
        'id: 1\nevent: message\ndata: {"choices": [{"index": 0, "delta": {"content": "o"}, "finish_reason": null}]}\n\n',
        'id: 2\nx-custom: 7\nretry: oops\ndata:{"choices": [{"index": 0, "delta": {"content": "k"}, "finish_reason": null}]}\n\n',
        "id\n\n",
        oa({}, "stop"),
        DONE,
    ]
    assert answer(await run(srv, "openai", blocks)) == "ok"


async def test_anthropic_id_and_retry_fields(srv: LLMServer) -> None:
    blocks = [f"id: {i}\nretry: 10\n{b}" for i, b in enumerate(text_stream("anthropic", ["o", "k"]))]
    assert answer(await run(srv, "anthropic", blocks)) == "ok"


@pytest.mark.parametrize("kind", KINDS)
async def test_blank_data_fields_are_not_events(kind: str, srv: LLMServer) -> None:
    """``data:`` with nothing after it, ``data: `` and a bare ``data`` line carry no JSON."""
    blocks = text_stream(kind, ["f", "i", "ne"])
    blocks = [blocks[0], "data:\n\n", blocks[1], "data: \n\n", blocks[2], "data\n\n", *blocks[3:]]
    assert answer(await run(srv, kind, blocks)) == "fine"


@pytest.mark.parametrize("kind", KINDS)
async def test_multi_line_data_field(kind: str, srv: LLMServer) -> None:
    """A JSON event pretty-printed over several ``data:`` lines (joined with line feeds)."""
    if kind == "openai":
        chunk = {"choices": [{"index": 0, "delta": {"content": "multi\nline"}, "finish_reason": None}]}
        event = "".join(f"data: {line}\n" for line in json.dumps(chunk, indent=2).splitlines()) + "\n"
        blocks = [event, oa({}, "stop"), DONE]
    else:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "multi\nline"}}
        event = "event: content_block_delta\n" + "".join(f"data:{line}\n" for line in json.dumps(delta, indent=1).splitlines()) + "\n"
        blocks = text_stream(kind, [])
        blocks = [*blocks[:2], event, *blocks[2:]]
    assert answer(await run(srv, kind, blocks)) == "multi\nline"


@pytest.mark.parametrize("kind", KINDS)
async def test_comments_everywhere(kind: str, srv: LLMServer) -> None:
    """Keep-alive comments between events, inside an event, and as the very first bytes."""
    blocks = text_stream(kind, ["one ", "two"])
    mixed = [": OPENROUTER PROCESSING\n\n", blocks[0].replace("data", ": keep-alive\ndata", 1)]
    for b in blocks[1:]:
        mixed += [b, ":\n\n", ": ping - 2024-01-01 00:00:00.000000\n\n"]
    assert answer(await run(srv, kind, mixed)) == "one two"


# ------------------------------------------------------------------------------------------
# Where the stream ends


@pytest.mark.parametrize("kind", KINDS)
async def test_last_event_without_a_trailing_blank_line(kind: str, srv: LLMServer) -> None:
    blocks = text_stream(kind, ["end", "ing"])
    blocks[-1] = blocks[-1].rstrip("\n")
    assert answer(await run(srv, kind, blocks)) == "ending"


async def test_openai_finish_chunk_is_the_unterminated_last_line(srv: LLMServer) -> None:
    """No ``[DONE]``; the finish chunk is the last line and has no line end at all."""
    blocks = [oa({"content": "last"}), oa({}, "stop").rstrip("\n")]
    assert answer(await run(srv, "openai", blocks)) == "last"


async def test_openai_done_twice_and_junk_after_done(srv: LLMServer) -> None:
    blocks = [oa({"content": "once"}), oa({}, "stop"), DONE, "data:[DONE]\n\n", 'data: {"choices": [{"index": 0, "delta": {"content": " more"}}]}\n\n']
    assert answer(await run(srv, "openai", blocks)) == "once"


async def test_openai_done_without_space_ends_the_stream(srv: LLMServer) -> None:
    blocks = [oa({"content": "ok"}), oa({}, "stop"), "data:[DONE]\n\n"]
    assert answer(await run(srv, "openai", blocks)) == "ok"


# ------------------------------------------------------------------------------------------
# Bytes split anywhere


@pytest.mark.parametrize("kind", KINDS)
async def test_utf8_split_inside_characters(kind: str, srv: LLMServer) -> None:
    """Every write is 1..5 bytes, so multi-byte characters and lines are cut everywhere."""
    words = ["héllo ", "wörld ", "✓ ", "日本語 ", "😀"]
    data = "".join(text_stream(kind, words)).encode()
    parts, i, size = [], 0, 1
    while i < len(data):
        parts.append(data[i : i + size])
        i += size
        size = size % 5 + 1
    assert answer(await replay_bytes(srv, kind, parts)) == "".join(words)


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_arguments_with_the_stream_cut_every_3_bytes(kind: str, srv: LLMServer) -> None:
    args = json.dumps({"command": "echo 'é ✓' > /tmp/x"}, ensure_ascii=False)
    data = "".join(tool_stream(kind, args)).encode()
    events = await replay_bytes(srv, kind, pieces_of(data, 3))
    assert calls_of(events) == [("c1", "bash", {"command": "echo 'é ✓' > /tmp/x"})]


@pytest.mark.parametrize("kind", KINDS)
async def test_bom_split_across_writes(kind: str, srv: LLMServer) -> None:
    data = "\ufeff".encode() + "".join(text_stream(kind, ["bom"])).encode()
    assert answer(await replay_bytes(srv, kind, [data[:1], data[1:2], data[2:7], data[7:]])) == "bom"


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_utf8_becomes_replacement_characters(kind: str, srv: LLMServer) -> None:
    """Bytes that are not UTF-8 (a Latin-1 proxy): decoded as the event-stream standard says,
    with U+FFFD, not a traceback and not the rest of the answer lost."""
    stream = "".join(text_stream(kind, ["caf\u00e9", " ok"])).replace("\\u00e9", "\u00e9")
    data = stream.encode("latin-1")
    assert b"caf\xe9" in data
    assert answer(await replay_bytes(srv, kind, [data])) == "caf\ufffd ok"


# ------------------------------------------------------------------------------------------
# Size


@pytest.mark.parametrize("kind", KINDS)
async def test_a_very_long_text_line(kind: str, srv: LLMServer) -> None:
    """One 2 MiB ``data:`` line (a model pasting a whole log back)."""
    big = "0123456789abcdef" * (2 * 1024 * 1024 // 16)
    assert answer(await run(srv, kind, text_stream(kind, [big, "!"]))) == big + "!"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_very_long_tool_argument_in_small_writes(kind: str, srv: LLMServer) -> None:
    """A 256 KiB argument string in one event, delivered in 4 KiB writes."""
    content = "x" * (256 * 1024)
    args = json.dumps({"command": f"printf %s '{content}'"})
    data = "".join(tool_stream(kind, args)).encode()
    srv.script([raw_bytes(pieces_of(data, 4096))])
    events = await collect(provider_for(kind, srv), conversation(), [BASH])
    assert calls_of(events) == [("c1", "bash", {"command": f"printf %s '{content}'"})]

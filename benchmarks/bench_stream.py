"""Reading one streamed tool call cut in 10,000 pieces, through the real provider from the
scripted server on 127.0.0.1, beside the floor for the same bytes: httpx reading the body line
by line and decoding each event's JSON, with no tool-call assembly.

Three spellings: OpenAI's (``index`` on each fragment), a server that repeats ``id``, ``type``
and name on every fragment (the spelling that makes the assembler check whether earlier
arguments were whole), and Anthropic's ``input_json_delta`` pieces."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import httpx  # noqa: E402
import trio  # noqa: E402
from _common import line, p50  # noqa: E402

from aios.agent import Done, Message, ProviderChoice, ToolSpec, make_provider  # noqa: E402
from aios.config import ProviderConfig, Seconds  # noqa: E402
from llmserver import LLMServer, raw  # noqa: E402

BASH = ToolSpec("bash", "Run a shell command.", {"type": "object", "properties": {"command": {"type": "string"}}})


def pieces(n: int) -> tuple[str, list[str]]:
    args = json.dumps({"command": "echo " + "x" * (2 * n)})
    size = max(1, len(args) // n)
    return args, [args[i : i + size] for i in range(0, len(args), size)]


def sse(obj: Any, event: str | None = None) -> str:
    return (f"event: {event}\n" if event else "") + f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def openai_body(parts: list[str], repeat: bool) -> list[str]:
    def frag(p: str, first: bool) -> dict[str, Any]:
        if repeat or first:
            return {"index": 0, "id": "call_1", "type": "function", "function": {"name": "bash", "arguments": p}}
        return {"index": 0, "function": {"arguments": p}}
    events = [sse({"choices": [{"index": 0, "delta": {"tool_calls": [frag(p, i == 0)]}, "finish_reason": None}]}) for i, p in enumerate(parts)]
    events += [sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}), "data: [DONE]\n\n"]
    return events


def anthropic_body(parts: list[str]) -> list[str]:
    events = [
        sse({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}, "message_start"),
        sse({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}}, "content_block_start"),
    ]
    events += [sse({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}}, "content_block_delta") for p in parts]
    events += [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
               sse({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 1}}, "message_delta"),
               sse({"type": "message_stop"}, "message_stop")]
    return events


def writes(events: list[str], count: int = 50) -> list[str]:
    """The body in ``count`` writes, so the figure is the reader's, not the server's flushes."""
    step = max(1, len(events) // count)
    return ["".join(events[i : i + step]) for i in range(0, len(events), step)]


async def provider_ms(server: LLMServer, kind: str, body: list[str], expect: str) -> float:
    cfg = ProviderConfig(kind=kind, base_url=server.base_url if kind == "openai" else server.root_url,  # type: ignore[arg-type]
                         model="m", timeout=Seconds(30), max_retries=0, max_tokens=100_000)
    provider = make_provider(ProviderChoice("bench", cfg, "bench", "k"))
    server.script([raw(body)])
    start = time.perf_counter()
    done = None
    async for event in provider.stream([Message("user", "go")], [BASH]):
        if isinstance(event, Done):
            done = event
    elapsed = time.perf_counter() - start
    assert done is not None and done.message.tool_calls[0].arguments == expect, "the call was not read whole"
    return elapsed * 1e3


async def floor_ms(server: LLMServer, client: httpx.AsyncClient, body: list[str]) -> float:
    server.script([raw(body)])
    start = time.perf_counter()
    async with client.stream("POST", server.base_url + "/chat/completions", json={"stream": True}) as r:
        async for text in r.aiter_lines():
            if text.startswith("data: ") and text != "data: [DONE]":
                json.loads(text[6:])
    return (time.perf_counter() - start) * 1e3


async def measure(n: int, reps: int) -> None:
    args, parts = pieces(n)
    bodies = {
        "openai, index on each fragment": ("openai", writes(openai_body(parts, repeat=False))),
        "openai, id/type/name repeated on each fragment": ("openai", writes(openai_body(parts, repeat=True))),
        "anthropic, input_json_delta pieces": ("anthropic", writes(anthropic_body(parts))),
    }
    with LLMServer() as server:
        client = httpx.AsyncClient()  # made once: building its TLS context is not reading
        for name, (kind, body) in bodies.items():
            await provider_ms(server, kind, body, args)  # warm up: imports, connection setup
            ours, floor = [], []
            for _ in range(reps):
                ours.append(await provider_ms(server, kind, body, args))
                floor.append(await floor_ms(server, client, body))
            line(f"one tool call in {len(parts)} pieces ({name})", p50(ours), "ms", "httpx lines + json.loads of the same body", p50(floor))
        await client.aclose()


def split_ms(body: list[str], reps: int) -> tuple[float, float]:
    """CPU only, no I/O: our line splitter beside httpx's line reader (what the provider used
    before; it also breaks at U+2028), on the same writes."""
    from httpx._decoders import LineDecoder  # the reader behind Response.aiter_lines

    from aios.agent._sse import LineSplitter

    ours, theirs = [], []
    for _ in range(reps):
        start = time.perf_counter()
        splitter = LineSplitter()
        n_ours = sum(len(splitter.feed(w)) for w in body) + len(splitter.close())
        ours.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        decoder = LineDecoder()
        n_theirs = sum(len(decoder.decode(w)) for w in body) + len(decoder.flush())
        theirs.append((time.perf_counter() - start) * 1e3)
        assert n_ours == n_theirs, (n_ours, n_theirs)
    return p50(ours), p50(theirs)


def parse_ms(events: list[str], reps: int) -> tuple[float, float]:
    """CPU only, no I/O: the OpenAI reply reader (SSE parser + tool-call assembly) over the
    body's lines, beside ``json.loads`` of the same events (the floor any reader pays)."""
    from aios.agent._openai import _Reply
    from aios.agent._sse import SSEParser

    lines = "".join(events).split("\n")
    datas = [x[6:] for x in lines if x.startswith("data: ") and x != "data: [DONE]"]
    ours, floor = [], []
    for _ in range(reps):
        start = time.perf_counter()
        reply, parser = _Reply("u", "p", ["bash"]), SSEParser()
        for text in lines:
            reply.read(parser.feed(text))
            if reply.done:
                break
        ours.append((time.perf_counter() - start) * 1e3)
        assert reply.calls.result()[0].name == "bash"
        start = time.perf_counter()
        for d in datas:
            json.loads(d)
        floor.append((time.perf_counter() - start) * 1e3)
    return p50(ours), p50(floor)


def main() -> None:
    quick = "--quick" in sys.argv
    n, reps = (1_000, 2) if quick else (10_000, 7)
    try:
        ours, theirs = split_ms(writes(openai_body(pieces(n)[1], repeat=False)), reps * 5)
    except ImportError:  # a checkout from before LineSplitter, measured for comparison
        pass
    else:
        line(f"splitting the lines of a {n}-piece call's body (50 writes)", ours, "ms", "httpx's LineDecoder on the same writes", theirs)
    for repeat in (False, True):
        ours, floor = parse_ms(openai_body(pieces(n)[1], repeat=repeat), reps * 3)
        what = "id/type/name repeated" if repeat else "index on each fragment"
        line(f"reading a {n}-piece call, no I/O ({what})", ours, "ms", "json.loads of the same events", floor)
    trio.run(measure, n, reps)


if __name__ == "__main__":
    main()

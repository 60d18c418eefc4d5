"""The stream shapes fixed this round, through the whole agent loop (run_turn) against the
scripted server: what runs is exactly the calls the server meant, once each, with the arguments
it sent; a reply that said nothing runs nothing. Shapes as in test_stream7_*.py, from the
servers' source."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_loop import Tools, tool_messages, turn
from test_providers import provider_for
from test_stream_openai import one_line

from aios.errors import ProviderError
from llmserver import LLMServer, raw, text


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}\n\n"


def choice(delta: dict[str, Any], finish: str | None = None) -> str:
    return sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "finish_reason": finish, "delta": delta}]})


async def test_localai_shared_id_runs_two_calls_with_their_own_results(srv: LLMServer) -> None:
    """LocalAI (core/http/endpoints/openai/chat.go) stamps the request id on both calls: both
    run, once each, and the results go back under two different ids."""
    rid = "b7d4c0de-1f2a-4c3b-9d8e-0a1b2c3d4e5f"
    blocks = [
        choice({"role": "assistant", "tool_calls": [{"index": 0, "id": rid, "type": "function", "function": {"name": "bash"}}]}),
        choice({"role": "assistant", "content": "", "tool_calls": [{"index": 0, "id": rid, "type": "function", "function": {"arguments": '{"command":"uptime"}'}}]}),
        choice({"role": "assistant", "tool_calls": [{"index": 1, "id": rid, "type": "function", "function": {"name": "bash"}}]}),
        choice({"role": "assistant", "content": "", "tool_calls": [{"index": 1, "id": rid, "type": "function", "function": {"arguments": '{"command":"df -h"}'}}]}),
        choice({}, "tool_calls"),
        "data: [DONE]\n\n",
    ]
    srv.script([raw(blocks), text("Up, and the disk is fine.")])
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert [args for _, args in tools.ran] == [{"command": "uptime"}, {"command": "df -h"}]
    assert result.text == "Up, and the disk is fine."
    replies = tool_messages(srv.requests[1].body)
    assert len({m["tool_call_id"] for m in replies}) == 2


async def test_llama_cpp_python_mirrored_call_runs_once(srv: LLMServer) -> None:
    """llama-cpp-python (llama_chat_format.py) sends each piece as ``function_call`` and as
    ``tool_calls``: the command runs once, not doubled and not twice."""
    def both(piece: str) -> dict[str, Any]:
        return {"role": None, "content": None, "function_call": {"name": "bash", "arguments": piece},
                "tool_calls": [{"index": 0, "id": "call__0_bash_cmpl-1", "type": "function", "function": {"name": "bash", "arguments": piece}}]}
    blocks = [choice(both('{"command": ')), choice(both('"whoami"}')), choice({"function_call": None, "tool_calls": None}, "tool_calls"), "data: [DONE]\n\n"]
    srv.script([raw(blocks), text("root.")])
    tools = Tools()
    await turn(provider_for("openai", srv), tools)
    assert [args for _, args in tools.ran] == [{"command": "whoami"}]


async def test_raw_line_separator_in_a_command_runs_it_exactly(srv: LLMServer) -> None:
    """A command holding a raw U+2028 (as llama.cpp's JSON writer leaves it) runs as sent."""
    command = "printf 'a\u2028b'"
    blocks = [
        choice({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "bash", "arguments": ""}}]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps({"command": command}, ensure_ascii=False)}}]}),
        choice({}, "tool_calls"),
        "data: [DONE]\n\n",
    ]
    srv.script([raw(blocks), text("Printed.")])
    tools = Tools()
    await turn(provider_for("openai", srv), tools)
    assert [args for _, args in tools.ran] == [{"command": command}]


async def test_refusal_before_any_word_runs_nothing(srv: LLMServer) -> None:
    """anthropic-sdk-python refusal_response.txt: an empty text block and ``refusal``. The turn
    ends with one line; nothing ran and the model is not asked again."""
    blocks = [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null,"stop_details":{"type":"refusal","category":"cyber","explanation":null}},"usage":{"output_tokens":0}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    srv.script([raw(blocks), text("should not be asked")])
    tools = Tools()
    with pytest.raises(ProviderError) as info:
        await turn(provider_for("anthropic", srv, retries=0), tools)
    assert "refusal" in one_line(info.value)
    assert tools.ran == [] and srv.pending == 1

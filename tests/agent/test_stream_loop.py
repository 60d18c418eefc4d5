"""Broken or odd streams through the whole agent loop (run_turn): a call that was not received
whole never runs, and one that was received in an odd shape runs exactly once, as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_loop import Tools, turn
from test_providers import provider_for
from test_stream_openai import calls, one_line, tc
from test_streams import DONE, an, an_end, an_start, oa

from aios.errors import ProviderError
from llmserver import LLMServer, raw, text

KINDS = ["openai", "anthropic"]


@pytest.fixture
def srv() -> Any:
    with LLMServer() as server:
        yield server


def cut_call(kind: str, ending: str) -> list[str]:
    """A ``bash`` call whose arguments stop inside a string, then ``ending``: ``length``
    (max_tokens), ``close`` (the body ends cleanly with no finish) or ``error``."""
    args = '{"command": "rm -rf /tmp/aios-build'
    if kind == "openai":
        head = [oa({"role": "assistant", "content": None}), calls(tc(0, id="c1", type="function", name="bash", args=args))]
        tails = {
            "length": [oa({}, "length"), DONE],
            "close": [],
            "error": ['data: {"error": {"message": "upstream connection lost"}}\n\n'],
        }
    else:
        head = [
            an_start(),
            an("content_block_start", index=0, content_block={"type": "tool_use", "id": "c1", "name": "bash", "input": {}}),
            an("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": args}),
        ]
        tails = {
            "length": an_end("max_tokens"),
            "close": [],
            "error": ['event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'],
        }
    return head + tails[ending]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ending", ["length", "close", "error"])
async def test_a_call_cut_short_never_runs(kind: str, ending: str, srv: LLMServer) -> None:
    srv.script([raw(cut_call(kind, ending)), text("should not be asked")])
    tools = Tools()
    with pytest.raises(ProviderError) as info:
        await turn(provider_for(kind, srv, retries=0), tools)
    one_line(info.value)
    assert tools.ran == []
    assert srv.pending == 1, "the turn stopped at the broken reply"


async def test_repeated_name_and_id_runs_one_call_once(srv: LLMServer) -> None:
    args = json.dumps({"command": "uptime"})
    blocks = [calls(tc(0, id="c1", type="function", name="bash", args=p)) for p in (args[:5], args[5:11], args[11:])]
    srv.script([raw([*blocks, oa({}, "tool_calls"), DONE]), text("Up 3 days.")])
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert [(c.name, a) for c, a in tools.ran] == [("bash", {"command": "uptime"})]
    assert result.text == "Up 3 days."


async def test_arguments_object_runs_as_sent(srv: LLMServer) -> None:
    blocks = [calls(tc(None, id="c1", name="bash", args={"command": "echo 'a b'"})), oa({}, "tool_calls"), DONE]
    srv.script([raw(blocks), text("Echoed.")])
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert [a for _, a in tools.ran] == [{"command": "echo 'a b'"}]
    assert result.text == "Echoed."

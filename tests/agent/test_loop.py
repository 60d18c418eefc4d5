"""The agent loop (run_turn) against the scripted server, with a small real ``execute``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
from test_providers import provider_for

from aios.agent import ToolCall, ToolOutcome, ToolSpec, TurnResult, run_turn
from aios.errors import ProviderError
from llmserver import LLMServer, cut, slow, text, tool_call, tool_calls

BASH = ToolSpec(
    "bash",
    "Run a shell command.",
    {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
        "additionalProperties": False,
    },
)


def fenced(output: str, tool: str = "bash") -> str:
    """Tool output as the model gets it: fenced as untrusted data."""
    return f'<untrusted-data source="output of the {tool} tool">\n{output}\n</untrusted-data>'


@attrs.define
class Tools:
    """A tiny tool runner: ``bash`` echoes the command back; records what it ran and emitted."""

    output: str = "ran: {command}"
    ran: list[tuple[ToolCall, dict[str, Any]]] = attrs.field(factory=list)
    emitted: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    block: bool = False

    async def execute(self, call: ToolCall, args: dict[str, Any]) -> ToolOutcome:
        self.ran.append((call, args))
        if self.block:
            await trio.sleep_forever()
        return ToolOutcome(self.output.format(**args), ok=True, data={"exit_code": 0})

    async def emit(self, method: str, params: dict[str, Any]) -> None:
        self.emitted.append((method, params))


@pytest.fixture
def srv() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


async def turn(provider: Any, tools: Tools, user: str = "what is here?", **kw: Any) -> TurnResult:
    options: dict[str, Any] = {"max_rounds": 6, "max_tool_output": 4096, "context_budget": 20_000}
    options.update(kw)
    return await run_turn(
        provider,
        [],
        user,
        system_prompt="You are a test.",
        tools=[BASH],
        execute=tools.execute,
        emit=tools.emit,
        **options,
    )


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def test_tool_call_then_answer(srv: LLMServer) -> None:
    srv.script(
        [
            tool_call("bash", {"command": "ls -la"}, chunks=12, id="call_1"),
            text("Two files.", chunks=3),
        ]
    )
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert result.status == "ok" and result.text == "Two files." and result.rounds == 2
    assert [(c.id, a) for c, a in tools.ran] == [("call_1", {"command": "ls -la"})]
    assert result.calls == [
        {"tool": "bash", "arguments": {"command": "ls -la"}, "ok": True, "exit_code": 0}
    ]
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assert result.usage["total_tokens"] > 0
    assert (result.provider, result.model) == ("scripted", "test-model")
    second = srv.requests[1].body
    assert second["messages"][0] == {"role": "system", "content": "You are a test."}
    assert second["messages"][1] == {"role": "user", "content": "what is here?"}
    assert (
        second["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"command": "ls -la"}'
    )
    assert tool_messages(second) == [
        {"role": "tool", "tool_call_id": "call_1", "content": fenced("ran: ls -la")}
    ]
    deltas = "".join(p["text"] for m, p in tools.emitted if m == "chat.delta")
    assert deltas == "Two files."


async def test_anthropic_tool_call_then_answer(srv: LLMServer) -> None:
    srv.script(
        [tool_call("bash", {"command": "uptime"}, chunks=10, id="toolu_9"), text("Up.", chunks=2)]
    )
    tools = Tools()
    result = await turn(provider_for("anthropic", srv), tools)
    assert result.status == "ok" and result.text == "Up."
    assert [a for _c, a in tools.ran] == [{"command": "uptime"}]
    last = srv.requests[1].body["messages"][-1]
    assert last == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": fenced("ran: uptime")}],
    }


async def test_invalid_arguments_go_back_to_the_model(srv: LLMServer) -> None:
    srv.script(
        [
            tool_call("bash", '{"command": "ls', chunks=10, id="bad_json"),
            tool_call("bash", {"cmd": "ls"}, id="bad_schema"),
            tool_call("rm_everything", {}, id="no_such_tool"),
            tool_call("bash", {"command": "ls"}, id="good"),
            text("Listed."),
        ]
    )
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert result.status == "ok" and result.text == "Listed." and result.rounds == 5
    assert [c.id for c, _a in tools.ran] == ["good"], "only the valid call ran"
    results = {m["tool_call_id"]: m["content"] for m in tool_messages(srv.requests[4].body)}
    assert "not valid JSON" in results["bad_json"]
    assert (
        "invalid arguments for bash" in results["bad_schema"] and "command" in results["bad_schema"]
    )
    assert "no tool named 'rm_everything'" in results["no_such_tool"]
    assert results["good"] == fenced("ran: ls")
    # Each error reached the model in the very next request.
    assert "not valid JSON" in tool_messages(srv.requests[1].body)[0]["content"]
    invalid = [
        p for m, p in tools.emitted if m == "tool.finished" and p.get("decision") == "invalid"
    ]
    assert len(invalid) == 3
    assert [c["ok"] for c in result.calls] == [False, False, False, True]


async def test_two_calls_in_one_reply_both_run(srv: LLMServer) -> None:
    srv.script(
        [
            tool_calls(
                [
                    tool_call("bash", {"command": "df -h"}, id="a"),
                    tool_call("bash", {"command": "free -h"}, id="b"),
                ]
            ),
            text("Disk and memory are fine."),
        ]
    )
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools)
    assert [a["command"] for _c, a in tools.ran] == ["df -h", "free -h"]
    assert [m["tool_call_id"] for m in tool_messages(srv.requests[1].body)] == ["a", "b"]
    assert result.rounds == 2


async def test_round_limit(srv: LLMServer) -> None:
    srv.script([tool_call("bash", {"command": f"ls /{i}"}) for i in range(10)])
    tools = Tools()
    result = await turn(provider_for("openai", srv), tools, max_rounds=3)
    assert result.status == "round-limit" and result.rounds == 3
    assert len(srv.requests) == 3
    assert ["tools" in r.body for r in srv.requests] == [True, True, False], (
        "the last round asks for an answer"
    )


async def test_a_repeated_call_forces_an_answer(srv: LLMServer) -> None:
    srv.script(
        [
            tool_call("bash", {"command": "ls"}),
            tool_call("bash", {"command": "ls"}),
            text("Same as before."),
        ]
    )
    result = await turn(provider_for("openai", srv), Tools())
    assert result.text == "Same as before."
    assert ["tools" in r.body for r in srv.requests] == [True, True, False]


async def test_long_tool_output_is_cut_with_a_marker(srv: LLMServer) -> None:
    srv.script([tool_call("bash", {"command": "seq"}), text("Long.")])
    tools = Tools(output="x" * 10_000 + "{command}")
    await turn(provider_for("openai", srv), tools, max_tool_output=1000)
    (sent,) = tool_messages(srv.requests[1].body)
    assert "cut by aios" in sent["content"] and len(sent["content"]) < 1300
    assert sent["content"].endswith("seq\n</untrusted-data>")


async def test_a_cut_stream_fails_the_turn(srv: LLMServer) -> None:
    srv.script(
        [tool_call("bash", {"command": "ls"}), cut(text("half of an ans", chunks=6), after=4)]
    )
    tools = Tools()
    with pytest.raises(ProviderError):
        await turn(provider_for("openai", srv, retries=0), tools)
    assert len(tools.ran) == 1


async def test_cancelling_the_turn_stops_the_tool(srv: LLMServer) -> None:
    srv.script([tool_call("bash", {"command": "sleep 100"}), text("never")])
    tools = Tools(block=True)
    with trio.move_on_after(1) as scope:
        await turn(provider_for("openai", srv), tools)
    assert scope.cancelled_caught
    assert len(tools.ran) == 1 and len(srv.requests) == 1


async def test_cancelling_during_a_slow_stream(srv: LLMServer) -> None:
    srv.script([slow(text("a b c d e f g h", chunks=8), delay=0.2)])
    tools = Tools()
    with trio.move_on_after(0.7) as scope:
        await turn(provider_for("openai", srv), tools)
    assert scope.cancelled_caught
    deltas = [p["text"] for m, p in tools.emitted if m == "chat.delta"]
    assert 0 < len(deltas) < 8

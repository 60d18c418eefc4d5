"""Both streaming providers against the scripted server on 127.0.0.1 (tests/llmserver.py)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from aios.agent import (
    Done,
    Message,
    ProviderChoice,
    TextDelta,
    ToolCall,
    ToolCallStarted,
    ToolSpec,
    make_provider,
)
from aios.config import ProviderConfig, Seconds
from aios.errors import ProviderAuthError, ProviderError, ProviderHTTPError
from llmserver import (
    LLMServer,
    cut,
    error,
    malformed,
    split,
    stream_error,
    text,
    tool_call,
    tool_calls,
)

KEY_ENV = "TEST_LLM_KEY"
KINDS = ["openai", "anthropic"]

BASH = ToolSpec(
    "bash",
    "Run a shell command.",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)
READ = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


@pytest.fixture
def srv() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


def provider_for(
    kind: str,
    srv: LLMServer | str,
    *,
    key: str | None = "sk-test",
    retries: int = 2,
    timeout: float = 10.0,
    structured: bool | None = None,
    base_url: str | None = None,
) -> Any:
    """A provider built the way the daemon builds one: config → choice → make_provider.

    ``srv`` is the scripted server (its OpenAI or Anthropic URL is used) or a URL.
    """
    if isinstance(srv, str):
        url = srv
    else:
        url = base_url or (srv.base_url if kind == "openai" else srv.root_url)
    cfg = ProviderConfig(
        kind=kind,  # type: ignore[arg-type]
        base_url=url,
        model="test-model",
        api_key_env=KEY_ENV,
        timeout=Seconds(timeout),
        max_retries=retries,
        max_tokens=256,
        temperature=0.0,
        structured_output=structured,
    )
    return make_provider(ProviderChoice("scripted", cfg, "test", key))


async def collect(
    provider: Any, messages: list[Message], tools: list[ToolSpec], **kw: Any
) -> list[Any]:
    events = []
    async for event in provider.stream(messages, tools, **kw):
        events.append(event)
    return events


def conversation(prompt: str = "list the files") -> list[Message]:
    return [Message("system", "You are a test."), Message("user", prompt)]


def done_of(events: list[Any]) -> Done:
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1 and events[-1] is dones[0], events
    done = dones[0]
    assert isinstance(done, Done)
    return done


@pytest.mark.parametrize("kind", KINDS)
async def test_text_streams_in_order(kind: str, srv: LLMServer) -> None:
    answer = "The disk is 42% full; /var/log holds most of it."
    srv.script([text(answer, chunks=7)])
    events = await collect(provider_for(kind, srv), conversation(), [BASH])
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == split(answer, 7)
    done = done_of(events)
    assert done.message == Message("assistant", answer)
    assert done.usage, "usage from the stream is reported"
    assert len(srv.requests) == 1
    body = srv.requests[0].body
    assert body["model"] == "test-model" and body["stream"] is True and body["max_tokens"] == 256
    if kind == "openai":
        assert srv.requests[0].path == "/v1/chat/completions"
        assert body["messages"] == [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "list the files"},
        ]
        assert body["tools"][0]["function"]["name"] == "bash"
        assert srv.requests[0].headers["authorization"] == "Bearer sk-test"
    else:
        assert srv.requests[0].path == "/v1/messages"
        assert body["system"] == "You are a test."
        assert body["messages"] == [{"role": "user", "content": "list the files"}]
        assert body["tools"] == [
            {"name": "bash", "description": BASH.description, "input_schema": BASH.parameters}
        ]
        assert srv.requests[0].headers["x-api-key"] == "sk-test"
        assert srv.requests[0].headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_arguments_from_many_chunks(kind: str, srv: LLMServer) -> None:
    args = {"command": "find /var/log -name '*.log' -size +10M -printf '%s %p\\n' | sort -n"}
    raw = json.dumps(args)
    srv.script([tool_call("bash", args, chunks=14, id="call_abc")])
    events = await collect(provider_for(kind, srv), conversation(), [BASH])
    assert len(split(raw, 14)) == 14
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [
        ToolCallStarted("call_abc", "bash")
    ]
    assert not [e for e in events if isinstance(e, TextDelta)]
    done = done_of(events)
    assert done.message.tool_calls == (ToolCall("call_abc", "bash", raw),)
    assert json.loads(done.message.tool_calls[0].arguments) == args


@pytest.mark.parametrize("kind", KINDS)
async def test_two_tool_calls_in_one_message(kind: str, srv: LLMServer) -> None:
    srv.script(
        [
            tool_calls(
                [
                    tool_call("bash", {"command": "df -h /"}, chunks=10, id="c1"),
                    tool_call("read_file", {"path": "/etc/hostname"}, chunks=11, id="c2"),
                ],
                text="Let me look.",
            )
        ]
    )
    events = await collect(provider_for(kind, srv), conversation(), [BASH, READ])
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [
        ToolCallStarted("c1", "bash"),
        ToolCallStarted("c2", "read_file"),
    ]
    done = done_of(events)
    assert done.message.content == "Let me look."
    assert done.message.tool_calls == (
        ToolCall("c1", "bash", '{"command": "df -h /"}'),
        ToolCall("c2", "read_file", '{"path": "/etc/hostname"}'),
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_500_then_success_retries(kind: str, srv: LLMServer) -> None:
    srv.script([error(500), text("recovered")])
    events = await collect(provider_for(kind, srv), conversation(), [])
    assert done_of(events).message.content == "recovered"
    assert len(srv.requests) == 2
    assert srv.requests[0].body == srv.requests[1].body


@pytest.mark.parametrize("kind", KINDS)
async def test_429_honours_retry_after(kind: str, srv: LLMServer) -> None:
    srv.script([error(429, headers={"Retry-After": "1"}), text("after the wait")])
    start = time.monotonic()
    events = await collect(provider_for(kind, srv), conversation(), [])
    elapsed = time.monotonic() - start
    assert done_of(events).message.content == "after the wait"
    assert len(srv.requests) == 2
    # Without the header the first backoff is at most 0.625 s.
    assert 0.95 <= elapsed < 5, elapsed


@pytest.mark.parametrize("kind", KINDS)
async def test_retries_exhausted_is_an_http_error(kind: str, srv: LLMServer) -> None:
    srv.script([error(503), error(503), error(503)])
    with pytest.raises(ProviderHTTPError) as info:
        await collect(provider_for(kind, srv, retries=1), conversation(), [])
    assert "503" in str(info.value) and "scripted error 503" in str(info.value)
    assert len(srv.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_401_names_the_key_variable(kind: str) -> None:
    with LLMServer(api_key="the-right-key") as srv:
        srv.script([text("never")])
        with pytest.raises(ProviderAuthError) as info:
            await collect(provider_for(kind, srv, key="a-wrong-key"), conversation(), [])
        message = str(info.value)
        assert f"${KEY_ENV}" in message and "401" in message and "invalid api key" in message
        assert "\n" not in message
        assert len(srv.requests) == 1, "a refused key is not retried"
        assert srv.pending == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_scripted_401_with_error_body(kind: str, srv: LLMServer) -> None:
    body = {"error": {"type": "authentication_error", "message": "Incorrect API key provided"}}
    srv.script([error(401, body=body)])
    with pytest.raises(ProviderAuthError, match="Incorrect API key provided") as info:
        await collect(provider_for(kind, srv), conversation(), [])
    assert KEY_ENV in str(info.value) and "\n" not in str(info.value)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", KINDS)
async def test_unreachable_server(kind: str, srv: LLMServer) -> None:
    url = f"http://127.0.0.1:{closed_port()}" + ("/v1" if kind == "openai" else "")
    provider = provider_for(kind, srv, retries=0, base_url=url)
    with trio.fail_after(10):
        with pytest.raises(ProviderError) as info:
            await collect(provider, conversation(), [])
    message = str(info.value)
    assert "cannot reach" in message and url in message and "base_url" in message
    assert "\n" not in message


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_in_the_middle(kind: str, srv: LLMServer) -> None:
    srv.script(
        [cut(text("one two three four five six", chunks=6), after=5), text("a second reply")]
    )
    seen: list[Any] = []
    with pytest.raises(ProviderError) as info:
        async for event in provider_for(kind, srv).stream(conversation(), []):
            seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)]
    assert "cut" in str(info.value) or "closed" in str(info.value)
    # Text already streamed must not be streamed again from a retry.
    assert len(srv.requests) == 1
    assert srv.pending == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_in_a_tool_call(kind: str, srv: LLMServer) -> None:
    srv.script([cut(tool_call("bash", {"command": "rm -rf /tmp/x"}, chunks=10), after=6)])
    seen: list[Any] = []
    with pytest.raises(ProviderError):
        async for event in provider_for(kind, srv, retries=0).stream(conversation(), [BASH]):
            seen.append(event)
    assert not [e for e in seen if isinstance(e, Done)]


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_chunk(kind: str, srv: LLMServer) -> None:
    srv.script([malformed(text("abc def ghi"), at=3)])
    with pytest.raises(ProviderError, match="malformed"):
        await collect(provider_for(kind, srv), conversation(), [])
    assert len(srv.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_force_answer_offers_no_tools(kind: str, srv: LLMServer) -> None:
    srv.script([text("fine")])
    await collect(provider_for(kind, srv), conversation(), [BASH], force_answer=True)
    body = srv.requests[0].body
    if kind == "openai":
        assert "tools" not in body
    else:
        assert "tools" not in body or body.get("tool_choice") == {"type": "none"}


async def test_openai_structured_tool_call(srv: LLMServer) -> None:
    reply = {"tool": "bash", "arguments": {"command": "df -h"}}
    srv.script([text(json.dumps(reply), chunks=9)])
    events = await collect(
        provider_for("openai", srv, structured=True), conversation(), [BASH, READ]
    )
    assert not [e for e in events if isinstance(e, TextDelta)], (
        "raw JSON is not shown to the person"
    )
    done = done_of(events)
    (call,) = done.message.tool_calls
    assert call.name == "bash" and json.loads(call.arguments) == {"command": "df -h"}
    body = srv.requests[0].body
    assert "tools" not in body
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    names = [o["properties"]["tool"]["enum"] for o in schema["anyOf"] if "tool" in o["properties"]]
    assert names == [["bash"], ["read_file"]]


async def test_openai_structured_answer(srv: LLMServer) -> None:
    srv.script([text(json.dumps({"answer": "42% used"}), chunks=4)])
    events = await collect(provider_for("openai", srv, structured=True), conversation(), [BASH])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["42% used"]
    assert done_of(events).message == Message("assistant", "42% used")


async def test_openai_structured_rejects_unknown_tool(srv: LLMServer) -> None:
    srv.script([text(json.dumps({"tool": "format_disk", "arguments": {}}))])
    with pytest.raises(ProviderError, match="neither a known tool nor an answer"):
        await collect(provider_for("openai", srv, structured=True), conversation(), [BASH])


@pytest.mark.parametrize("kind", KINDS)
async def test_error_event_mid_stream(kind: str, srv: LLMServer) -> None:
    srv.script([stream_error(text("partial answer here"), at=3, message="Overloaded right now")])
    seen: list[Any] = []
    with pytest.raises(ProviderError, match="Overloaded right now") as info:
        async for event in provider_for(kind, srv).stream(conversation(), []):
            seen.append(event)
    assert "\n" not in str(info.value)
    assert not [e for e in seen if isinstance(e, Done)]


def history_with_tools() -> list[Message]:
    return [
        Message("system", "sys"),
        Message("user", "check the disk and the hostname"),
        Message(
            "assistant",
            "Checking.",
            (
                ToolCall("c1", "bash", '{"command": "df -h"}'),
                ToolCall("c2", "read_file", '{"path": '),
            ),
        ),
        Message("tool", "Filesystem  Size  Used", tool_call_id="c1", name="bash"),
        Message(
            "tool",
            "error: the arguments of read_file are not valid JSON",
            tool_call_id="c2",
            name="read_file",
        ),
        Message("user", "and be quick"),
    ]


async def test_openai_wire_history(srv: LLMServer) -> None:
    srv.script([text("ok")])
    await collect(provider_for("openai", srv), history_with_tools(), [BASH, READ])
    assert srv.requests[0].body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "check the disk and the hostname"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "bash", "arguments": '{"command": "df -h"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": '},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Filesystem  Size  Used"},
        {
            "role": "tool",
            "tool_call_id": "c2",
            "content": "error: the arguments of read_file are not valid JSON",
        },
        {"role": "user", "content": "and be quick"},
    ]


async def test_anthropic_wire_history(srv: LLMServer) -> None:
    srv.script([text("ok")])
    await collect(provider_for("anthropic", srv), history_with_tools(), [BASH, READ])
    body = srv.requests[0].body
    assert body["system"] == "sys"
    assert body["messages"] == [
        {"role": "user", "content": "check the disk and the hostname"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "c1", "name": "bash", "input": {"command": "df -h"}},
                {
                    "type": "tool_use",
                    "id": "c2",
                    "name": "read_file",
                    "input": {"invalid_json": '{"path": '},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "Filesystem  Size  Used"},
                {
                    "type": "tool_result",
                    "tool_use_id": "c2",
                    "content": "error: the arguments of read_file are not valid JSON",
                },
                {"type": "text", "text": "and be quick"},
            ],
        },
    ]


async def test_anthropic_history_starts_with_the_user(srv: LLMServer) -> None:
    """A history cut by the context budget may begin with an assistant tool call: it goes, and so
    do the results answering it (the API refuses both a leading assistant and orphan results)."""
    srv.script([text("ok"), text("ok")])
    cut_history = [Message("system", "sys"), *history_with_tools()[2:]]
    await collect(provider_for("anthropic", srv), cut_history, [BASH, READ])
    assert srv.requests[0].body["messages"] == [{"role": "user", "content": "and be quick"}]


async def test_anthropic_force_answer_keeps_tools_declared(srv: LLMServer) -> None:
    srv.script([text("done")])
    await collect(
        provider_for("anthropic", srv), history_with_tools(), [BASH, READ], force_answer=True
    )
    body = srv.requests[0].body
    assert [t["name"] for t in body["tools"]] == ["bash", "read_file"]
    assert body["tool_choice"] == {"type": "none"}


async def test_anthropic_base_url_with_v1_is_tolerated(srv: LLMServer) -> None:
    srv.script([text("ok")])
    events = await collect(
        provider_for("anthropic", srv, base_url=srv.base_url), conversation(), []
    )
    assert done_of(events).message.content == "ok"
    assert srv.requests[0].path == "/v1/messages"


async def test_anthropic_structured(srv: LLMServer) -> None:
    srv.script(
        [
            text(json.dumps({"tool": "bash", "arguments": {"command": "uptime"}}), chunks=6),
            text(json.dumps({"answer": "Up 3 days."}), chunks=3),
        ]
    )
    provider = provider_for("anthropic", srv, structured=True)
    events = await collect(provider, conversation(), [BASH])
    (call,) = done_of(events).message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("bash", {"command": "uptime"})
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert "tools" not in srv.requests[0].body
    history = [
        *conversation(),
        done_of(events).message,
        Message("tool", "up 3 days", tool_call_id=call.id, name="bash"),
    ]
    events = await collect(provider, history, [BASH])
    assert done_of(events).message == Message("assistant", "Up 3 days.")
    assert srv.requests[1].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": json.dumps({"tool": "bash", "arguments": {"command": "uptime"}}),
        },
        {"role": "user", "content": "Result of bash:\nup 3 days"},
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_structured_history_shows_earlier_answers_in_the_reply_shape(kind: str, srv: LLMServer) -> None:
    # A small model imitates what it sees: an earlier answer is shown as {"answer": ...}, the
    # shape it must write, not as plain text.
    srv.script([text(json.dumps({"answer": "ok"}))])
    history = [Message("user", "what is in /srv?"), Message("assistant", "Two directories."), Message("user", "and /opt?")]
    await collect(provider_for(kind, srv, structured=True), history, [BASH])
    sent = json.dumps(srv.requests[0].body["messages"])
    assert json.dumps(json.dumps({"answer": "Two directories."})) in sent


@pytest.mark.parametrize("kind", KINDS)
async def test_usage_is_reported_in_one_shape(kind: str, srv: LLMServer) -> None:
    srv.script([text("some answer text")])
    usage = done_of(await collect(provider_for(kind, srv), conversation(), [])).usage
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.parametrize("kind", KINDS)
async def test_finish_reason(kind: str, srv: LLMServer) -> None:
    srv.script([text("x"), tool_call("bash", {"command": "ls"})])
    assert (
        done_of(await collect(provider_for(kind, srv), conversation(), [BASH])).finish_reason
        == "stop"
    )
    assert (
        done_of(await collect(provider_for(kind, srv), conversation(), [BASH])).finish_reason
        == "tool_calls"
    )

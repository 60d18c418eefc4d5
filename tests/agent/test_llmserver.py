"""The scripted server itself: the standalone process, re-scripting over HTTP, non-streamed replies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_providers import provider_for

from aios.agent import Done, Message
from llmserver import EXHAUSTED, LLMServer, cut, text, tool_call

LLMSERVER = Path(__file__).resolve().parent.parent / "llmserver.py"


def test_script_is_plain_json() -> None:
    """The helpers build plain JSON, so a script file for the standalone server is the same thing."""
    script = [tool_call("bash", {"command": "ls"}, chunks=9), text("ok"), cut(text("x"), after=1)]
    assert json.loads(json.dumps(script)) == script


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps([tool_call("bash", {"command": "id"}, id="c0"), text("from the file")])
    )
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, str(LLMSERVER), "--port-file", str(port_file), "--script", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "llmserver did not write its port"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{int(port_file.read_text())}", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def final(provider: Any) -> Done:
    done = None
    async for event in provider.stream([Message("user", "hi")], []):
        done = event
    assert isinstance(done, Done)
    return done


async def test_standalone_process(standalone: tuple[str, subprocess.Popen[bytes]]) -> None:
    root, _proc = standalone
    async with httpx.AsyncClient(base_url=root) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/v1/models")).json()["data"][0]["id"] == "scripted"
        openai = provider_for("openai", f"{root}/v1")
        anthropic = provider_for("anthropic", root)
        first = await final(openai)
        assert first.message.tool_calls[0].id == "c0"
        assert (await final(anthropic)).message.content == "from the file"
        assert (await final(openai)).message.content == EXHAUSTED
        # Re-script at run time.
        answer = await client.post("/_script", json=[text("replaced", chunks=2)])
        assert answer.json() == {"queued": 1}
        await client.post("/_script", json={"replies": [text("appended")], "append": True})
        assert (await final(anthropic)).message.content == "replaced"
        assert (await final(openai)).message.content == "appended"
        requests = (await client.get("/_requests")).json()
        assert [r["path"] for r in requests] == [
            "/v1/chat/completions",
            "/v1/messages",
            "/v1/chat/completions",
            "/v1/messages",
            "/v1/chat/completions",
        ]
        assert requests[-1]["body"]["messages"] == [{"role": "user", "content": "hi"}]
        await client.post("/_reset")
        assert (await client.get("/_requests")).json() == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_non_streamed_replies(path: str) -> None:
    with LLMServer() as srv:
        srv.script([tool_call("bash", {"command": "ls"}, id="x1"), text("plain")])
        async with httpx.AsyncClient(base_url=srv.root_url) as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            first = (await client.post(path, json=body)).json()
            second = (await client.post(path, json=body)).json()
    if path == "/v1/messages":
        assert first["content"] == [
            {"type": "tool_use", "id": "x1", "name": "bash", "input": {"command": "ls"}}
        ]
        assert first["stop_reason"] == "tool_use"
        assert second["content"] == [{"type": "text", "text": "plain"}]
    else:
        call = first["choices"][0]["message"]["tool_calls"][0]
        assert (call["id"], call["function"]["arguments"]) == ("x1", '{"command": "ls"}')
        assert second["choices"][0]["message"]["content"] == "plain"

"""Chat end to end: the real daemon, the real CLI, a scripted model server, the real jail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness import BIN, Daemon, Env, connect, rpc
from llmserver import LLMServer, error, text, tool_call


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


@pytest.fixture
def chat_daemon(env: Env, llm: LLMServer) -> Iterator[Daemon]:
    env.write_config(
        f"""
[llm]
default_provider = "scripted"
[llm.providers.scripted]
kind = "openai"
base_url = "{llm.base_url}"
model = "scripted-model"
max_retries = 1
[recovery]
paths = ["{env.outside() / 'etc-like'}"]
packages = false
"""
    )
    (env.outside() / "etc-like").mkdir()
    d = env.start_daemon()
    try:
        yield d
    finally:
        d.kill()


def mems(env: Env, type_: str) -> list[dict[str, Any]]:
    with connect(env.socket) as s:
        out: list[dict[str, Any]] = rpc(s, "memory.search", {"query": "", "type": type_, "limit": 100})
        return out


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def test_chat_runs_a_tool_and_answers_with_its_output(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([tool_call("bash", {"command": "echo hello-from-the-tool"}, chunks=12), text("The tool said hello.", chunks=5)])
    proc = env.cli("chat", "say hello through a tool")
    assert proc.returncode == 0, proc.stderr
    assert "The tool said hello." in proc.stdout
    assert "▶ bash: echo hello-from-the-tool" in proc.stderr
    second = llm.requests[1].body
    assert any("hello-from-the-tool" in c for c in tool_messages(second))
    assert second["tools"][0]["type"] == "function"
    [chat] = mems(env, "Chat")
    assert chat["metadata"]["status"] == "ok" and chat["metadata"]["calls"][0]["exit_code"] == 0
    [cmd] = mems(env, "Command")
    assert cmd["content"] == "echo hello-from-the-tool"
    assert cmd["metadata"]["origin"] == "agent" and cmd["metadata"]["session"] == chat["metadata"]["session"]


def test_confirmation_denied_then_approved(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    target = env.outside() / "etc-like" / "motd"
    llm.script([tool_call("bash", {"command": f"echo hi > {target}"}), text("It was not allowed.")])
    denied = env.cli("chat", "write the motd")
    assert denied.returncode == 0, denied.stderr
    assert not target.exists()
    assert any("not run" in c for c in tool_messages(llm.requests[1].body))
    llm.script([tool_call("bash", {"command": f"echo hi > {target}"}), text("Done.")])
    approved = env.cli("chat", "--yes", "write the motd")
    assert approved.returncode == 0, approved.stderr
    assert target.read_text() == "hi\n"
    assert "aios restore" in approved.stderr  # snapshot-wrapped: the result says how to undo it
    snaps = env.cli_json("snapshots")
    assert [s["trigger"] for s in snaps] == ["pre-exec"]


def test_invalid_arguments_go_back_to_the_model(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([tool_call("bash", '{"command": 42}'), tool_call("bash", "{not json"), text("Sorry.")])
    proc = env.cli("chat", "do something")
    assert proc.returncode == 0, proc.stderr
    assert "Sorry." in proc.stdout
    errors = tool_messages(llm.requests[2].body)
    assert "invalid arguments" in errors[0] and "not valid JSON" in errors[1]


def test_sessions_resume_with_history(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([text("first answer")])
    first = json.loads(env.cli("chat", "--json", "remember the word pineapple").stdout)
    llm.script([text("second answer")])
    second = json.loads(env.cli("chat", "--json", "--session", first["session"], "what word?").stdout)
    assert second["session"] == first["session"]
    contents = [m["content"] for m in llm.requests[1].body["messages"]]
    assert "remember the word pineapple" in contents and "first answer" in contents
    listed = env.cli_json("sessions")
    assert listed[0]["session"] == first["session"] and listed[0]["turns"] == 2
    bad = env.cli("chat", "--session", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "hi")
    assert bad.returncode == 2 and "no session" in bad.stderr


def test_provider_failure_is_one_line_and_nothing_half_written(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([error(500), error(500), error(500)])
    proc = env.cli("chat", "hello")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "500" in proc.stderr
    assert mems(env, "Chat") == []


def test_a_failure_after_a_tool_ran_records_the_turn_as_failed(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([tool_call("bash", {"command": "echo did-run"}), error(500), error(500), error(500)])
    proc = env.cli("chat", "run something")
    assert proc.returncode == 1 and "500" in proc.stderr
    (chat,) = mems(env, "Chat")  # the tool acted, so the turn is on record, marked failed
    assert chat["metadata"]["status"] == "failed" and "500" in chat["metadata"]["error"]
    assert [c["tool"] for c in chat["metadata"]["calls"]] == ["bash"] and chat["metadata"]["calls"][0]["exit_code"] == 0
    assert any("echo did-run" in m["content"] for m in mems(env, "Command"))


def test_500_then_success(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    llm.script([error(500), text("recovered")])
    proc = env.cli("chat", "hello")
    assert proc.returncode == 0, proc.stderr
    assert "recovered" in proc.stdout and len(llm.requests) == 2


def test_client_disconnect_cancels_the_turn_and_its_tool(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    marker = f"aios-chat-cancel-{os.getpid()}"
    llm.script([tool_call("bash", {"command": f"exec -a {marker} sleep 300"}), text("never")])
    cli = subprocess.Popen([str(BIN / "aios"), "chat", "sleep a while"], env=env.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the tool never started")
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0:
        time.sleep(0.05)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0, "the tool survived"
    deadline = time.monotonic() + 5
    chats: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not chats:
        chats = mems(env, "Chat")
        time.sleep(0.05)
    assert [c["metadata"]["status"] for c in chats] == ["cancelled"]
    with connect(env.socket) as s:
        assert rpc(s, "ping") == "pong"


def test_memory_recall_puts_relevant_memories_before_the_request(env: Env, chat_daemon: Daemon, llm: LLMServer) -> None:
    added = env.cli_json("memory", "add", "the backup server is called zebrafish-7")
    llm.script([text("It is zebrafish-7.")])
    proc = env.cli("chat", "what is the backup server called? zebrafish")
    assert proc.returncode == 0, proc.stderr
    messages = llm.requests[0].body["messages"]
    assert "zebrafish-7" not in messages[0]["content"], "recalled text is data, never the system prompt"
    data = messages[-2]["content"]  # tests/agent/test_recall.py checks the fence and provenance
    assert added["id"] in data and "zebrafish-7" in data and data.startswith("UNTRUSTED DATA")



"""Audit records of the model's tool calls: the main agent's, a delegated sub-agent's, and a
read-only specialist's refusals, each naming the agent (issue 17)."""

from __future__ import annotations

import json
from typing import Any

from delegation import delegate, start, worker

from harness import Env, LineReader, connect
from llmserver import LLMServer, text, tool_call


def records(env: Env) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = env.cli_json("audit", "--limit", "1000")
    return out


def test_model_and_sub_agent_calls_name_their_agent(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, worker("a1"))
    try:
        servers["a1"].script([tool_call("bash", {"command": "echo from-a1"}), text("a1 done.")])
        servers["main"].script([
            tool_call("bash", {"command": "echo from-main"}),
            delegate({"agent": "a1", "task": "echo something"}),
            text("Both done."),
        ])
        proc = env.cli("chat", "--json", "do it")
        assert proc.returncode == 0, proc.stderr + d.log()
        by_subject = {r["subject"]: r for r in records(env)}
        main, sub = by_subject["echo from-main"], by_subject["echo from-a1"]
        assert main["agent"] == "main" and sub["agent"] == "a1"
        for r in (main, sub):
            assert r["client"] == "model" and r["decision"] == "allow" and r["exit_code"] == 0, r
            assert r["approved_how"] == "never-asked" and r["memory_id"]
        assert main["session"] and main["session"] == json.loads(proc.stdout)["session"]
        assert env.cli_json("audit", "verify")["ok"] is True
    finally:
        d.kill()


def test_a_read_only_specialists_refusal_is_recorded_with_its_name(env: Env, servers: dict[str, LLMServer]) -> None:
    target = env.outside() / "etc-like" / "probe"
    d = start(env, servers)
    try:
        servers["main"].script([tool_call("bash", {"command": f"touch {target}"}), text("Refused.")])
        proc = env.cli("chat", "--json", "--yes", "--agent", "investigator", "look around")
        assert proc.returncode == 0, proc.stderr + d.log()
        [refused] = [r for r in records(env) if r["subject"] == f"touch {target}"]
        assert refused["agent"] == "investigator" and refused["decision"] == "block"
        assert refused["rule"] == "agent.read-only" and refused["exit_code"] == 126
        assert json.loads(env.cli("audit", "verify", "--json").stdout)["ok"] is True
    finally:
        d.kill()


def test_a_session_grant_is_named_by_its_id(env: Env, servers: dict[str, LLMServer]) -> None:
    target = env.outside() / "etc-like" / "granted"
    d = start(env, servers)
    try:
        command = f"touch {target}"
        servers["main"].script([tool_call("bash", {"command": command}), tool_call("bash", {"command": command}), text("Twice.")])
        with connect(env.socket, timeout=60) as s:
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {"message": "touch it twice"}}).encode() + b"\n")
            reader, asked = LineReader(s), 0
            while True:
                msg = reader.read()
                if msg.get("method") == "confirm":
                    asked += 1
                    answer = {"approve": True, "how": "person", "remember": "session"}
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": answer}).encode() + b"\n")
                elif msg.get("id") == 1:
                    break
        assert asked == 1
        [grant] = env.cli_json("policy", "grants")
        first, second = sorted((r for r in records(env) if r["subject"] == command), key=lambda r: r["seq"])
        assert first["approved_how"] == "person" and first["grant_id"] is None
        assert second["approved_how"] == "grant" and second["grant_id"] == grant["id"], second
        assert second["client"] == "model" and second["decision"] == "confirm"
    finally:
        d.kill()


def test_the_model_cannot_alter_the_trail(env: Env, servers: dict[str, LLMServer]) -> None:
    db = env.state / "memory.db"
    d = start(env, servers)
    try:
        servers["main"].script([
            tool_call("bash", {"command": "echo before"}),
            tool_call("write", {"path": str(db), "content": "gone"}),
            tool_call("bash", {"command": f"sqlite3 {db} \"UPDATE audit SET fields = '{{}}'\""}),
            tool_call("bash", {"command": f"python3 -c \"import sqlite3; c = sqlite3.connect('{db}'); c.execute('DELETE FROM audit'); c.commit()\""}),
            text("Tried."),
        ])
        proc = env.cli("chat", "--json", "--yes", "tidy up the audit trail")
        assert proc.returncode == 0, proc.stderr + d.log()
        calls = json.loads(proc.stdout)["calls"]
        assert [c["exit_code"] != 0 for c in calls] == [False, True, True, True], calls
        kept = records(env)
        assert [r for r in kept if r["subject"] == "echo before"]
        assert len([r for r in kept if str(db) in r["subject"]]) == 3, "each attempt is itself on the trail"
        assert env.cli_json("audit", "verify")["ok"] is True
    finally:
        d.kill()

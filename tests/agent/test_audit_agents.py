"""Audit records of the model's tool calls: the main agent's, a delegated sub-agent's, and a
read-only specialist's refusals, each naming the agent (issue 17)."""

from __future__ import annotations

import json
from typing import Any

from delegation import delegate, start, worker

from harness import Env
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

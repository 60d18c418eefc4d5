"""Delegation seen from the person's side: confirmations of sub-agents, how their output is
shown, and delegation over Anthropic's native tool calls (real daemon, CLI, jails; scripted
model servers)."""

from __future__ import annotations

import json
from typing import Any

from delegation import delegate, delegate_result, start, worker

from harness import Env, LineReader, connect
from llmserver import LLMServer, text, tool_call


def test_a_sub_agents_confirmation_names_it_and_reaches_only_it(env: Env, servers: dict[str, LLMServer]) -> None:
    target = env.outside() / "etc-like" / "motd"
    d = start(env, servers, worker("a1") + worker("a2"))
    try:
        servers["a1"].script([tool_call("bash", {"command": f"echo approved > {target}"}), text("Wrote it.")])
        servers["a2"].script([tool_call("bash", {"command": "echo no-question"}), text("Echoed.")])
        servers["main"].script([delegate({"agent": "a1", "task": "write"}, {"agent": "a2", "task": "echo"}), text("ok")])
        asked: list[dict[str, Any]] = []
        notes: list[tuple[str, dict[str, Any]]] = []
        with connect(env.socket, timeout=60) as s:
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {"message": "two agents"}}).encode() + b"\n")
            reader = LineReader(s)
            while True:
                msg = reader.read()
                if msg.get("method") == "confirm":
                    asked.append(msg["params"])
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"approve": True, "how": "person"}}).encode() + b"\n")
                elif "method" in msg:
                    notes.append((msg["method"], msg.get("params", {})))
                else:
                    assert "result" in msg, msg
                    break
        assert [(a["agent"], a["task_index"], a["command"]) for a in asked] == [("a1", 0, f"echo approved > {target}")]
        assert target.read_text() == "approved\n"
        a1, a2 = delegate_result(servers["main"])
        assert (a1["status"], a1["calls"][0]["exit_code"]) == ("ok", 0) and a2["calls"][0]["decision"] == "allow"
        started = {p["agent"] for m, p in notes if m == "tool.started"}
        assert started == {"a1", "a2"}
        assert sorted((p["agent"], p["task_index"], p["status"]) for m, p in notes if m == "agent.finished") == [
            ("a1", 0, "ok"), ("a2", 1, "ok")]
        deltas = {p.get("agent"): "" for m, p in notes if m == "chat.delta"}
        for m, p in notes:
            if m == "chat.delta":
                deltas[p.get("agent")] += p["text"]
        assert deltas == {"a1": "Wrote it.", "a2": "Echoed.", None: "ok"}
        # On a terminal-less CLI the question is shown with the agent's name, and denied.
        servers["a1"].script([tool_call("bash", {"command": f"echo again > {target}"}), text("Denied.")])
        servers["main"].script([delegate({"agent": "a1", "task": "write"}), text("ok")])
        proc = env.cli("chat", "again")
        assert f"[a1 #1] bash: echo again > {target}" in proc.stderr and "denied: no terminal" in proc.stderr
        assert target.read_text() == "approved\n"
    finally:
        d.kill()


def test_delegation_over_anthropic_native_tool_calls(env: Env, servers: dict[str, LLMServer]) -> None:
    main = servers["main"]
    (env.outside() / "etc-like").mkdir(exist_ok=True)
    env.write_config(
        f"""
[llm]
default_provider = "claude"
[llm.providers.claude]
kind = "anthropic"
base_url = "{main.root_url}"
model = "scripted-claude"
max_retries = 1
[recovery]
paths = ["{env.outside() / 'etc-like'}"]
packages = false
"""
    )
    d = env.start_daemon()
    try:
        # The reviewer has no provider of its own: it shares the turn's (one task, so in order).
        main.script([
            delegate({"agent": "reviewer", "task": "Review: rm -rf /var/cache/apt/archives"}),
            text("Risk is low; it only removes downloaded packages."),
            text("The reviewer says it is safe."),
        ])
        proc = env.cli("chat", "--json", "is it safe to clear the apt cache?")
        assert proc.returncode == 0, proc.stderr + d.log()
        assert json.loads(proc.stdout)["text"] == "The reviewer says it is safe."
        first, sub, last = (r.body for r in main.requests)
        assert "delegate" in [t["name"] for t in first["tools"]]
        assert "You are the reviewer" in sub["system"] and sorted(t["name"] for t in sub["tools"]) == ["list", "read"]
        [result] = [b for m in last["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_result"]
        assert '"agent": "reviewer"' in result["content"] and '"status": "ok"' in result["content"]
        assert result["content"].startswith("<untrusted-data")
    finally:
        d.kill()


def test_confirmations_of_sub_agents_are_asked_one_at_a_time(env: Env, servers: dict[str, LLMServer]) -> None:
    targets = {name: env.outside() / "etc-like" / f"motd-{name}" for name in ("a1", "a2")}
    d = start(env, servers, worker("a1") + worker("a2"))
    try:
        for name, target in targets.items():
            servers[name].script([tool_call("bash", {"command": f"echo {name} > {target}"}), text(f"{name} wrote.")])
        servers["main"].script([delegate({"agent": "a1", "task": "w"}, {"agent": "a2", "task": "w"}), text("ok")])
        order: list[str] = []
        with connect(env.socket, timeout=60) as s:
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {"message": "both"}}).encode() + b"\n")
            reader = LineReader(s)
            pending: dict[str, Any] | None = None
            started: set[str] = set()
            while True:
                if pending is not None and started == {"a1", "a2"}:
                    # Both commands are waiting at the gate; nothing else may ask until this is answered.
                    s.settimeout(1.0)
                    try:
                        while True:
                            msg = reader.read()
                            assert msg.get("method") != "confirm", "a second question while one is open"
                    except TimeoutError:
                        pass
                    s.settimeout(60)
                    order.append(f"answer {pending['params']['agent']}")
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": pending["id"], "result": {"approve": True, "how": "person"}}).encode() + b"\n")
                    pending = None
                    continue
                msg = reader.read()
                if msg.get("method") == "confirm":
                    assert pending is None
                    order.append(f"ask {msg['params']['agent']}")
                    pending = msg
                    if len(order) > 1:  # the second question: the other agent is long past its tool.started
                        started = {"a1", "a2"}
                elif msg.get("method") == "tool.started":
                    started.add(msg["params"]["agent"])
                elif "result" in msg or "error" in msg:
                    break
        assert [o.split()[0] for o in order] == ["ask", "answer", "ask", "answer"]
        assert {o.split()[1] for o in order} == {"a1", "a2"}
        assert all(t.read_text() == f"{name}\n" for name, t in targets.items())
    finally:
        d.kill()


def test_two_tasks_of_one_specialist_stream_as_separate_blocks(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers)
    try:
        main = servers["main"]
        main.script([
            delegate({"agent": "reviewer", "task": "review A"}, {"agent": "reviewer", "task": "review B"}),
            text("alpha one\nalpha two\nalpha three", chunks=9, delay=0.02),
            text("beta one\nbeta two\nbeta three", chunks=9, delay=0.02),
            text("done"),
        ])
        proc = env.cli("chat", "two reviews")
        assert proc.returncode == 0, proc.stderr + d.log()
        labels: dict[str, set[str]] = {"alpha": set(), "beta": set()}
        for ln in proc.stderr.splitlines():
            for word in labels:
                if f" {word} " in ln + " ":
                    labels[word].add(ln.split("]")[0].strip())
                    assert ln.endswith(("one", "two", "three")), ln  # whole lines, never mixed
        assert len(labels["alpha"]) == 1 and len(labels["beta"]) == 1 and labels["alpha"] != labels["beta"], labels
        assert labels["alpha"] | labels["beta"] == {"[reviewer #1", "[reviewer #2"}
    finally:
        d.kill()

"""Delegation end to end: the real daemon and CLI, real jails, scripted model servers.

Sub-agents that run at the same time each get their own scripted server (a provider of their
own), so which reply reaches which agent does not depend on scheduling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest
from delegation import delegate, delegate_result, mems, start, ts, worker

from harness import BIN, Env
from llmserver import LLMServer, error, text, tool_call


def test_three_tasks_run_at_once_and_are_recorded_with_agent_and_parent(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, worker("a1") + worker("a2") + worker("a3"))
    try:
        for name in ("a1", "a2", "a3"):
            servers[name].script([tool_call("bash", {"command": f"sleep 2; echo done-{name}"}), text(f"{name} finished.")])
        servers["main"].script([
            delegate({"agent": "a1", "task": "first"}, {"agent": "a2", "task": "second"}, {"agent": "a3", "task": "third"}),
            text("All three finished."),
        ])
        proc = env.cli("chat", "--json", "do three things")
        assert proc.returncode == 0, proc.stderr + d.log()
        turn = json.loads(proc.stdout)
        assert turn["text"] == "All three finished."
        results = delegate_result(servers["main"])
        assert [(r["agent"], r["task"], r["status"]) for r in results] == [
            ("a1", "first", "ok"), ("a2", "second", "ok"), ("a3", "third", "ok")]
        assert results[0]["answer"] == "a1 finished." and results[0]["chosen_by"] == "model"
        assert results[1]["calls"] == [{"tool": "bash", "command": "sleep 2; echo done-a2", "decision": "allow", "exit_code": 0}]
        # Overlap from the records: every command started before any of them ended.
        cmds = [c for c in mems(env, "Command") if c["content"].startswith("sleep 2")]
        assert sorted(c["metadata"]["agent"] for c in cmds) == ["a1", "a2", "a3"]
        ends = [ts(c["created_at"]) for c in cmds]
        starts = [end - c["metadata"]["duration_s"] for end, c in zip(ends, cmds, strict=True)]
        assert max(starts) < min(ends), (starts, ends)
        # Records: each sub-agent turn is a Chat memory linked to the parent turn.
        chats = mems(env, "Chat")
        [parent] = [c for c in chats if c["id"] == turn["memory_id"]]
        subs = [c for c in chats if c["metadata"].get("agent")]
        assert sorted(s["metadata"]["agent"] for s in subs) == ["a1", "a2", "a3"]
        assert all(s["metadata"]["parent"] == parent["id"] for s in subs)
        assert all(s["metadata"]["turn"] == parent["metadata"]["turn"] == c["metadata"]["turn"] for s in subs for c in cmds)
        assert all("session" not in s["metadata"] for s in subs), "sub-agents are not turns of the session"
        # Sub-agents cannot delegate (depth 1); the main agent can.
        assert "delegate" in [t["function"]["name"] for t in servers["main"].requests[0].body["tools"]]
        assert "delegate" not in [t["function"]["name"] for t in servers["a1"].requests[0].body["tools"]]
    finally:
        d.kill()


def test_a_failing_or_slow_task_leaves_its_siblings_intact(env: Env, servers: dict[str, LLMServer]) -> None:
    marker = f"aios-deleg-timeout-{os.getpid()}"
    d = start(env, servers, worker("a1") + worker("a2") + worker("a3", timeout='"2s"'))
    try:
        servers["a1"].script([error(500), error(500), error(500)])
        servers["a2"].script([tool_call("bash", {"command": "echo sibling-ok"}), text("a2 is fine.")])
        servers["a3"].script([tool_call("bash", {"command": f"exec -a {marker} sleep 60"}), text("never")])
        servers["main"].script([
            delegate({"agent": "a1", "task": "fail"}, {"agent": "a2", "task": "work"}, {"agent": "a3", "task": "hang"}),
            text("Summary."),
        ])
        proc = env.cli("chat", "three tasks, one fails")
        assert proc.returncode == 0, proc.stderr + d.log()
        results = delegate_result(servers["main"])
        assert [r["status"] for r in results] == ["failed", "ok", "timeout"]
        assert "500" in results[0]["answer"]
        assert results[1]["answer"] == "a2 is fine." and results[1]["calls"][0]["exit_code"] == 0
        assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0, "the timed-out tool survived"
        # The CLI shows each sub-agent as a labelled block.
        assert "┌ [a2 #2] started" in proc.stderr and "└ [a1 #1] failed" in proc.stderr
        assert "[a2 #2] ▶ bash: echo sibling-ok" in proc.stderr
        statuses = {c["metadata"]["agent"]: c["metadata"]["status"] for c in mems(env, "Chat") if c["metadata"].get("agent")}
        assert statuses == {"a1": "failed", "a2": "ok", "a3": "timeout"}
    finally:
        d.kill()


def test_disconnect_cancels_every_sub_agent_and_kills_their_commands(env: Env, servers: dict[str, LLMServer]) -> None:
    markers = {name: f"aios-deleg-cancel-{name}-{os.getpid()}" for name in ("a1", "a2")}
    d = start(env, servers, worker("a1") + worker("a2"))
    try:
        for name, marker in markers.items():
            servers[name].script([tool_call("bash", {"command": f"exec -a {marker} sleep 300"}), text("never")])
        servers["main"].script([delegate({"agent": "a1", "task": "x"}, {"agent": "a2", "task": "y"}), text("never")])
        cli = subprocess.Popen([str(BIN / "aios"), "chat", "sleep in two agents"], env=env.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                running = [subprocess.run(["pgrep", "-f", m], capture_output=True).returncode == 0 for m in markers.values()]
                if all(running):
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the sub-agents' commands never both started")
        finally:
            cli.send_signal(signal.SIGKILL)
            cli.wait()
        deadline = time.monotonic() + 10
        alive = list(markers.values())
        while alive and time.monotonic() < deadline:
            alive = [m for m in alive if subprocess.run(["pgrep", "-f", m], capture_output=True).returncode == 0]
            time.sleep(0.05)
        assert not alive, f"survived: {alive}"
        deadline = time.monotonic() + 5
        subs: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(subs) < 2:
            subs = [c for c in mems(env, "Chat") if c["metadata"].get("agent")]
            time.sleep(0.05)
        assert sorted((s["metadata"]["agent"], s["metadata"]["status"]) for s in subs) == [("a1", "cancelled"), ("a2", "cancelled")]
        [main] = [c for c in mems(env, "Chat") if not c["metadata"].get("agent")]
        assert main["metadata"]["status"] == "cancelled" and all(s["metadata"]["parent"] == main["id"] for s in subs)
    finally:
        d.kill()


def test_a_sub_agent_never_gets_a_looser_mode(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, worker("a1", mode='"trusted"') + worker("a2", mode='"paranoid"'))
    try:
        servers["a1"].script([tool_call("bash", {"command": "rm -rf /"}), text("never")])
        servers["a2"].script([tool_call("bash", {"command": "rm -rf /"}), text("Refused.")])
        servers["main"].script([delegate({"agent": "a1", "task": "wipe"}, {"agent": "a2", "task": "wipe"}), text("ok")])
        proc = env.cli("chat", "wipe everything")
        assert proc.returncode == 0, proc.stderr + d.log()
        loose, strict = delegate_result(servers["main"])
        assert loose["status"] == "failed" and "looser" in loose["answer"] and "'trusted'" in loose["answer"]
        assert servers["a1"].requests == [], "the loose agent never ran"
        assert strict["calls"][0]["decision"] == "block"
        # Second spelling: talking to the loose agent directly.
        direct = env.cli("chat", "--agent", "a1", "wipe everything")
        assert direct.returncode != 0 and "looser" in direct.stderr and len(direct.stderr.strip().splitlines()) == 1
        assert servers["a1"].requests == []
    finally:
        d.kill()


def test_the_coordinator_picks_the_specialist_whose_description_fits(env: Env, servers: dict[str, LLMServer]) -> None:
    agents = (
        '[agents.dns]\ndescription = "Diagnoses DNS name resolution: resolv.conf, nameservers, dig and lookup failures."\n'
        'provider = "a1"\n'
        '[agents.certs]\ndescription = "Checks TLS certificates: expiry dates, chains and openssl output."\nprovider = "a2"\n'
    )
    d = start(env, servers, agents)
    try:
        servers["a1"].script([text("The nameserver is 10.0.0.2.")])
        servers["a2"].script([text("The certificate expires in 3 days.")])
        servers["main"].script([
            delegate({"task": "Why does name resolution fail for example.org? Check the nameservers."},
                     {"task": "When does the TLS certificate of this host expire?"}),
            text("ok"),
        ])
        proc = env.cli("chat", "two questions")
        assert proc.returncode == 0, proc.stderr + d.log()
        dns, certs = delegate_result(servers["main"])
        assert (dns["agent"], dns["chosen_by"], dns["answer"]) == ("dns", "coordinator", "The nameserver is 10.0.0.2.")
        assert (certs["agent"], certs["chosen_by"]) == ("certs", "coordinator")
        assert dns["score"] > 0 and certs["score"] > 0
    finally:
        d.kill()


def test_the_investigator_only_runs_what_changes_nothing(env: Env, servers: dict[str, LLMServer]) -> None:
    target = env.outside() / "etc-like" / "probe"
    d = start(env, servers)
    try:
        servers["main"].script([
            tool_call("bash", {"command": f"touch {target}"}),  # changes the system: refused
            tool_call("bash", {"command": "sudo ls /root"}),  # privileged (confirm): refused
            tool_call("bash", {"command": "echo looked-around"}),
            text("Looked around."),
        ])
        proc = env.cli("chat", "--json", "--yes", "--agent", "investigator", "look around")
        assert proc.returncode == 0, proc.stderr + d.log()
        result = json.loads(proc.stdout)
        assert result["agent"] == "investigator"
        assert not target.exists()
        assert [c["exit_code"] for c in result["calls"]] == [126, 126, 0]
        assert [c["rule"] for c in result["calls"][:2]] == ["agent.read-only", "agent.read-only"]
        bodies = [r.body for r in servers["main"].requests]
        refusals = [m["content"] for m in bodies[1]["messages"] if m["role"] == "tool"]
        assert "read-only" in refusals[0] and "changes the system" in refusals[0]
        assert "read-only" in [m["content"] for m in bodies[2]["messages"] if m["role"] == "tool"][1]
        # its prompt comes from the package text file; only its tools are offered
        assert "You are the investigator" in bodies[0]["messages"][0]["content"]
        assert sorted(t["function"]["name"] for t in bodies[0]["tools"]) == ["bash", "list", "read"]
        refused = [c for c in mems(env, "Command") if c["metadata"].get("rule") == "agent.read-only"]
        assert {c["metadata"]["agent"] for c in refused} == {"investigator"} and len(refused) == 2
    finally:
        d.kill()


def test_agents_list(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, worker("a1", mode='"safe"', tools='["bash"]'))
    try:
        rows = {r["name"]: r for r in env.cli_json("agents", "list")}
        assert sorted(rows) == ["a1", "investigator", "reviewer"]
        assert rows["a1"]["tools"] == ["bash"] and rows["a1"]["mode"] == "safe" and rows["a1"]["provider"] == "a1"
        assert rows["investigator"]["read_only"] and rows["investigator"]["builtin"]
        assert "write" not in rows["reviewer"]["tools"] and "bash" not in rows["reviewer"]["tools"]
        table = env.cli("agents", "list")
        assert table.returncode == 0 and "investigator" in table.stdout
        unknown = env.cli("chat", "--agent", "nobody", "hi")
        assert unknown.returncode == 2 and "no agent named 'nobody'" in unknown.stderr
    finally:
        d.kill()


def test_structured_models_get_delegate_only_when_configured(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, llm_extra="structured_output = true")
    try:
        servers["main"].script([text(json.dumps({"answer": "hi"}))])
        assert env.cli("chat", "hello").returncode == 0
        schema = json.dumps(servers["main"].requests[0].body["response_format"])
        assert '"delegate"' not in schema
    finally:
        d.kill()
    d = start(env, servers, "[agents]\nstructured = true\n", llm_extra="structured_output = true")
    try:
        servers["main"].script([text(json.dumps({"answer": "hi"}))])
        assert env.cli("chat", "hello").returncode == 0
        assert '"delegate"' in json.dumps(servers["main"].requests[-1].body["response_format"])
    finally:
        d.kill()


def test_max_parallel_bounds_how_many_tasks_run_at_once(env: Env, servers: dict[str, LLMServer]) -> None:
    d = start(env, servers, "[agents]\nmax_parallel = 2\n" + worker("a1") + worker("a2") + worker("a3"))
    try:
        for name in ("a1", "a2", "a3"):
            servers[name].script([tool_call("bash", {"command": f"sleep 0.5; echo bound-{name}"}), text("ok")])
        servers["main"].script([
            delegate({"agent": "a1", "task": "x"}, {"agent": "a2", "task": "y"}, {"agent": "a3", "task": "z"}), text("ok")])
        proc = env.cli("chat", "three tasks, two slots")
        assert proc.returncode == 0, proc.stderr + d.log()
        cmds = [c for c in mems(env, "Command") if c["content"].startswith("sleep 0.5")]
        spans = sorted((ts(c["created_at"]) - c["metadata"]["duration_s"], ts(c["created_at"])) for c in cmds)
        assert len(spans) == 3
        # At no moment were three running: the last to start began after the first had ended.
        assert spans[2][0] >= min(end for _start, end in spans[:2])
        assert spans[1][0] < spans[0][1], "two did run at once"
    finally:
        d.kill()

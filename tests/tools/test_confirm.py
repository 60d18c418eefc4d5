"""The confirmation round trip over the real socket, and remembered approvals (grants)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from harness import Env, LineReader, connect, rpc


def call_tool(sock: socket.socket, command: str, answer: Any, *, id: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Call tools.call for a bash command; answer each ``confirm`` with ``answer(params)``
    (None: do not answer). Returns the response and the confirm requests seen."""
    req = {"jsonrpc": "2.0", "id": id, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": command}}}
    sock.sendall(json.dumps(req).encode() + b"\n")
    reader = LineReader(sock)
    asked = []
    while True:
        msg = reader.read()
        if msg.get("method") == "confirm":
            asked.append(msg["params"])
            reply = answer(msg["params"])
            if reply is not None:
                sock.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": reply}).encode() + b"\n")
        elif msg.get("id") == id:
            return msg, asked


def commands(env: Env) -> list[dict[str, Any]]:
    with connect(env.socket) as s:
        out: list[dict[str, Any]] = rpc(s, "memory.search", {"query": "", "type": "Command", "limit": 100})
        return out


@pytest.fixture
def target(env: Env) -> str:
    return str(env.outside() / "file")


def test_person_approves_and_denies(env: Env, target: str) -> None:
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=30) as s:
            msg, asked = call_tool(s, f"touch {target}", lambda p: {"approve": False, "how": "person"})
            assert msg["result"]["metadata"]["exit_code"] == 126 and len(asked) == 1
            assert asked[0]["decision"] == "confirm" and asked[0]["rule"] and asked[0]["changes_system"]
            msg, _ = call_tool(s, f"touch {target}", lambda p: {"approve": True, "how": "person"}, id=2)
            assert msg["result"]["ok"], msg
        hows = sorted(m["metadata"].get("approved_how") for m in commands(env))
        assert hows == ["person", "person"]
    finally:
        d.kill()


def test_no_answer_within_the_timeout_is_a_denial(env: Env, target: str) -> None:
    env.write_config('[security]\nconfirm_timeout = "1s"\n')
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=30) as s:
            start = time.monotonic()
            msg, asked = call_tool(s, f"touch {target}", lambda p: None)
            assert 0.9 < time.monotonic() - start < 15
        meta = msg["result"]["metadata"]
        assert meta["exit_code"] == 126 and meta["approved_how"] == "timeout"
        assert asked and asked[0]["timeout_s"] == 1.0
    finally:
        d.kill()


def test_client_that_disconnects_while_asked_runs_nothing(env: Env, target: str) -> None:
    d = env.start_daemon()
    try:
        s = connect(env.socket, timeout=30)
        req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": f"touch {target}"}}}
        s.sendall(json.dumps(req).encode() + b"\n")
        assert LineReader(s).read().get("method") in ("tool.started", "confirm")
        s.close()
        time.sleep(1.0)
        assert not __import__("os").path.exists(target)
        with connect(env.socket) as s2:
            assert rpc(s2, "ping") == "pong"
    finally:
        d.kill()


def test_session_grant_covers_the_exact_command_only(env: Env, target: str) -> None:
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=30) as s:
            params = {"tool": "bash", "arguments": {"command": f"touch {target}"}, "session": "S1"}
            req = lambda i, p: json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools.call", "params": p}).encode() + b"\n"  # noqa: E731
            reader = LineReader(s)
            s.sendall(req(1, params))
            asked = 0
            while True:
                msg = reader.read()
                if msg.get("method") == "confirm":
                    asked += 1
                    s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"approve": True, "how": "person", "remember": "session"}}).encode() + b"\n")
                elif msg.get("id") == 1:
                    break
            assert asked == 1
        grants = env.cli_json("policy", "grants")
        assert [g["kind"] for g in grants] == ["session"] and grants[0]["command"] == f"touch {target}"
    finally:
        d.kill()


def test_prefix_grants_list_revoke_and_refuse_too_broad(env: Env, target: str) -> None:
    d = env.start_daemon()
    try:
        before = json.loads(env.cli("policy", "check", "--json", "--", f"touch {target}").stdout)
        assert before["decision"] == "confirm"
        broad = env.cli("policy", "grant", "--", "bash")
        assert broad.returncode == 2 and "refusing" in broad.stderr
        grant = json.loads(env.cli("policy", "grant", "--json", "--", "touch", target).stdout)
        after = json.loads(env.cli("policy", "check", "--json", "--", f"touch {target}").stdout)
        assert after["decision"] == "allow"
        blocked = json.loads(env.cli("policy", "check", "--json", "--", "rm -rf /").stdout)
        assert blocked["decision"] == "block"
        listed = env.cli_json("policy", "grants")
        assert listed[0]["id"] == grant["id"] and listed[0]["prefix"] == ["touch", target]
        env.cli_json("policy", "revoke", grant["id"])
        again = json.loads(env.cli("policy", "check", "--json", "--", f"touch {target}").stdout)
        assert again["decision"] == "confirm"
        assert env.cli("policy", "revoke", grant["id"]).returncode == 2
    finally:
        d.kill()


def test_doctor_explains_a_missing_bubblewrap(env: Env) -> None:
    ok = env.cli("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(ok.stdout)}
    assert checks["sandbox"]["ok"], checks
    bad = env.cli("doctor", env={"AIOS_SANDBOX__BWRAP": "/nonexistent/bwrap"})
    assert bad.returncode == 1
    assert "FAIL sandbox" in bad.stdout and "apt-get install bubblewrap" in bad.stdout

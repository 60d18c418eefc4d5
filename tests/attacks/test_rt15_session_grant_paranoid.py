"""rt15: a "remember for this session" approval given in normal mode keeps approving in paranoid mode.

Paranoid mode means every allowed command is confirmed by a person, each time (docs/security.md,
modes table), and it refuses ``--yes``. The gate (``tools._gate.gate``) answers any command
already in the session's grants with ``Approval(True, "grant")`` whatever the mode, so a turn
in paranoid mode runs a system change nobody confirmed. A hot reload that tightens the mode to
paranoid carries the session grants over (``build_services(previous=...)``), so the same happens
to every later turn of that session after the administrator tightened the daemon.
"""

from __future__ import annotations

import json
from typing import Any

from harness import Env, LineReader, connect
from llmserver import LLMServer, text, tool_call


def chat(env: Env, message: str, *, deny: bool = False, **params: Any) -> tuple[dict[str, Any], int]:
    """One chat turn over the protocol; approves every confirm (remember: session), or denies it."""
    with connect(env.socket, timeout=60) as s:
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {"message": message, **params}}).encode() + b"\n")
        reader, asked = LineReader(s), 0
        while True:
            msg = reader.read()
            if msg.get("method") == "confirm":
                asked += 1
                answer = {"approve": False, "how": "person"} if deny else {"approve": True, "how": "person", "remember": "session"}
                s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": answer}).encode() + b"\n")
            elif msg.get("id") == 1:
                assert "result" in msg, msg
                result: dict[str, Any] = msg["result"]
                return result, asked


def test_a_session_grant_from_normal_mode_approves_in_paranoid_mode(env: Env) -> None:
    seen = env.outside()
    command = f"ls {seen}"  # confirmed in normal mode (require_confirm), and in paranoid mode (allow list)
    with LLMServer() as srv:
        env.write_config(f'[security]\nallow = ["ls"]\nrequire_confirm = ["ls /srv/"]\n[llm]\ndefault_provider = "m"\n[llm.providers.m]\n'
                         f'kind = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m"\nmax_retries = 1\n')
        d = env.start_daemon()
        try:
            srv.script([tool_call("bash", {"command": command}), text("done"),
                        tool_call("bash", {"command": command}), text("again")])
            first, asked = chat(env, "ls it")
            assert asked == 1, first
            _, asked = chat(env, "ls it again", deny=True, session=first["session"], mode="paranoid")
            records = sorted((r for r in env.cli_json("audit") if r["subject"] == command), key=lambda r: r["seq"])
            assert [r["decision"] for r in records] == ["confirm", "confirm"], records
            assert asked == 1 and records[-1]["approved_how"] != "grant", \
                f"paranoid mode ran it without asking anyone (asked {asked}): {[r['approved_how'] for r in records]}"
        finally:
            d.kill()


def test_a_reload_to_paranoid_keeps_the_sessions_grants(env: Env) -> None:
    from harness import rpc

    seen = env.outside()
    command = f"ls {seen}"
    with LLMServer() as srv:
        llm = (f'[llm]\ndefault_provider = "m"\n[llm.providers.m]\n'
               f'kind = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m"\nmax_retries = 1\n')
        env.write_config(f'[security]\nallow = ["ls"]\nrequire_confirm = ["ls /srv/"]\n{llm}')
        d = env.start_daemon()
        try:
            srv.script([tool_call("bash", {"command": command}), text("done"),
                        tool_call("bash", {"command": command}), text("again")])
            first, asked = chat(env, "ls it")
            assert asked == 1, first
            # The administrator tightens the daemon: paranoid mode, each command confirmed by a person.
            env.write_config(f'[security]\nmode = "paranoid"\nallow = ["ls"]\nrequire_confirm = ["ls /srv/"]\n{llm}')
            with connect(env.socket) as s:
                assert not rpc(s, "config.reload", {})["errors"]
            assert env.cli_json("status")["mode"] == "paranoid"
            _, asked = chat(env, "ls it again", deny=True, session=first["session"])
            records = sorted((r for r in env.cli_json("audit") if r["subject"] == command), key=lambda r: r["seq"])
            assert asked == 1 and records[-1]["approved_how"] != "grant", \
                f"after the reload to paranoid it ran without asking anyone: {[r['approved_how'] for r in records]}"
        finally:
            d.kill()

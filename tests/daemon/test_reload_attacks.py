"""Issue 15, hot reload under attack: who may reload, and what a reload may never loosen.

A real second local uid (created per test, deleted afterwards) is allowed on a real daemon's
socket. It must not be able to make the daemon reload (config.reload is the owner's and root's);
and a reload must never loosen a pinned setting, nor let in a uid the daemon did not start with.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from typing import Any

from harness import Env, connect, rpc

# The venv's interpreter lives under /root, which another user cannot enter.
SYSTEM_PYTHON = "/usr/bin/python3"

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass  # a refused peer: the daemon sent its error and closed; read it below
buf = b""
while b"\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip() or json.dumps({"closed": True}))
"""

PERMISSION_DENIED = -32004


def as_user(env: Env, user: pwd.struct_passwd, message: dict[str, Any]) -> dict[str, Any]:
    """Send one raw JSON-RPC message as ``user``; return the daemon's answer."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", CLIENT, str(env.socket), json.dumps(message)],
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/", capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


def open_socket(env: Env) -> None:
    for p in (env.root, env.run_dir):
        os.chmod(p, 0o755)
    os.chmod(env.socket, 0o666)


def call(env: Env, method: str) -> Any:
    with connect(env.socket) as s:
        return rpc(s, method)


def test_another_user_may_not_reload(env: Env, other_user: pwd.struct_passwd) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\nwatch_config = false\n[security]\nmode = "paranoid"\n')
    d = env.start_daemon()
    try:
        open_socket(env)
        # The owner loosened the file but has not reloaded yet; the other user tries to do it for them.
        env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\nwatch_config = false\n[security]\nmode = "normal"\n')
        for message in ({"jsonrpc": "2.0", "id": 1, "method": "config.reload"},
                        {"jsonrpc": "2.0", "id": "x", "method": "config.reload", "params": {}}):
            answer = as_user(env, other_user, message)
            assert answer.get("error", {}).get("code") == PERMISSION_DENIED, answer
            assert "may not reload" in answer["error"]["message"]
        assert call(env, "status")["mode"] == "paranoid"
        assert "config reloaded" not in d.log()
    finally:
        d.kill()


def test_an_approver_is_not_an_administrator(env: Env, other_user: pwd.struct_passwd) -> None:
    """Members of daemon.approver_gids may approve other users' requests; reloading the daemon's
    config is still the owner's and root's alone."""
    gid = other_user.pw_gid
    env.write_config(f'[daemon]\nallowed_gids = [{gid}]\napprover_gids = [{gid}]\nwatch_config = false\n')
    d = env.start_daemon()
    try:
        open_socket(env)
        answer = as_user(env, other_user, {"jsonrpc": "2.0", "id": 1, "method": "config.reload"})
        assert answer.get("error", {}).get("code") == PERMISSION_DENIED, answer
    finally:
        d.kill()


def test_a_reload_cannot_let_in_a_uid_the_daemon_did_not_start_with(env: Env, other_user: pwd.struct_passwd) -> None:
    """Who may connect is fixed at start: a reload that widens it is named as needing a restart,
    and the uid stays refused until then. Two spellings: by uid, and by group."""
    env.write_config("[daemon]\nwatch_config = false\n")
    d = env.start_daemon()
    try:
        open_socket(env)
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert as_user(env, other_user, ping)["error"]["code"] == PERMISSION_DENIED
        for key, value in (("allowed_uids", other_user.pw_uid), ("allowed_gids", other_user.pw_gid)):
            env.write_config(f"[daemon]\nwatch_config = false\n{key} = [{value}]\n")
            reply = call(env, "config.reload")
            assert reply["errors"] == [] and f"daemon.{key}" in reply["needs_restart"], reply
            answer = as_user(env, other_user, ping)
            assert answer.get("error", {}).get("code") == PERMISSION_DENIED, answer
    finally:
        d.kill()


def test_a_reload_cannot_loosen_a_pin(env: Env) -> None:
    """The system config pins the mode and the paranoid allow list; a user file that loosens
    either (two spellings) is refused whole, the reply names the pinned key, and the pinned
    values stay in force."""
    env.system_config.write_text('[pin.security]\nmode = "paranoid"\nallow = ["ls"]\n')
    env.write_config('[daemon]\nwatch_config = false\n[security]\nmode = "paranoid"\n')
    d = env.start_daemon()
    try:
        for loosen, key in (('mode = "trusted"', "security.mode"), ('mode = "paranoid"\nallow = ["ls", "rm"]', "security.allow")):
            env.write_config(f"[daemon]\nwatch_config = false\n[security]\n{loosen}\n")
            reply = call(env, "config.reload")
            assert reply["pinned"] == [key] and reply["errors"], reply
            assert any("pin.security" in e["message"] for e in reply["errors"])
            proc = env.cli("config", "reload")
            assert proc.returncode == 1 and "pinned" in proc.stderr and key in proc.stderr
            status = call(env, "status")
            assert status["mode"] == "paranoid" and status["config"]["state"] == "error"
        with connect(env.socket) as s:
            decision = rpc(s, "policy.check", {"command": "rm -rf x"})
        assert decision["decision"] == "block"  # rm is not on the pinned allow list
    finally:
        d.kill()

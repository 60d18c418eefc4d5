"""rt15: a refused or pending action leaves no audit record when its client hangs up.

"Blocked and refused actions are recorded too" (docs/audit.md). The refusal is written by the
gate (``_gate._refuse`` -> ``ctx.record``) inside the request, after the verdict has been sent to
the client (``tool.started`` carries it). A client that hangs up at that moment cancels the
request, and the record is never written: a caller can try blocked commands, or ask for an
escalation that an approver sees in ``aios approvals``, and withdraw by hanging up, leaving no
trace in the trail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

from harness import Daemon, Env, LineReader, connect


def _subjects(env: Env) -> list[str]:
    out: list[dict[str, Any]] = env.cli_json("audit", "--limit", "1000")
    return [str(r.get("subject")) for r in out]


def _call_until(env: Env, command: str, method: str) -> dict[str, Any]:
    """tools.call ``command``; hang up as soon as a ``method`` notification arrives; return it."""
    with connect(env.socket) as s:
        req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": command}}}
        s.sendall(json.dumps(req).encode() + b"\n")
        reader = LineReader(s)
        while True:
            msg = reader.read()
            if msg.get("method") == method:
                params: dict[str, Any] = msg["params"]
                return params
            assert msg.get("id") != 1, msg


def test_a_blocked_command_is_unrecorded_when_the_client_hangs_up_on_the_verdict(env: Env, daemon: Daemon) -> None:
    started = _call_until(env, "rm -rf /", "tool.started")
    assert started["decision"] == "block", started  # the policy has decided
    time.sleep(2)
    assert "rm -rf /" in _subjects(env), "a blocked attempt left no audit record"


def test_a_confirmation_abandoned_by_hanging_up_is_unrecorded(env: Env, daemon: Daemon) -> None:
    command = f"touch {env.outside()}/asked"
    asked = _call_until(env, command, "confirm")
    assert asked["decision"] == "confirm"
    time.sleep(2)
    assert command in _subjects(env), "an action that was put to the person left no audit record"


WITHDRAW = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": sys.argv[2]}}}
s.sendall(json.dumps(req).encode() + b"\n")
buf = b""
while True:
    while b"\n" not in buf:
        buf += s.recv(65536)
    line, _, buf = buf.partition(b"\n")
    if json.loads(line).get("method") == "approval.pending":
        break
s.close()
"""


def test_another_uids_escalation_withdrawn_by_hanging_up_is_unrecorded(env: Env, other_user: Any) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    command = f"touch {env.outside()}/escalation-{os.getpid()}"
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(env.socket, 0o666)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)
        proc = subprocess.run(["/usr/bin/python3", "-c", WITHDRAW, str(env.socket), command], user=other_user.pw_uid,
                              group=other_user.pw_gid, extra_groups=[], cwd="/", capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr  # an approver was shown the request
        time.sleep(2)
        assert command in _subjects(env), "another uid's escalation request, withdrawn by hanging up, left no audit record"
    finally:
        d.kill()

"""rt15: an action that ran leaves NO audit record when its caller goes away mid-run.

The audit record is appended from the ``Command`` memory each tool writes *after* the command
finished (``_tooling.tool_context.record``). A client that hangs up while the jailed command runs
cancels the request: the command is killed, but whatever it already did stays done, and neither
the memory nor the audit record is ever written. "Every decision the daemon makes on a command
... is one audit record" (issue 15) does not hold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import BIN, Daemon, Env, connect
from llmserver import LLMServer, text, tool_call


def _records(env: Env) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = env.cli_json("audit", "--limit", "1000")
    return out


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _settle(daemon: Daemon) -> None:
    """Give the daemon time to finish its cancelled request (and write whatever it writes)."""
    time.sleep(2.0)
    assert daemon.proc.poll() is None, daemon.log()


def test_protocol_client_hanging_up_mid_command_leaves_no_record(env: Env, daemon: Daemon) -> None:
    marker = env.workspace / f"rt15-ran-{os.getpid()}"
    command = f"touch {marker}; sleep 30"
    assert env.cli("run", "--", "echo control").returncode == 0
    assert [r for r in _records(env) if r.get("subject") == "echo control"], "control: a finished call is recorded"
    with connect(env.socket) as s:
        req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call",
               "params": {"tool": "bash", "arguments": {"command": command}}}
        s.sendall(json.dumps(req).encode() + b"\n")
        _wait_for(marker)  # the action happened
    _settle(daemon)
    try:
        found = [r for r in _records(env) if r.get("subject") == command]
        assert found, "the command ran (its marker exists) but the audit trail has no record of it"
    finally:
        marker.unlink(missing_ok=True)


def test_model_tool_call_cut_by_a_killed_chat_leaves_no_record(env: Env) -> None:
    marker = env.workspace / f"rt15-model-{os.getpid()}"
    command = f"touch {marker}; sleep 30"
    with LLMServer() as srv:
        env.write_config(f'[llm]\ndefault_provider = "m"\n[llm.providers.m]\nkind = "openai"\n'
                         f'base_url = "{srv.base_url}"\nmodel = "m"\nmax_retries = 1\n')
        d = env.start_daemon()
        try:
            srv.script([tool_call("bash", {"command": command}), text("done")])
            chat = subprocess.Popen([str(BIN / "aios"), "chat", "--json", "do it"], env=env.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                _wait_for(marker)
            finally:
                os.killpg(chat.pid, signal.SIGKILL)
                chat.wait()
            _settle(d)
            found = [r for r in _records(env) if r.get("subject") == command]
            assert found, "the model's command ran (its marker exists) but the audit trail has no record of it"
        finally:
            marker.unlink(missing_ok=True)
            d.kill()


HANG_UP = r"""
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": sys.argv[2]}}}
s.sendall(json.dumps(req).encode() + b"\n")
deadline = time.monotonic() + 30
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()
"""


def test_another_uid_hanging_up_leaves_no_record(env: Env, other_user: Any) -> None:
    env.write_config(f"[daemon]\nallowed_uids = [{other_user.pw_uid}]\n")
    d = env.start_daemon()
    marker = env.workspace / f"rt15-other-{os.getpid()}"
    command = f"touch {marker}; sleep 30"
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(env.socket, 0o666)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)  # a test directory: theirs to work in
        proc = subprocess.run(["/usr/bin/python3", "-c", HANG_UP, str(env.socket), command, str(marker)],
                              user=other_user.pw_uid, group=other_user.pw_gid, extra_groups=[], cwd="/",
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert marker.exists(), "the other user's command ran"
        _settle(d)
        found = [r for r in _records(env) if r.get("subject") == command]
        assert found, "another uid's command ran (its marker exists) but the audit trail has no record of it"
    finally:
        marker.unlink(missing_ok=True)
        d.kill()

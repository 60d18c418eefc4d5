"""rt15: an approver's denial is recorded with the requester's terminal as the approver's.

When an approver denies another user's request, ``_confirm._wait_for_approver`` returns
``Approval(False, "person", by=<approver>)``; ``_methods_audit.audit_call`` then treats it as a
person answering on the request's own client and reads ``approver_tty`` from the *requester's*
process (``approver_tty(ctx.peer.pid)``). The record says: approved_how person, approver uid =
the approver, approver tty = the requester's terminal. The "who decided, and where" of the
record is wrong, and a requester decides what terminal the trail names for the approver.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from typing import Any

from harness import Env

ONE_CALL = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": json.loads(sys.argv[2])}).encode() + b"\n")
buf = b""
while True:
    while b"\n" not in buf:
        buf += s.recv(65536)
    line, _, buf = buf.partition(b"\n")
    if json.loads(line).get("id") == 1:
        print(line.decode())
        break
"""


def test_an_approvers_denial_names_the_requesters_terminal(env: Env, other_user: Any) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    master, slave = pty.openpty()
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(env.socket, 0o666)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)
        requester_tty = os.ttyname(slave)
        command = f"touch {env.outside()}/denied"
        params = {"tool": "bash", "arguments": {"command": command}}
        proc = subprocess.Popen(["/usr/bin/python3", "-c", ONE_CALL, str(env.socket), json.dumps(params)],
                                user=other_user.pw_uid, group=other_user.pw_gid, extra_groups=[], cwd="/",
                                stdin=slave, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        pending: list[dict[str, Any]] = []
        while not pending and time.monotonic() < deadline:
            pending = env.cli_json("approvals")
            time.sleep(0.2)
        assert pending, d.log()
        assert env.cli("deny", pending[0]["id"]).returncode == 0  # the owner, not on the requester's terminal
        proc.communicate(timeout=60)
        [record] = [r for r in env.cli_json("audit") if r["subject"] == command]
        assert record["approver_uid"] == os.getuid() and record["approved"] is False, record
        assert record["approver_tty"] != requester_tty, \
            f"the approver's denial is recorded as given on the requester's terminal {requester_tty}: {record}"
    finally:
        os.close(master)
        os.close(slave)
        d.kill()

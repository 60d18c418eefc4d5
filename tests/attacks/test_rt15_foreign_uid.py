"""rt15: another uid reads other containers' records that merely carry the same uid number.

``audit.list``/``audit.follow`` show a caller other than the owner "only the records of its own
requests" by filtering on ``requester_uid`` alone. The trail holds every origin sharing the
store: uid 1000 inside container c2 is not uid 1000 on this host, yet a local user with that uid
sees every command c2's user ran (and what was blocked, and who approved it). Two spellings:
``audit.list`` and ``audit.follow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

from aios.memory import AuditLog
from harness import Env

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(float(sys.argv[3]))
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": {"limit": 100}}).encode() + b"\n")
buf, seen = b"", []
try:
    while True:
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise TimeoutError
            buf += chunk
        line, _, buf = buf.partition(b"\n")
        msg = json.loads(line)
        if msg.get("method") == "audit.record":
            seen.append(msg["params"])
        elif msg.get("id") == 1:
            seen.extend(msg.get("result") or [])
            break
except (TimeoutError, OSError):
    pass
print(json.dumps(seen))
"""


def _container_c2_appends(env: Env, uid: int, subject: str) -> None:
    log = AuditLog.open(env.state / "memory.db", origin="c2")  # what container c2's daemon writes to the shared store
    try:
        log.append({"decision": "allow", "tool": "bash", "subject": subject, "requester_uid": uid})
    finally:
        log.close()


def _as_other(env: Env, other_user: Any, method: str, wait: float) -> subprocess.Popen[str]:
    return subprocess.Popen(["/usr/bin/python3", "-c", CLIENT, str(env.socket), method, str(wait)], user=other_user.pw_uid,
                            group=other_user.pw_gid, extra_groups=[], cwd="/", stdout=subprocess.PIPE, text=True)


def _setup(env: Env, other_user: Any) -> None:
    for p in (env.root, env.run_dir):
        os.chmod(p, 0o755)
    os.chmod(env.socket, 0o666)


def test_audit_list_shows_another_containers_records_to_a_same_numbered_uid(env: Env, other_user: Any) -> None:
    env.write_config(f"[daemon]\nallowed_uids = [{other_user.pw_uid}]\n")
    d = env.start_daemon()
    try:
        _setup(env, other_user)
        _container_c2_appends(env, other_user.pw_uid, "cat /srv/c2-private/payroll.csv")
        out, _ = _as_other(env, other_user, "audit.list", 10).communicate(timeout=60)
        seen = [r["subject"] for r in json.loads(out)]
        assert seen == [], f"a local user read container c2's records: {seen}"
    finally:
        d.kill()


def test_audit_follow_streams_another_containers_records_to_a_same_numbered_uid(env: Env, other_user: Any) -> None:
    env.write_config(f"[daemon]\nallowed_uids = [{other_user.pw_uid}]\n")
    d = env.start_daemon()
    try:
        _setup(env, other_user)
        follower = _as_other(env, other_user, "audit.follow", 4)
        time.sleep(1.5)
        _container_c2_appends(env, other_user.pw_uid, "cat /srv/c2-private/payroll.csv")
        out, _ = follower.communicate(timeout=60)
        seen = [r["subject"] for r in json.loads(out)]
        assert seen == [], f"a local user was sent container c2's records: {seen}"
    finally:
        d.kill()

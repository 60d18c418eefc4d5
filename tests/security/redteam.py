"""Helpers of the red-team boundary tests: a second local uid talking to a real root daemon.

The client runs as the throwaway uid with the system interpreter (the venv lives under /root,
which another user cannot enter). It sends one request and answers every ``confirm`` it is
sent with "approve", as an attacker's client would; it prints every message it receives.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import subprocess
from typing import Any

from harness import Env

SYSTEM_PYTHON = "/usr/bin/python3"

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, **json.loads(sys.argv[2])}).encode() + b"\n")
buf = b""
while True:
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(0)
        buf += chunk
    line, _, buf = buf.partition(b"\n")
    msg = json.loads(line)
    print(json.dumps(msg), flush=True)
    if msg.get("method") == "confirm":
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"approve": True, "how": "person"}}).encode() + b"\n")
    elif msg.get("id") == 1 and "method" not in msg:
        sys.exit(0)
"""


def as_user(env: Env, user: pwd.struct_passwd, method: str, params: dict[str, Any] | None = None,
            timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send one request as ``user``; (the final reply, every message received)."""
    request = {"method": method, "params": params or {}}
    proc = subprocess.run([SYSTEM_PYTHON, "-c", CLIENT, str(env.socket), json.dumps(request)],
                          user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                          capture_output=True, text=True, timeout=timeout)
    msgs = []
    for line in proc.stdout.splitlines():
        try:
            msgs.append(json.loads(line))
        except ValueError:
            msgs.append({"raw": line})
    finals = [m for m in msgs if m.get("id") == 1 and "method" not in m]
    assert finals, (proc.stdout, proc.stderr)
    return finals[0], msgs


def open_socket(env: Env) -> None:
    """Let another uid reach the socket (the daemon still checks allowed_uids)."""
    for p in (env.root, env.run_dir):
        os.chmod(p, 0o755)
    os.chmod(env.socket, 0o666)


def secret_dir(env: Env) -> tuple[os.PathLike[str], str]:
    """A root-only directory (0700) holding a root-only file with a unique token."""
    token = f"RTSECRET{secrets.token_hex(6)}"
    d = env.root / "rootonly"
    d.mkdir(mode=0o700)
    f = d / f"name-{token}"
    f.write_text(token + "\n")
    f.chmod(0o600)
    return d, token


def start_as_user(env: Env, user: pwd.struct_passwd, method: str, params: dict[str, Any]) -> subprocess.Popen[str]:
    """Like :func:`as_user`, but returns at once: read its stdout for the messages."""
    request = {"method": method, "params": params}
    return subprocess.Popen([SYSTEM_PYTHON, "-c", CLIENT, str(env.socket), json.dumps(request)],
                            user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(proc: subprocess.Popen[str], method: str) -> dict[str, Any]:
    """Read the client's messages until a notification ``method`` arrives."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except ValueError:
            seen.append(line)
            continue
        seen.append(msg)
        if msg.get("method") == method:
            return msg  # type: ignore[no-any-return]
    raise AssertionError(f"no {method}: {seen}")

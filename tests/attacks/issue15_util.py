"""Shared helpers of the issue 15 attack tests: another uid's raw client, the outside marker."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
from pathlib import Path

from issue15_assume import status_mode

from harness import Env

BLOCKWORD = "issue15auditblock"


def base_config(env: Env, extra: str = "") -> str:
    """A block pattern for a harmless blocked command; snapshots of one small directory only."""
    (env.outside() / "etc-like").mkdir(exist_ok=True)
    return (
        f'[security]\ndangerous_patterns = ["{BLOCKWORD}"]\n'
        f'[recovery]\npaths = ["{env.outside() / "etc-like"}"]\npackages = false\n{extra}'
    )


SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter is under /root: another uid cannot run it

CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
    msg = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[2]}
    if sys.argv[3] != "-":
        msg["params"] = json.loads(sys.argv[3])
    s.sendall(json.dumps(msg).encode() + b"\n")
    buf = b""
    while True:  # skip notifications (tool.started, ...): print the reply to our id
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                print(buf.decode(errors="replace").strip() or "closed")
                sys.exit(0)
            buf += chunk
        line, _, buf = buf.partition(b"\n")
        msg = json.loads(line)
        if msg.get("id") == 1 and "method" not in msg:
            print(json.dumps(msg))
            break
except OSError as exc:
    print("refused:", exc)
"""


def as_other(env: Env, user: pwd.struct_passwd, method: str, params: object = None) -> str:
    """One JSON-RPC call made by another local uid over the daemon's socket; its raw reply."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", CLIENT, str(env.socket), method, "-" if params is None else json.dumps(params)],
        user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/", capture_output=True, text=True, timeout=60,
    )
    return proc.stdout + proc.stderr


def open_socket(env: Env) -> None:
    """Let another uid reach the socket, so only the daemon's own uid check stands in its way."""
    for p in (env.root, env.run_dir):
        os.chmod(p, 0o755)
    os.chmod(env.socket, 0o666)


def marker(env: Env) -> Path:
    """A file outside the workspace and outside /tmp: writing it needs confirmation in normal
    mode (refused without a terminal), runs unasked on the host in trusted mode."""
    return env.outside() / f"issue15-marker-{os.getpid()}-{time.monotonic_ns()}"


def assert_untrusted(env: Env) -> None:
    """The running daemon behaves as configured on disk (normal), not trusted."""
    assert status_mode(env) == "normal"
    target = marker(env)
    try:
        proc = env.cli("run", "--", f"touch {target}")
        assert proc.returncode == 126, (proc.returncode, proc.stderr)
        assert not target.exists(), "the write ran unasked: the daemon is in trusted mode"
    finally:
        target.unlink(missing_ok=True)

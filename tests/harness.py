"""Test harness: an isolated environment, a real daemon process and the real CLI.

Every test that touches the daemon gets its own short directory under /tmp (Unix socket paths
are limited to 107 bytes) holding HOME, XDG dirs, config files, state and the socket, so no test
touches /etc/aios, ~/.config/aios or a running system daemon.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class Env:
    """An isolated aios environment rooted in a short temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.chmod(0o711)  # the jail's unprivileged user must be able to reach the workspace
        self.home = root / "home"
        self.state = root / "state"
        self.run_dir = root / "run"
        self.config_file = root / "config.toml"
        self.system_config = root / "etc-aios.toml"
        for d in (self.home, self.state, self.run_dir, root / "xdg-config", root / "xdg-state"):
            d.mkdir(parents=True, exist_ok=True)
        self._outside: Path | None = None
        self.workspace = root / "workspace"
        self.workspace.mkdir(exist_ok=True)
        self.socket = self.run_dir / "aios.sock"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIOS_")}
        self.env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(root / "xdg-config"),
            XDG_STATE_HOME=str(root / "xdg-state"),
            XDG_RUNTIME_DIR=str(root / "xdg-run"),
            XDG_CACHE_HOME=str(root / "xdg-cache"),  # the policy cache (aios policy check)
            AIOS_SYSTEM_CONFIG=str(self.system_config),
            AIOS_CONFIG=str(self.config_file),
            AIOS_PATHS__STATE_DIR=str(self.state),
            AIOS_PATHS__RUNTIME_DIR=str(self.run_dir),
            AIOS_PATHS__WORKSPACE=str(root / "workspace"),
            AIOS_DAEMON__AUTOSTART="false",
            # Never the host's journal: a test that wants the copies listens here.
            AIOS_MEMORY__AUDIT_JOURNAL=str(root / "journal.sock"),
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("LISTEN_FDS", None)

    def outside(self) -> Path:
        """A directory outside the workspace and outside /tmp (which the policy treats as scratch),
        like a system path: writing there needs confirmation. Removed with the environment."""
        if self._outside is None:
            Path("/srv").mkdir(exist_ok=True)
            self._outside = Path(tempfile.mkdtemp(prefix="aios-test-", dir="/srv"))
        return self._outside

    def write_config(self, text: str) -> None:
        self.config_file.write_text(text)

    def cli(self, *args: str, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real ``aios`` command."""
        return subprocess.run(
            [str(BIN / "aios"), *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def cli_json(self, *args: str) -> Any:
        proc = self.cli(*args, "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    isolated = True
    """Start the daemon as installed (``aios-runtime``: ``python -I``, PYTHONPATH ignored). Tests
    that load plugins from PYTHONPATH set it False and start ``python -m aios.daemon`` instead."""

    def start_daemon(self, *args: str, env: dict[str, str] | None = None, wait: bool = True) -> Daemon:
        log = open(self.root / "daemon.log", "ab")
        launcher = [str(BIN / "aios-runtime")] if self.isolated else [sys.executable, "-m", "aios.daemon"]
        proc = subprocess.Popen(
            [*launcher, *args],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        d = Daemon(self, proc)
        if env and "AIOS_PATHS__RUNTIME_DIR" in env:
            d.socket = Path(env["AIOS_PATHS__RUNTIME_DIR"]) / "aios.sock"
        if wait:
            d.wait_ready()
        return d


class Daemon:
    """A real ``aios-runtime`` process."""

    def __init__(self, env: Env, proc: subprocess.Popen[bytes]) -> None:
        self.env = env
        self.proc = proc
        self.socket = env.socket

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.log()}")
            try:
                with connect(self.socket) as s:
                    if rpc(s, "ping") == "pong":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer within {timeout}s: {self.log()}")

    def log(self) -> str:
        """The end of what it printed (stderr: config errors, crashes) and of its log file."""
        parts = []
        for path in (self.env.root / "daemon.log", self.env.state / "daemon.log"):
            try:
                parts.append(path.read_text(errors="replace")[-4000:])
            except OSError:
                pass
        return "\n".join(parts)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def make_env() -> Env:
    return Env(Path(tempfile.mkdtemp(prefix="aios-t", dir="/tmp")))


def remove_env(env: Env) -> None:
    shutil.rmtree(env.root, ignore_errors=True)
    if env._outside is not None:
        shutil.rmtree(env._outside, ignore_errors=True)


def connect(path: Path, timeout: float = 10.0) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s


class LineReader:
    """Read newline-terminated JSON messages from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def read(self) -> Any:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)


def rpc(sock: socket.socket, method: str, params: dict[str, Any] | None = None, id: int = 1) -> Any:
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    sock.sendall(json.dumps(msg).encode() + b"\n")
    reply = LineReader(sock).read()
    if "error" in reply:
        raise RPCError(reply["error"])
    return reply["result"]


class RPCError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.code = error.get("code")
        self.error = error


def run_as(uid: int, gid: int, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run argv as another user (the test must be root)."""
    return subprocess.run(list(argv), user=uid, group=gid, extra_groups=[], capture_output=True, text=True, **kw)

"""Connecting, and starting a user daemon on demand (like tmux) when none answers."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from aios.errors import ClientError, DaemonUnreachable

from ._client import Client
from ._locate import autostart_enabled, socket_candidates
from ._spawn import DAEMON_CWD, daemon_argv, daemon_environment, log_offset

START_TIMEOUT_S = 30.0


def connect(
    socket: Path | None = None,
    *,
    autostart: bool | None = None,
    daemon_args: Sequence[str] = (),
) -> Client:
    """Connect to the first daemon that answers; start a user daemon when allowed.

    Args:
        socket: an explicit socket (``--socket``); only that one is tried.
        autostart: None follows ``daemon.autostart`` (default true).
        daemon_args: extra ``aios-runtime`` arguments (``--config``, ``--set``) for a start.

    Raises:
        DaemonUnreachable: nothing answers and no daemon was started.
    """
    candidates = [socket] if socket is not None else socket_candidates()
    for path in candidates:
        try:
            return Client.connect(path)
        except DaemonUnreachable:
            continue
    if autostart is None:
        autostart = autostart_enabled()
    target = candidates[0]
    if not autostart:
        raise DaemonUnreachable(
            f"the aios daemon is not running (no answer on {target}); start it with "
            "'aios daemon start'"
        )
    start_daemon(target, daemon_args)
    return Client.connect(target)


def log_file_for(socket: Path) -> Path:
    return socket.parent / "daemon.log"


def start_daemon(socket: Path, daemon_args: Sequence[str] = (), timeout: float = START_TIMEOUT_S) -> int:
    """Start ``aios-runtime`` in the background on ``socket``; return its pid once it answers.

    The daemon is an isolated interpreter in ``/`` (see :mod:`aios.client._spawn`): nothing in
    the caller's directory or ``PYTHON*`` variables can put code on its import path.

    Raises:
        ClientError: it exited (with its own error message, not older log lines) or did not
            answer in time; both name the log file.
    """
    socket = socket.absolute()
    log_path = log_file_for(socket)
    argv = daemon_argv(["--socket", str(socket), *daemon_args])
    try:
        socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        start = log_offset(log_path)
        log = open(log_path, "ab")  # closed by the with below; the child keeps its own copy
    except OSError as exc:
        raise ClientError(
            f"cannot start a daemon on {socket}: {exc.filename or socket.parent}: {exc.strerror or exc} "
            "(set --socket, paths.socket or paths.runtime_dir to a writable place)"
        ) from exc
    with log:
        import subprocess  # only when a daemon must be started: keeps 'aios status' fast

        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=DAEMON_CWD,
            env=daemon_environment(),
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise ClientError(
                f"the daemon exited with code {code} while starting: "
                f"{failure_message(log_path, start)} (full log: {log_path})"
            )
        try:
            with Client.connect(socket, timeout=1.0) as client:
                client.call("ping")
            return proc.pid
        except (DaemonUnreachable, ClientError):
            time.sleep(0.05)
    raise ClientError(
        f"the daemon did not answer on {socket} within {timeout:.0f} s; see {log_path}"
    )


_PREFIX = "aios-runtime: "


def failure_message(path: Path, offset: int = 0) -> str:
    """The one line that says why a start failed, from what the start wrote after ``offset``.

    The daemon's own error line (``aios-runtime: ...``) when there is one, else the last line of
    a traceback (the exception), else the last line written.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "it wrote nothing to its log"
    own = [ln for ln in lines if ln.startswith(_PREFIX)]
    if own:
        return own[-1][len(_PREFIX):]
    unindented = [ln for ln in lines if not ln[0].isspace()]
    return (unindented or lines)[-1]


def wait_gone(socket: Path, pid: int | None, timeout: float = 15.0) -> bool:
    """Wait until the daemon on ``socket`` stops answering (and ``pid`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = pid is not None and _pid_alive(pid)
        if not alive and not socket.exists():
            return True
        time.sleep(0.05)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

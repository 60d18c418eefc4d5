"""Connecting, and starting a user daemon on demand (like tmux) when none answers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from aios.errors import ClientError, DaemonUnreachable

from ._client import Client
from ._locate import autostart_enabled, socket_candidates
from ._spawn import DAEMON_CWD, autostart_environment, daemon_argv, daemon_environment, log_offset

START_TIMEOUT_S = 30.0


def connect(
    socket: Path | None = None,
    *,
    autostart: bool | None = None,
    notice: Callable[[str], None] | None = None,
) -> Client:
    """Connect to the first daemon that answers; start a user daemon when allowed.

    A daemon started here outlives this call, so it starts from the config files and the
    locating variables only (:func:`aios.client._spawn.autostart_environment`): never from the
    caller's one-off ``--set``, ``--config`` or ``AIOS_*`` overrides.

    Args:
        socket: an explicit socket (``--socket``); only that one is tried.
        autostart: None follows ``daemon.autostart`` (default true).
        notice: told, in one line, which one-off ``AIOS_*`` overrides a start left out.

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
    environment, dropped = autostart_environment()
    start_daemon(target, environment=environment)
    if dropped and notice is not None:  # after the start: a failed one has a better line to show
        notice(
            f"started a daemon without {', '.join(dropped)}: a daemon started on demand reads its "
            "config files only (put lasting settings there, or use 'aios daemon start')"
        )
    return Client.connect(target)


def output_file_for(socket: Path) -> Path:
    """Where a daemon started in the background writes what it prints before its log is set up.

    Config errors and crashes end up here; its log proper is ``daemon.log`` in the state
    directory (docs/operations.md). Beside the socket, so a client finds it without the config.
    """
    return socket.parent / "daemon.out"


def start_daemon(
    socket: Path,
    daemon_args: Sequence[str] = (),
    timeout: float = START_TIMEOUT_S,
    *,
    environment: Mapping[str, str] | None = None,
) -> int:
    """Start ``aios-runtime`` in the background on ``socket``; return its pid once it answers.

    The daemon is an isolated interpreter in ``/`` (see :mod:`aios.client._spawn`): nothing in
    the caller's directory or ``PYTHON*`` variables can put code on its import path.

    Args:
        socket: where it listens.
        daemon_args: ``aios-runtime`` arguments of an explicit start (``aios daemon start``).
        timeout: how long to wait for its first answer.
        environment: its environment (default: this process's, see ``daemon_environment``).

    Raises:
        ClientError: it exited (with its own error message, not older output) or did not
            answer in time; both name the output file.
    """
    socket = socket.absolute()
    log_path = output_file_for(socket)
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
            env=dict(environment) if environment is not None else daemon_environment(),
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
        f"the daemon did not answer on {socket} within {timeout:.0f} s; see {log_path} and "
        "'aios daemon logs'"
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
    """Whether ``pid`` still runs; an exited process its parent has not reaped yet (a zombie:
    the daemon of a supervisor or a test that waits later) has stopped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True

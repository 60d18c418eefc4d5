"""How a daemon process is started: an isolated interpreter that imports only installed code.

A daemon started as ``python -m aios.daemon`` in the caller's directory has that directory first
on its import path, so a module planted there (by a jailed command writing the workspace, or by
another user) would run as the daemon on its next lazy import. Every way aios starts a daemon
(autostart, ``aios daemon start|run``, the systemd unit, the container entry point) goes through
:func:`daemon_argv` and :func:`daemon_environment`: ``python -I`` (no script or current
directory on ``sys.path``, no ``PYTHON*`` variables, no user site-packages), ``cwd=/``, and an
environment without ``PYTHON*`` variables, so children of the daemon do not inherit them either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ISOLATED = "-I"
"""``python -I``: isolated mode (implies -E, -P and -s)."""

DAEMON_CWD = "/"
"""The daemon's working directory: nothing relative may resolve into a caller's directory."""

_PATH_OPTIONS = ("--config", "--socket")
_PATH_VARIABLES = ("AIOS_CONFIG", "AIOS_SYSTEM_CONFIG", "AIOS_SOCKET")

LOCATING_VARIABLES = frozenset({
    "AIOS_CONFIG", "AIOS_SYSTEM_CONFIG", "AIOS_SOCKET",
    "AIOS_PATHS__SOCKET", "AIOS_PATHS__RUNTIME_DIR", "AIOS_PATHS__STATE_DIR",
    "AIOS_ORIGIN", "AIOS_DEBUG",
})
"""The ``AIOS_*`` variables an on-demand daemon keeps (docs/operations.md, "One-off flags").

They say where things are, not how the daemon behaves: which config files it reads, the socket
the client will look for, the state directory whose data and log the client's other commands
read, and the origin name. Every other ``AIOS_SECTION__KEY`` is a one-off override of the call
that happened to start the daemon, and a daemon outlives that call.
"""

CALL_VARIABLES = frozenset({"AIOS_DAEMON__AUTOSTART"})
"""Overrides the calling command honours itself: not passed on, and not worth a warning."""


def daemon_argv(args: Sequence[str] = (), *, python: str | None = None) -> list[str]:
    """The command line of an isolated ``aios-runtime`` with ``args``.

    Relative ``--config``/``--socket`` values are made absolute first: the daemon runs in ``/``.
    """
    return [python or sys.executable, ISOLATED, "-m", "aios.daemon", *_absolute_options(args)]


def daemon_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without ``PYTHON*`` variables, with absolute aios paths.

    ``-I`` already makes the interpreter ignore ``PYTHON*``; dropping them keeps them from the
    daemon's children too (the embedded model server, host-profile commands).
    """
    source = os.environ if env is None else env
    out = {k: v for k, v in source.items() if not k.startswith("PYTHON")}
    for key in _PATH_VARIABLES:
        value = out.get(key)
        if value and not os.path.isabs(value):
            out[key] = os.path.abspath(value)
    return out


def autostart_environment(env: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The environment of a daemon started on demand, and the one-off overrides left out.

    :func:`daemon_environment` without any ``AIOS_*`` variable outside
    :data:`LOCATING_VARIABLES`: ``AIOS_SECURITY__MODE=trusted aios info`` must not leave a
    trusted daemon behind for every later call.

    Returns:
        The environment, and the sorted names of the overrides dropped that the caller should
        mention (those in :data:`CALL_VARIABLES` are honoured by the call and not listed).
    """
    out = daemon_environment(env)
    dropped = sorted(k for k in out if k.startswith("AIOS_") and k not in LOCATING_VARIABLES)
    for key in dropped:
        del out[key]
    return out, [k for k in dropped if k not in CALL_VARIABLES]


def _absolute_options(args: Sequence[str]) -> list[str]:
    out = list(args)
    for i, arg in enumerate(out):
        for opt in _PATH_OPTIONS:
            if arg == opt and i + 1 < len(out) and not os.path.isabs(out[i + 1]):
                out[i + 1] = os.path.abspath(out[i + 1])
            elif arg.startswith(opt + "=") and not os.path.isabs(arg[len(opt) + 1 :]):
                out[i] = f"{opt}={os.path.abspath(arg[len(opt) + 1:])}"
    return out


def exec_daemon(args: Sequence[str]) -> None:
    """Replace this process with an isolated daemon (``aios daemon run``); never returns.

    Raises:
        OSError: the interpreter could not be executed.
    """
    argv = daemon_argv(args)
    env = daemon_environment()
    os.chdir(DAEMON_CWD)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


def log_offset(path: Path) -> int:
    """The size of a log file now, so a failed start can show only what it wrote itself."""
    try:
        return path.stat().st_size
    except OSError:
        return 0

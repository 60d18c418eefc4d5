"""systemd integration by protocol, without libsystemd: sd_notify, LISTEN_FDS, the watchdog.

Pure standard library, so it also works where systemd is not PID 1 (tests speak the protocols
directly).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, MutableMapping

SD_LISTEN_FDS_START = 3


def sd_notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to ``$NOTIFY_SOCKET``; False when there is none.

    Abstract socket addresses (``@name``) are supported. Errors are swallowed: a notify that
    cannot be delivered must never stop the daemon.
    """
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(state.encode())
    except OSError:
        return False
    return True


def listen_fds(environ: MutableMapping[str, str] | None = None, *, unset: bool = True) -> list[socket.socket]:
    """Sockets passed by socket activation (``LISTEN_FDS``/``LISTEN_PID``), fds from 3.

    Returns an empty list when none were passed to this process. With ``unset`` the variables
    are removed so that children do not inherit them.
    """
    env = os.environ if environ is None else environ
    try:
        pid = int(env.get("LISTEN_PID", ""))
        count = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if pid != os.getpid() or count <= 0:
        return []
    if unset:
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(key, None)
    out = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        out.append(socket.socket(fileno=fd))
    return out


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between required WATCHDOG=1 pings, from ``WATCHDOG_USEC``; None when off."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    return usec / 1_000_000 if usec > 0 else None

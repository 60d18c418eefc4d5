"""The listening Unix socket: ownership, mode, stale files, peer credentials.

trio has no high-level Unix listener (trio issue #279): we bind with :mod:`trio.socket`, set
the mode, and wrap the socket in :class:`trio.SocketListener`.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import socket as stdsocket
import struct
from pathlib import Path

import attrs
import trio

from aios.config import DaemonConfig
from aios.errors import DaemonError

_PEERCRED = struct.Struct("3i")


@attrs.frozen
class PeerCred:
    """Credentials of the process at the other end (SO_PEERCRED)."""

    pid: int
    uid: int
    gid: int


def peer_cred(sock: trio.socket.SocketType) -> PeerCred:
    raw = sock.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PEERCRED, _PEERCRED.size)
    pid, uid, gid = _PEERCRED.unpack(raw)
    return PeerCred(pid, uid, gid)


def socket_gid(cfg: DaemonConfig) -> int | None:
    """The gid of the system socket's group, or None when it does not exist."""
    try:
        return grp.getgrnam(cfg.socket_group).gr_gid
    except KeyError:
        return None


class Authorizer:
    """Decides which peers may talk to the daemon (checked on every connection)."""

    def __init__(self, cfg: DaemonConfig) -> None:
        self.uids = {os.geteuid(), 0, *cfg.allowed_uids}
        self.gids = set(cfg.allowed_gids)
        if cfg.system:
            gid = socket_gid(cfg)
            if gid is not None:
                self.gids.add(gid)

    def allows(self, peer: PeerCred) -> bool:
        if peer.uid in self.uids:
            return True
        if not self.gids:
            return False
        if peer.gid in self.gids:
            return True
        try:
            name = pwd.getpwuid(peer.uid).pw_name
            return bool(self.gids.intersection(os.getgrouplist(name, peer.gid)))
        except (KeyError, OSError):
            return False


def _answers(path: Path) -> bool:
    """True when something accepts connections on the socket file ``path``."""
    s = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
            return False
        raise
    finally:
        s.close()
    return True


def _clear_stale(path: Path) -> bool:
    """True when a live daemon answers on ``path``; otherwise remove a stale file there."""
    if not (path.exists() or path.is_symlink()):
        return False
    if _answers(path):
        return True
    path.unlink()
    return False


def take_lock(socket_path: Path) -> int:
    """Hold ``<socket>.lock`` beside the socket for the daemon's life (one daemon per socket).

    Raises:
        DaemonError: another daemon holds it.
    """
    path = socket_path.with_name(socket_path.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid = os.pread(fd, 32, 0).decode().strip() or "?"
        finally:
            os.close(fd)
        raise DaemonError(
            f"an aios daemon is already running (pid {pid}) on {socket_path}; "
            "stop it first ('aios daemon stop')"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def prepare_runtime_dir(runtime_dir: Path, cfg: DaemonConfig) -> None:
    """Create the socket's directory (0700 user, 0755 system) when missing.

    An existing directory keeps its mode: ``paths.socket`` may point into a shared place such as
    /tmp, whose mode is not ours to change. The socket's own mode is the gate there.
    """
    mode = 0o755 if cfg.system else 0o700
    try:
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as exc:
        raise DaemonError(
            f"cannot create the runtime directory {runtime_dir}: {exc.strerror} "
            "(set paths.runtime_dir to a writable place)"
        ) from exc


async def bind_listener(path: Path, cfg: DaemonConfig) -> trio.SocketListener:
    """Bind the daemon's socket with mode 0600 (user) or 0660 + group (system).

    Raises:
        DaemonError: a live daemon already answers there, or the path is unusable.
    """
    if len(os.fsencode(path)) >= 108:
        raise DaemonError(
            f"socket path {path} is too long for a Unix socket (max 107 bytes); "
            "set paths.socket or paths.runtime_dir to a shorter place"
        )
    if await trio.to_thread.run_sync(_clear_stale, path):
        raise DaemonError(f"a daemon already answers on {path}; stop it first ('aios daemon stop')")
    sock = trio.socket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    old_umask = os.umask(0o177 if not cfg.system else 0o117)
    try:
        await sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise DaemonError(f"cannot bind {path}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)
    if cfg.system:
        gid = socket_gid(cfg)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    else:
        os.chmod(path, 0o600)
    # The kernel caps this at net.core.somaxconn. A short queue refuses a burst of
    # non-blocking connects (node's net, asyncio) with EAGAIN before accept() catches up.
    sock.listen(stdsocket.SOMAXCONN)
    return trio.SocketListener(sock)


def adopt_listener(sock: stdsocket.socket) -> trio.SocketListener:
    """Wrap a listening socket handed over by systemd (LISTEN_FDS)."""
    sock.setblocking(False)
    return trio.SocketListener(trio.socket.from_stdlib_socket(sock))

"""Acting as the requester in one thread: file-system uid, gid and supplementary groups.

When a uid other than the daemon's owner asks for a file operation, the operation must not get
more than that user could do alone. A root daemon therefore switches the *calling thread's*
file-system identity around the operation: ``setfsuid``/``setfsgid`` are per thread, and so are
the kernel's supplementary groups — but glibc's ``setgroups()`` changes every thread of the
process (it signals them all), so the raw ``SYS_setgroups`` system call is used instead. The
kernel checks every open, stat, create and rename in that thread against the requester, and
drops the file-system capabilities (CAP_DAC_OVERRIDE …) while the fsuid is not 0.

Everything is restored in ``finally`` and checked; a thread that could not be restored ends the
daemon rather than go back to serving the daemon's own work as that user. A daemon that is not
root cannot switch at all: the call fails with a message saying so, and nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aios.errors import ToolError

if TYPE_CHECKING:
    from aios.sandbox import Identity

log = logging.getLogger("aios.tools")

# (setfsuid, setfsgid, setgroups): x86_64 has its own table, aarch64 the generic one.
_NUMBERS = {"x86_64": (122, 123, 116), "aarch64": (151, 152, 159)}

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _nr(index: int) -> int:
    numbers = _NUMBERS.get(platform.machine())
    if numbers is None:
        raise ToolError(f"acting as another user is not implemented for {platform.machine()}")
    return numbers[index]


def _setfsuid(uid: int) -> int:
    """Set this thread's fsuid; returns the previous one (the kernel reports no error)."""
    return int(_syscall(ctypes.c_long(_nr(0)), ctypes.c_uint(uid & 0xFFFFFFFF)))


def _setfsgid(gid: int) -> int:
    return int(_syscall(ctypes.c_long(_nr(1)), ctypes.c_uint(gid & 0xFFFFFFFF)))


def _setgroups(groups: tuple[int, ...] | list[int]) -> None:
    arr = (ctypes.c_uint * max(len(groups), 1))(*groups)
    if _syscall(ctypes.c_long(_nr(2)), ctypes.c_size_t(len(groups)), arr) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setgroups: {os.strerror(err)}")


def current_fsuid() -> int:
    """This thread's fsuid (setfsuid(-1) changes nothing and returns it)."""
    return _setfsuid(-1)


def current_fsgid() -> int:
    return _setfsgid(-1)


@contextmanager
def acting_as(ident: Identity | None) -> Iterator[None]:
    """Run the body with ``ident``'s file-system permissions in this thread (None: as the daemon).

    Only for the body of a worker thread: everything the thread does meanwhile is checked
    against ``ident``.

    Raises:
        ToolError: the daemon cannot take that identity (it lacks CAP_SETUID/CAP_SETGID, i.e.
            it is not root); nothing was changed then.
    """
    if ident is None or not ident.switch:
        yield
        return
    uid0, gid0 = current_fsuid(), current_fsgid()
    groups0 = os.getgroups()  # the thread's own list: glibc's getgroups is the plain system call
    why = None
    try:
        _setgroups(ident.groups)
    except OSError as exc:
        why = exc.strerror or str(exc)
    else:
        _setfsgid(ident.gid)
        _setfsuid(ident.uid)
        if current_fsuid() != ident.uid or current_fsgid() != ident.gid:
            why = "the kernel refused the switch"
    if why is not None:
        _restore(uid0, gid0, groups0)
        raise ToolError(f"cannot act as {ident.name} (uid {ident.uid}): {why}; the daemon must run as "
                        "root to serve another user's file tools")
    try:
        yield
    finally:
        _restore(uid0, gid0, groups0)


def _restore(uid: int, gid: int, groups: list[int]) -> None:
    """Put the daemon's identity back, or end the process.

    A worker thread left with the requester's identity would go back to trio's thread cache and
    later do the daemon's own work (a snapshot, a database write) as that user: files the daemon
    creates there would be theirs to change, and a later restore would copy them back as root.
    That must never happen, so a failed restore ends the daemon (the service manager restarts it).
    """
    _setfsuid(uid)  # first: an fsuid of 0 brings back the file-system capabilities
    _setfsgid(gid)
    try:
        if sorted(os.getgroups()) != sorted(groups):
            _setgroups(groups)
    except OSError:
        pass  # checked below
    if current_fsuid() != uid or current_fsgid() != gid or sorted(os.getgroups()) != sorted(groups):
        log.critical("a worker thread could not restore the daemon's file-system identity; exiting")
        os._exit(70)  # EX_SOFTWARE

"""The seccomp filter handed to ``bwrap --seccomp FD``: Flatpak's deny list, and a little more.

Built once per process with libseccomp (through pyseccomp), exported as classic BPF, and kept as
bytes; every run writes them to a fresh memfd that bwrap reads and loads just before it execs the
command. The default action is ALLOW (a deny list, like Flatpak's ``setup_seccomp`` in
flatpak-run.c); the listed calls fail with EPERM, the new mount API and clone3 with ENOSYS (so
that glibc falls back to clone, whose flags a filter can see), io_uring with ENOSYS (its
``IORING_OP_SOCKET``/``CONNECT`` would create and connect sockets past this filter), unix
sockets with EACCES and sockets of families other than inet, inet6 and netlink with
EAFNOSUPPORT. A filter cannot read the address ``connect()`` is given, so a unix socket on the
host's read-only /tmp (an X server, an agent, a database) stays out of reach only if the jail
cannot make a unix socket at all; ``socketpair()`` still works, except for datagram pairs,
whose ``sendto()`` can address any socket path. Syscalls of a foreign architecture (the
32-bit ABI on x86_64) hit libseccomp's default bad-arch action and kill the process, so the
deny list cannot be sidestepped through ``int 0x80``.
"""

from __future__ import annotations

import errno
import os
import termios
from typing import Any

from ..errors import SandboxError

CLONE_NEWUSER = 0x10000000
TIOCLINUX = 0x541C  # not in Python's termios module
_TIOCSTI: int = termios.TIOCSTI
PER_LINUX = 0

# name, errno; an optional (arg index, op name, value, mask) narrows the rule.
_EPERM: tuple[str, ...] = (
    # Flatpak's list.
    "syslog", "uselib", "acct", "modify_ldt", "quotactl", "add_key", "keyctl", "request_key",
    "move_pages", "mbind", "get_mempolicy", "set_mempolicy", "migrate_pages", "unshare",
    "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "perf_event_open", "ptrace",
    # Not reachable without capabilities, which the jail drops; denied anyway so that a kernel
    # bug in a capability check is not enough (most are on Docker's default deny list too).
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "userfaultfd", "open_by_handle_at", "name_to_handle_at", "reboot", "swapon", "swapoff",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "lookup_dcookie", "vm86", "vm86old", "nfsservctl", "fanotify_init", "kcmp",
    "process_vm_readv", "process_vm_writev",
)  # fmt: skip
_ENOSYS: tuple[str, ...] = (
    "clone3", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "io_uring_setup", "io_uring_enter", "io_uring_register",
)  # fmt: skip
AF_UNIX = 1
SOCK_DGRAM = 2
_SOCK_TYPE_MASK = 0xF  # the type without SOCK_NONBLOCK / SOCK_CLOEXEC
_ALLOWED_FAMILIES = (0, 2, 10, 16)  # AF_UNSPEC, AF_INET, AF_INET6, AF_NETLINK

_cached: bytes | None = None


class _Fd:
    """What pyseccomp's export_bpf wants: an object with ``fileno()``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd


def _build(sc: Any) -> bytes:
    flt = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)

    def add(action: int, name: str, *args: Any) -> None:
        if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
            return  # not a syscall on this architecture (vm86 on x86_64, ...)
        flt.add_rule(action, name, *args)

    for name in _EPERM:
        add(eperm, name)
    for name in _ENOSYS:
        add(sc.ERRNO(errno.ENOSYS), name)
    # No new user namespaces (bwrap --disable-userns does it too; this also covers its absence).
    add(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    # Faking terminal input (CVE-2017-5226) and TIOCLINUX (CVE-2023-28100). The request is an
    # int in the kernel: compare only its low 32 bits, or a value with junk above them passes
    # the filter and still reaches the ioctl (CVE-2019-10063).
    add(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
    add(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCLINUX))
    # No BSD/SVr4 emulation, no ADDR_NO_RANDOMIZE (Flatpak allows only PER_LINUX).
    add(eperm, "personality", sc.Arg(0, sc.NE, PER_LINUX))
    eafnosupport = sc.ERRNO(errno.EAFNOSUPPORT)
    eacces = sc.ERRNO(errno.EACCES)
    last = -1
    for family in _ALLOWED_FAMILIES:
        for disallowed in range(last + 1, family):
            action = eacces if disallowed == AF_UNIX else eafnosupport
            flt.add_rule_exactly(action, "socket", sc.Arg(0, sc.EQ, disallowed))
        last = family
    flt.add_rule_exactly(
        eacces,
        "socketpair",
        # Both ints in the kernel: compare the low 32 bits only (see the ioctl rule above).
        sc.Arg(0, sc.MASKED_EQ, 0xFFFFFFFF, AF_UNIX),
        sc.Arg(1, sc.MASKED_EQ, _SOCK_TYPE_MASK, SOCK_DGRAM),
    )
    flt.add_rule_exactly(eafnosupport, "socket", sc.Arg(0, sc.GE, last + 1))
    fd = os.memfd_create("aios-seccomp-export", os.MFD_CLOEXEC)
    try:
        flt.export_bpf(_Fd(fd))
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def filter_bytes() -> bytes:
    """The filter as classic BPF, built once per process.

    Raises:
        SandboxError: libseccomp (or pyseccomp) is missing or refused the filter.
    """
    global _cached
    if _cached is None:
        try:
            import pyseccomp
        except (ImportError, RuntimeError) as exc:
            raise SandboxError(
                f"cannot build the seccomp filter: {exc}; install libseccomp2 "
                "(`apt-get install libseccomp2`) and pyseccomp"
            ) from exc
        try:
            _cached = _build(pyseccomp)
        except OSError as exc:
            raise SandboxError(f"cannot build the seccomp filter: {exc}") from exc
    return _cached


def filter_fd() -> int:
    """A new memfd holding the filter, positioned at 0, inheritable (for ``pass_fds``).

    The caller closes it once the child has started.
    """
    data = filter_bytes()
    fd = os.memfd_create("aios-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd

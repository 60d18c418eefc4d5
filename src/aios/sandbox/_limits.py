"""Resource limits for a jailed command, and bwrap's gate that applies them.

The limits (address space, processes, file size) go on the sandbox's first process while bwrap
holds it on ``--block-fd`` (:class:`_Gate`, prlimit(2)); a root daemon without CAP_SYS_RESOURCE
starts the command through util-linux's prlimit(1) instead (:func:`_prlimit_argv`), or as a
last resort sets them in a preexec function (:func:`_setrlimits`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from ..errors import SandboxError

if TYPE_CHECKING:
    from ..config import SandboxConfig


def _limits(config: SandboxConfig) -> list[tuple[int, int]]:
    """(resource, value) for RLIMIT_AS, RLIMIT_NPROC and RLIMIT_FSIZE, never above our hard limit."""
    wanted = (
        (resource.RLIMIT_AS, int(config.memory_limit)),
        (resource.RLIMIT_NPROC, int(config.max_processes)),
        (resource.RLIMIT_FSIZE, int(config.max_file_size)),
    )
    values: list[tuple[int, int]] = []
    for which, value in wanted:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        values.append((which, value))
    return values


def _setrlimits(limits: Sequence[tuple[int, int]]) -> None:
    for which, value in limits:
        resource.setrlimit(which, (value, value))


_PRLIMIT_OPTIONS = {resource.RLIMIT_AS: "--as", resource.RLIMIT_NPROC: "--nproc", resource.RLIMIT_FSIZE: "--fsize"}


@functools.cache
def _prlimit_binary() -> str | None:
    return shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")


def _prlimit_argv(limits: Sequence[tuple[int, int]]) -> list[str]:
    """``prlimit --as=V:V … --`` for ``limits``, or [] when util-linux's prlimit is missing."""
    binary = _prlimit_binary()  # looked up once, not on every command
    if binary is None or any(which not in _PRLIMIT_OPTIONS for which, _ in limits):
        return []
    return [binary, *(f"{_PRLIMIT_OPTIONS[which]}={value}:{value}" for which, value in limits), "--"]


@functools.cache
def _setpriv_binary() -> str | None:
    return shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")


def _setpriv_argv(uid: int, gid: int, groups: Sequence[int]) -> list[str]:
    """``setpriv --reuid=U --regid=G --groups=…|--clear-groups --``, or [] when it is missing.

    Switching user through an exec'd setpriv instead of ``Popen(user=, group=, extra_groups=)``
    lets Python start the child with vfork: those arguments force a full fork of the daemon,
    which costs 25-35 ms at the daemon's size here (about 3-8 ms through setpriv).
    """
    binary = _setpriv_binary()
    if binary is None:
        return []
    grp = f"--groups={','.join(str(g) for g in groups)}" if groups else "--clear-groups"
    return [binary, f"--reuid={uid}", f"--regid={gid}", grp, "--"]


_CAP_SYS_RESOURCE = 24
_cap_cache: list[bool] = []


def _can_prlimit_others() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE (root in a container may not)."""
    if not _cap_cache:
        eff = 0
        with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    eff = int(line.split()[1], 16)
        _cap_cache.append(bool(eff >> _CAP_SYS_RESOURCE & 1))
    return _cap_cache[0]


class _Gate:
    """bwrap's ``--info-fd``/``--block-fd`` pair: the sandbox waits until we let it go.

    bwrap writes the pid of the sandbox's first process (pid 1 of its pid namespace) to the info
    pipe, then that process waits on the block pipe before it forks and execs the command. In
    between the runner (1) opens a pidfd on it, so that after a kill it can wait until the whole
    namespace is gone (the kernel tears a pid namespace down before its init is reported dead),
    and (2) sets the rlimits on it with prlimit(2), which the command inherits. A preexec
    function could set them too, but it forces a Python fork-and-callback in the child (about
    1.3 ms per command here); it is used only where prlimit on the sandbox user's process is not
    allowed (a root daemon without CAP_SYS_RESOURCE).
    """

    def __init__(self) -> None:
        self.info_r, self.info_w = os.pipe()
        self.block_r, self.block_w = os.pipe()
        self.pidfd: int | None = None

    def child_fds(self) -> tuple[int, int]:
        return self.info_w, self.block_r

    def _close(self, name: str) -> None:
        # Each descriptor is closed exactly once: its number is reused at once by concurrent
        # runs, and a second close would hit one of theirs.
        fd = getattr(self, name)
        if fd is not None and fd >= 0:
            setattr(self, name, -1)
            with contextlib.suppress(OSError):
                os.close(fd)

    def close_child_ends(self) -> None:
        self._close("info_w")
        self._close("block_r")

    def close(self) -> None:
        """Close everything. Call only once the process is dead or released: an open gate that
        is closed lets bwrap go on (without limits)."""
        for name in ("info_w", "block_r", "info_r", "block_w", "pidfd"):
            self._close(name)

    async def release(self, limits: Sequence[tuple[int, int]]) -> None:
        """Wait for the sandbox's pid, apply ``limits`` to it (if any), then let it run."""
        data = bytearray()
        stream = trio.lowlevel.FdStream(os.dup(self.info_r))
        async with stream:
            while chunk := await stream.receive_some(4096):
                data += chunk
        if not data:
            return  # bwrap failed before making the sandbox; it exits and its stderr says why
        try:
            pid = int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxError(f"unexpected --info-fd data from bwrap: {bytes(data)!r}") from exc
        try:
            self.pidfd = os.pidfd_open(pid)
            for which, value in limits:
                resource.prlimit(pid, which, (value, value))
        except ProcessLookupError:
            return  # the sandbox is already gone
        except OSError as exc:
            raise SandboxError(f"cannot set the jail's resource limits: {exc}") from exc
        os.write(self.block_w, b"x")
        self._close("block_w")

    async def wait_gone(self) -> None:
        """Wait until the sandbox's pid 1, and so every process of its namespace, has exited."""
        if self.pidfd is not None and self.pidfd >= 0:
            await trio.lowlevel.wait_readable(self.pidfd)

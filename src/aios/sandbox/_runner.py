"""The jailed runner: :class:`Jail` builds the argv and runs it under trio with limits.

Per command: a wall-clock timeout that SIGKILLs the whole process group and waits until the
jail's pid namespace is gone (so no descendant survives the call), an output cap per stream that
keeps the head and drains the rest without storing it, and rlimits (address space, processes,
file size) put on the sandbox's first process while bwrap holds it before the command starts
(see :mod:`aios.sandbox._limits`). When the daemon runs as root, bwrap is started as the sandbox user, which
needs to reach the workspace: missing access is granted once, never recursively, with POSIX ACLs
(see docs/sandbox.md).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import trio
from attrs import frozen

from ..config import MODES
from ..errors import SandboxError, SandboxUnavailable
from . import _seccomp, _workspace
from ._access import Identity
from ._acl import _acl_plan, _granted, _setfacl, _usable_by
from ._diagnose import access_failures
from ._io import OnOutput, _Capture, _exit_code, _feed, _killpg, _pump
from ._limits import _can_prlimit_others, _Gate, _limits, _prlimit_argv, _setpriv_argv, _setrlimits
from ._probe import INSTALL_HINT, cached, probe
from ._profile import _bind_pair, _under, build_argv, host_env
from ._spawn import Child, open_process

if TYPE_CHECKING:
    from ..config import SandboxConfig

TIMEOUT_EXIT = 124
DRAIN_GRACE = 2.0
"""After the command exits, how long its pipes may stay open (a trusted-mode straggler)."""
REAP_GRACE = 10.0
UNDO_GRACE = 30.0
"""How long the walk after a command may take, even when the call is being cancelled."""
WATCHED_MODES = ("safe", "normal")
"""Modes whose jail writes the real workspace (paranoid's is a tmpfs, trusted has no jail)."""

@frozen
class JailResult:
    """What a command did: exit code (124 on timeout, 128+N for signal N) and its output."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    duration_s: float
    argv: tuple[str, ...]
    hidden: tuple[str, ...] = ()
    """Paths the jail hid from the command (emptied directories, covered files)."""
    changed: tuple[str, ...] = ()
    """Workspace-relative paths the command created or changed (directories end with ``/``)."""
    undone: tuple[str, ...] = ()
    """Git metadata the command wrote that git outside the jail would run programs from, and
    what was done about it (``removed X (why)`` / ``restored X (why)``)."""
    denied: tuple[str, ...] = ()
    """Lines of stderr saying the command lacked access (permission denied, read-only file
    system, operation not permitted), when it failed."""


class Jail:
    """A bubblewrap jail for one mode and workspace; :meth:`run` runs commands in it.

    Args:
        config: the ``[sandbox]`` section.
        mode: ``safe``, ``normal``, ``paranoid`` or ``trusted`` (``trusted``: no jail at all).
        workspace: the directory commands may write (paranoid: a fresh tmpfs at this path).
        hidden: extra directories to hide (the daemon passes its state and runtime directories).
        home: the home that ``~`` in ``sandbox.hidden_paths`` means (default: the daemon's).
        run_as: run commands as this user instead of the sandbox user (a request from a local
            user who is not the daemon's owner: never more than they could do alone). Their
            own uid needs no switch; the daemon's own uid means the usual sandbox user.
    """

    def __init__(
        self,
        config: SandboxConfig,
        *,
        mode: str,
        workspace: Path,
        hidden: Sequence[Path] = (),
        home: Path | None = None,
        run_as: Identity | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        self.config = config
        self.mode = mode
        # The real path: a symlinked workspace must be judged (and bound) where it really is.
        self.workspace = Path(os.path.realpath(workspace))
        self.hidden = tuple(Path(h) for h in hidden)
        self.home = home
        # Acting for the daemon's own uid is no one else: the usual sandbox user (never root).
        self.run_as = None if run_as is None or run_as.uid == os.geteuid() else run_as
        self._ident: Identity | None = None

    def __repr__(self) -> str:
        return f"Jail(mode={self.mode!r}, workspace={str(self.workspace)!r})"

    def elevated(self) -> Jail:
        """This jail for the daemon's own user (the sandbox user; the daemon with the host profile):
        for an action of another local user that an approver granted."""
        return Jail(self.config, mode=self.mode, workspace=self.workspace, hidden=self.hidden, home=self.home)

    def _identity(self) -> Identity:
        if self._ident is None:
            if self.run_as is not None:
                if os.geteuid() != 0:
                    raise SandboxError(
                        f"cannot run a command as {self.run_as.name} (uid {self.run_as.uid}): "
                        "only a root daemon can act as another user",
                        data={"uid": self.run_as.uid},
                    )
                self._ident = self.run_as
            else:
                self._ident = Identity.for_daemon(self.config.user)
        return self._ident

    def changed_files(self) -> list[str]:
        """Workspace-relative paths jailed commands created or changed in this workspace since
        the daemon started, that still exist (directories end with ``/``), oldest first."""
        return _workspace.jail_changes(str(self.workspace))

    def argv(
        self,
        command: Sequence[str],
        *,
        profile: Literal["jail", "host"] = "jail",
        seccomp_fd: int | None = None,
    ) -> list[str]:
        """The full argv, ``bwrap … -- command`` (the plain command in trusted mode).

        ``profile="host"`` makes the whole system writable (for confirmed system changes) but
        keeps the pid namespace, ``--die-with-parent`` and ``--new-session``. The argv does not
        switch user: :meth:`run` starts it as the sandbox user when the daemon is root.

        Raises:
            SandboxError: the daemon is root and the sandbox user does not exist.
        """
        if self.mode == "trusted":
            return build_argv(
                self.config,
                command,
                mode="trusted",
                profile=profile,
                workspace=self.workspace,
                hidden=(),
                home=None,
                ident=Identity(os.getuid(), os.getgid(), (), "", False),
                seccomp_fd=None,
            )
        return self._argv(command, profile, seccomp_fd, None)

    def _argv(
        self,
        command: Sequence[str],
        profile: Literal["jail", "host"],
        seccomp_fd: int | None,
        gate: _Gate | None,
        hidden_out: list[str] | None = None,
        readonly: bool = False,
        env: dict[str, str] | None = None,
    ) -> list[str]:
        return build_argv(
            self.config,
            command,
            mode=self.mode,
            profile=profile,
            workspace=self.workspace,
            hidden=self.hidden,
            home=self.home,
            ident=self._identity(),
            seccomp_fd=seccomp_fd,
            sync_fds=None if gate is None else gate.child_fds(),
            run_as=self.run_as,
            hidden_out=hidden_out,
            readonly=readonly,
            env=env,
        )

    def _binds_in_workspace(self) -> bool:
        """Whether a configured writable bind reaches the workspace: its destination lies in it,
        or its source is in it or holds it (a second, writable path to the same files). It stays
        writable in a read-only jail, so the walks around the command are still needed."""
        ws = str(self.workspace)
        paths = (os.path.realpath(p) for entry in self.config.extra_binds for p in _bind_pair(entry, self.home))
        return any(_under(p, ws) or _under(ws, p) for p in paths)

    async def _ensure_access(self, ident: Identity) -> None:
        """Let the sandbox user search down to the workspace and (unless paranoid) write it.

        Never for another local user (``run_as``): granting them access they lack would give
        them more than they could do alone, so their workspace must already be theirs.
        """
        ws = str(self.workspace)
        need_write = self.mode != "paranoid"
        key = (ws, ident.uid, need_write)
        if key in _granted:
            return
        if self.run_as is not None:
            if not await trio.to_thread.run_sync(_usable_by, self.workspace, ident, need_write):
                raise SandboxError(
                    f"{ident.name} (uid {ident.uid}) cannot {'write' if need_write else 'reach'} the "
                    f"workspace {ws}; run from a directory of your own",
                    data={"workspace": ws, "uid": ident.uid},
                )
            _granted.add(key)
            return
        for args in await trio.to_thread.run_sync(_acl_plan, self.workspace, ident, need_write):
            await _setfacl(args)
        if not await trio.to_thread.run_sync(_usable_by, self.workspace, ident, need_write):
            raise SandboxError(
                f"the sandbox user {ident.name} still cannot use the workspace {ws} after setfacl",
                data={"workspace": ws},
            )
        _granted.add(key)

    async def run(
        self,
        command: Sequence[str],
        *,
        profile: Literal["jail", "host"] = "jail",
        timeout: float | None = None,  # noqa: ASYNC109 (the public API; a cancel scope works too)
        on_output: OnOutput | None = None,
        stdin: bytes | None = None,
        readonly: bool = False,
        env: dict[str, str] | None = None,
    ) -> JailResult:
        """Run ``command`` in the jail and wait for it, streaming its output.

        Args:
            command: the argv to run inside the jail (the bash tool passes ``["bash", "-c", line]``).
            profile: ``"jail"``, or ``"host"`` for a confirmed system change.
            timeout: wall-clock limit in seconds; None means ``sandbox.timeout``, ``math.inf`` none.
            on_output: awaited with ``("stdout" | "stderr", chunk)`` for every kept chunk, and
                once with the truncation marker when a stream went over ``sandbox.output_limit``.
            stdin: bytes written to the command's stdin (default: /dev/null).
            readonly: bind the workspace read-only (safe, normal; the jail profile only), for a
                command that only reads it (the git tool's reads). Nothing in the workspace can
                change, so the walks around the command are not needed: a read costs the same in
                a workspace of 100,000 files as in an empty one.
            env: variables added to the jail's environment (``bwrap --setenv``; the jail
                profile only), e.g. ``GIT_CONFIG_GLOBAL`` without an ``env`` process.

        Returns:
            The result; exit code 124 when the timeout killed it, 128+N when signal N did.

        Raises:
            SandboxUnavailable: outside trusted mode, when bubblewrap is missing or cannot start.
            SandboxError: the jail could not be set up (sandbox user, workspace access, exec).

        Cancellation:
            On cancellation (or timeout) the process group is SIGKILLed and reaped before this
            returns or re-raises; with bwrap's pid namespace no descendant survives.
        """
        limit = float(self.config.timeout) if timeout is None else timeout
        trusted = self.mode == "trusted"
        kwargs: dict[str, Any] = {}
        seccomp_fd: int | None = None
        gate: _Gate | None = None
        limits: list[tuple[int, int]] = []
        watch: _workspace.Before | None = None
        hidden: list[str] = []
        if trusted:
            argv = list(command)
            kwargs["cwd"] = str(self.workspace) if self.workspace.is_dir() else "/"
            if self.run_as is not None:
                # As them, with their environment: never the daemon's (API keys, paths).
                ident = self._identity()
                kwargs.update(user=ident.uid, group=ident.gid, extra_groups=list(ident.groups))
                kwargs["env"] = host_env(self.run_as)
        else:
            status = cached(self.config)
            if status is None:
                status = await trio.to_thread.run_sync(probe, self.config)
            if not status.usable:
                raise SandboxUnavailable(
                    f"refusing to run {command[0] if command else 'a command'!r}: the jail cannot start "
                    f"({status.reason}); {status.fix or INSTALL_HINT}. Outside trusted mode commands "
                    "never run unjailed.",
                    data=status.to_json(),
                )
            kwargs["cwd"] = "/"
            kwargs["env"] = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            switch = False
            if profile == "jail" or self.run_as is not None:
                # The host profile runs as the daemon's user, except for another local user's
                # request: then as them, with their own groups, never as root.
                ident = self._identity()
                if ident.switch:
                    switch = True
                    if profile == "jail":
                        await self._ensure_access(ident)
                    groups = list(ident.groups) if self.run_as is not None else []
                    kwargs.update(user=ident.uid, group=ident.gid, extra_groups=groups, pipe_owner=ident.uid)
            limits = _limits(self.config)
            wrap: list[str] = []
            if switch and not _can_prlimit_others():
                # prlimit(2) on another user's process needs CAP_SYS_RESOURCE; without it the
                # child sets its own limits: through util-linux's prlimit, exec'd as the sandbox
                # user before bwrap (about 0.8 ms), else a preexec function (a Python callback
                # after a full fork of the daemon: 3-5 ms measured here).
                wrap = _prlimit_argv(limits)
                if not wrap:
                    kwargs["preexec_fn"] = functools.partial(_setrlimits, limits)
                limits = []
            if switch and "preexec_fn" not in kwargs and (su := _setpriv_argv(kwargs["user"], kwargs["group"], kwargs["extra_groups"])):
                # as the sandbox user through setpriv: Python can then vfork (see _setpriv_argv)
                wrap = [*su, *wrap]
                del kwargs["user"], kwargs["group"], kwargs["extra_groups"]
            if profile == "jail" and self.mode in WATCHED_MODES and not (readonly and not self._binds_in_workspace()):
                watch = await trio.to_thread.run_sync(_workspace.before, str(self.workspace))
            gate = _Gate()
            try:
                if profile == "jail" and status.seccomp:
                    seccomp_fd = _seccomp.filter_fd()
                argv = [*wrap, *self._argv(command, profile, seccomp_fd, gate, hidden, readonly, env)]
            except BaseException:
                gate.close()
                if seccomp_fd is not None:
                    os.close(seccomp_fd)
                raise
            extra = () if seccomp_fd is None else (seccomp_fd,)
            kwargs["pass_fds"] = (*gate.child_fds(), *extra)
        start = time.perf_counter()
        try:
            proc = await open_process(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                **kwargs,
            )
        except OSError as exc:
            if gate is not None:
                gate.close()
            raise SandboxError(f"cannot start {argv[0]}: {exc}", data={"argv": argv}) from exc
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
            if gate is not None:
                gate.close_child_ends()
        try:
            result = await self._supervise(proc, argv, start, limit, on_output, stdin, gate, limits)
        finally:
            after = None
            if watch is not None:
                # Also on cancellation: planted hooks must not outlive an interrupted command.
                with trio.CancelScope(shield=True), trio.move_on_after(UNDO_GRACE):
                    after = await trio.to_thread.run_sync(_workspace.after, str(self.workspace), watch)
        result = attrs.evolve(result, hidden=tuple(hidden))
        if result.exit_code != 0 and not trusted and profile == "jail":
            result = attrs.evolve(result, denied=access_failures(result.stderr))
        if after is not None:
            result = attrs.evolve(result, changed=after.changed, undone=after.undone)
            note = after.note()
            if note:
                if on_output is not None:
                    await on_output("stderr", note.encode())
                lead = "" if not result.stderr or result.stderr.endswith("\n") else "\n"
                result = attrs.evolve(result, stderr=result.stderr + lead + note)
        return result

    async def _supervise(
        self,
        proc: Child,
        argv: list[str],
        start: float,
        limit: float,
        on_output: OnOutput | None,
        stdin: bytes | None,
        gate: _Gate | None,
        limits: Sequence[tuple[int, int]],
    ) -> JailResult:
        out, err = _Capture(int(self.config.output_limit)), _Capture(int(self.config.output_limit))
        killed = False
        try:
            with trio.move_on_after(limit) as timer:
                async with trio.open_nursery() as nursery:
                    assert proc.stdout is not None and proc.stderr is not None
                    nursery.start_soon(_pump, proc.stdout, out, "stdout", on_output)
                    nursery.start_soon(_pump, proc.stderr, err, "stderr", on_output)
                    if gate is not None:
                        await gate.release(limits)
                    if stdin is not None and proc.stdin is not None:
                        nursery.start_soon(_feed, proc.stdin, stdin)
                    await proc.wait()
                    if gate is None:
                        # Background jobs of an unjailed command (the jail's pid namespace does
                        # this by itself); the group still exists only while a member lives.
                        _killpg(proc.pid)
                    nursery.cancel_scope.deadline = min(
                        nursery.cancel_scope.deadline, trio.current_time() + DRAIN_GRACE
                    )
        finally:
            if proc.poll() is None:
                killed = True
                _killpg(proc.pid)  # the leader is not reaped yet, so the pgid is still ours
            with trio.CancelScope(shield=True), trio.move_on_after(REAP_GRACE):
                await proc.wait()
                if gate is not None and killed:
                    await gate.wait_gone()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                        await stream.aclose()
            if gate is not None:
                gate.close()  # only now: a gate closed unreleased would let bwrap go on
        timed_out = timer.cancelled_caught and killed
        if on_output is not None:
            for name, cap in (("stdout", out), ("stderr", err)):
                if cap.dropped:
                    await on_output(name, cap.marker())
        code = (
            TIMEOUT_EXIT
            if timed_out
            else _exit_code(proc.returncode if proc.returncode is not None else -9)
        )
        return JailResult(
            exit_code=code,
            stdout=out.text(),
            stderr=err.text(),
            timed_out=timed_out,
            stdout_truncated=out.dropped > 0,
            stderr_truncated=err.dropped > 0,
            duration_s=time.perf_counter() - start,
            argv=tuple(argv),
        )

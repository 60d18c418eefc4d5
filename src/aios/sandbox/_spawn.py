"""Start child processes from one thread that lives as long as the daemon.

``trio.lowlevel.open_process`` forks in one of trio's worker threads, and those threads exit
after 10 seconds idle. The kernel ties a child's parent-death signal (``PR_SET_PDEATHSIG``,
which bubblewrap's ``--die-with-parent`` sets) to the *thread* that forked it, not to the
process: every jailed command that outlived its worker thread was SIGKILLed about 10 s after it
started (measured: ``bwrap --die-with-parent sleep 25`` under trio ends with -9 after 10.0 s).
Forking from one long-lived thread keeps the intent of ``--die-with-parent`` — the command dies
with the daemon, even after kill -9 — without killing long commands.

:class:`Child` offers the part of ``trio.Process`` that aios uses (``pid``, ``returncode``,
``poll``, ``wait``, and trio streams for the pipes), waiting on a pidfd.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import IO, Any

import trio

_jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _serve() -> None:
    while True:
        fn, fut = _jobs.get()
        if not fut.set_running_or_notify_cancel():
            continue
        try:
            fut.set_result(fn())
        except BaseException as exc:  # handed to the caller
            fut.set_exception(exc)


def _submit(fn: Callable[[], Any]) -> Future[Any]:
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="aios-spawner", daemon=True)
            _thread.start()
    fut: Future[Any] = Future()
    _jobs.put((fn, fut))
    return fut


class Child:
    """A child process started by :func:`open_process`."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: trio.lowlevel.FdStream | None,
        stdout: trio.lowlevel.FdStream | None,
        stderr: trio.lowlevel.FdStream | None,
    ) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._changed = trio.Event()
        self._waiting = False
        try:
            self._pidfd: int | None = os.pidfd_open(popen.pid)
        except OSError:  # kernels before 5.3: wait in a thread instead
            self._pidfd = None

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def poll(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        """Wait until the process has exited (and reap it); return its exit status."""
        while self._popen.returncode is None:
            if self._waiting:  # another task waits on the pidfd: wait for it to finish or give up
                await self._changed.wait()
                continue
            self._waiting = True
            try:
                if self._pidfd is not None:
                    await trio.lowlevel.wait_readable(self._pidfd)
                    self._popen.wait()  # it has exited: this reaps it at once
                else:
                    await trio.to_thread.run_sync(self._popen.wait, abandon_on_cancel=True)
            finally:
                self._waiting = False
                self._changed.set()
                self._changed = trio.Event()
        self._close_pidfd()
        return self._popen.returncode

    def _close_pidfd(self) -> None:
        if self._pidfd is not None and not self._waiting:
            fd, self._pidfd = self._pidfd, None
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._close_pidfd()


async def open_process(
    argv: Sequence[str],
    *,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    pipe_owner: int | None = None,
    **options: Any,
) -> Child:
    """Like ``trio.lowlevel.open_process``, forking from the long-lived spawner thread.

    ``pipe_owner``: the uid the child runs as, when it is not ours. The pipes are then handed to
    it, so that the child can reopen them (``> /dev/stderr``, ``/proc/self/fd/1``), which a
    root-owned 0600 pipe refuses to another user.
    """
    parent_ends: list[trio.lowlevel.FdStream] = []
    child_ends: list[int] = []
    streams: dict[str, trio.lowlevel.FdStream | None] = {"stdin": None, "stdout": None, "stderr": None}
    fds: dict[str, int | IO[Any] | None] = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
    try:
        for name in ("stdin", "stdout", "stderr"):
            if fds[name] == subprocess.PIPE:
                r, w = os.pipe()
                mine, theirs = (w, r) if name == "stdin" else (r, w)
                child_ends.append(theirs)
                if pipe_owner is not None:
                    os.fchown(theirs, pipe_owner, -1)
                streams[name] = trio.lowlevel.FdStream(mine)
                parent_ends.append(streams[name])  # type: ignore[arg-type]
                fds[name] = theirs
        popen_args = dict(options, stdin=fds["stdin"], stdout=fds["stdout"], stderr=fds["stderr"])
        fut = _submit(lambda: subprocess.Popen(list(argv), **popen_args))
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        fut.add_done_callback(lambda _f: token.run_sync_soon(done.set))
        with trio.CancelScope(shield=True):  # once asked for, the process exists: never lose it
            await done.wait()
        popen = fut.result()
    except BaseException:
        for stream in parent_ends:
            stream.close()
        raise
    finally:
        for fd in child_ends:
            os.close(fd)
    return Child(popen, streams["stdin"], streams["stdout"], streams["stderr"])

"""The runner's plumbing: reading a command's pipes under a cap, feeding its stdin, killing it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from collections.abc import Awaitable, Callable

import trio

OnOutput = Callable[[str, bytes], Awaitable[None]]

READ_SIZE = 256 * 1024
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031


class _Capture:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes | bytearray) -> bytes:
        room = self.limit - len(self.kept)
        if room >= len(chunk):
            self.kept += chunk
            return bytes(chunk)
        head = bytes(chunk[: max(room, 0)])
        self.kept += head
        self.dropped += len(chunk) - len(head)
        return head

    def marker(self) -> bytes:
        lead = b"" if not self.kept or self.kept.endswith(b"\n") else b"\n"
        return lead + f"[aios: output truncated, {self.dropped} bytes dropped]\n".encode()

    def text(self) -> str:
        data = bytes(self.kept) + (self.marker() if self.dropped else b"")
        return data.decode("utf-8", errors="replace")


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _pump(
    stream: trio.abc.ReceiveStream, cap: _Capture, name: str, on_output: OnOutput | None
) -> None:
    """Read a pipe to its end, keeping the head; what is over the cap is read and dropped."""
    fileno = getattr(stream, "fileno", None)
    if fileno is not None:
        # Fewer, larger reads when a command floods its output (a hint: failure is harmless).
        with contextlib.suppress(OSError):
            fcntl.fcntl(fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
    while True:
        try:
            chunk = await stream.receive_some(READ_SIZE)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        if not chunk:
            return
        kept = cap.feed(chunk)
        if kept and on_output is not None:
            await on_output(name, kept)


async def _feed(stream: trio.abc.SendStream, data: bytes) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)
        await stream.aclose()

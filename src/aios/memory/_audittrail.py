"""The daemon's view of the audit trail: async appends, a journal copy, and followers.

One writer connection (appends are serialised by SQLite anyway, and by a trio lock here) and
one reader, each used by one worker thread at a time. Followers wake when this daemon appends
and poll every ``poll_s`` for records other daemons on the same store appended.

Cancellation: a cancelled caller abandons the worker thread's result; the append itself runs to
completion in its thread, so a chain is never left half-written.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from ._audit import AuditLog
from ._journal import Journal, summary

T = TypeVar("T")
log = logging.getLogger("aios.audit")


class AuditTrail:
    """Async wrapper around two :class:`AuditLog` connections. Create with :meth:`open`."""

    def __init__(self, writer: AuditLog, reader: AuditLog, journal: Journal) -> None:
        self._writer = writer
        self._reader = reader
        self.journal = journal
        self._write_lock = trio.Lock()
        self._read_lock = trio.Lock()
        self._appended = trio.Event()
        self._anchor: tuple[str, int, str] | None = None
        """(origin, seq, hash) of the newest record this daemon appended: verify's tail check."""
        self.origin = writer.origin
        self.path = writer.path

    @classmethod
    async def open(cls, path: Path, *, origin: str | None = None, busy_timeout: float = 10.0, journal: str = "") -> AuditTrail:
        """Open the memory database's audit table; ``journal`` is the journal's socket ("" = none)."""
        opener = functools.partial(AuditLog.open, path, origin=origin, busy_timeout=busy_timeout)
        writer = await trio.to_thread.run_sync(opener)
        reader = await trio.to_thread.run_sync(opener)
        return cls(writer, reader, Journal(journal))

    async def aclose(self) -> None:
        async with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()
            self.journal.close()

    async def _read(self, fn: Callable[[AuditLog], T]) -> T:
        async with self._read_lock:
            return await trio.to_thread.run_sync(fn, self._reader)

    async def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one record, copy it to the journal, log it at INFO, wake the followers."""

        def work(log_: AuditLog) -> dict[str, Any]:
            record = log_.append(fields)
            self.journal.send(record)
            return record

        async with self._write_lock:
            record = await trio.to_thread.run_sync(work, self._writer)
            self._anchor = (str(record["origin"]), int(record["seq"]), str(record["hash"]))
        log.info("%s", summary(record))
        self._wake()
        return record

    async def prune(self, older_than: float) -> dict[str, Any] | None:
        """Prune this origin's records older than ``older_than`` (see :meth:`AuditLog.prune`)."""

        def work(log_: AuditLog) -> dict[str, Any] | None:
            record = log_.prune(older_than)
            if record is not None:
                self.journal.send(record)
            return record

        async with self._write_lock:
            record = await trio.to_thread.run_sync(work, self._writer)
            if record is not None:
                self._anchor = (str(record["origin"]), int(record["seq"]), str(record["hash"]))
        if record is not None:
            log.info("%s", summary(record))
            self._wake()
        return record

    def _wake(self) -> None:
        self._appended.set()
        self._appended = trio.Event()

    async def list(self, **filters: Any) -> list[dict[str, Any]]:
        return await self._read(lambda a: a.list(**filters))

    async def verify(self) -> dict[str, Any]:
        anchor = self._anchor
        return await self._read(lambda a: a.verify(anchor))

    async def head(self) -> int:
        return await self._read(lambda a: a.head())

    async def wait(self, poll_s: float) -> None:
        """Return when this daemon appends a record, or after ``poll_s`` (another daemon may have)."""
        with trio.move_on_after(poll_s):
            await self._appended.wait()

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from aios.errors import MemoryStoreError

from ._audit import AuditLog
from ._journal import Journal, summary

T = TypeVar("T")
MAX_BACKLOG = 10_000
"""Records kept in RAM while the store cannot be written; beyond it the oldest are dropped (logged)."""
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
        self._backlog: list[tuple[dict[str, Any], float]] = []
        """Records whose append failed (the store locked or full), written before any later one."""
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
        """Append one record, copy it to the journal, log it at INFO, wake the followers.

        Raises:
            MemoryStoreError: the store could not be written (locked past its busy timeout, full):
                the record is kept, in order, and written before the next append or read.
        """
        async with self._write_lock:
            self._backlog.append((fields, time.time()))
            records = await self._drain()
        for record in records:
            log.info("%s", summary(record))
        self._wake()
        return records[-1]

    async def _drain(self) -> list[dict[str, Any]]:
        """Write the records waiting in the backlog, oldest first (call with the write lock held)."""

        def work(log_: AuditLog) -> list[dict[str, Any]]:
            done: list[dict[str, Any]] = []
            while self._backlog:
                fields, at = self._backlog[0]
                try:
                    record = log_.append(fields, at=at)
                except MemoryStoreError:
                    raise  # the store cannot be written now: this record stays first in line
                except Exception:
                    self._backlog.pop(0)  # this record can never be written: it must not block the rest
                    raise
                self._backlog.pop(0)
                self.journal.send(record)
                self._anchor = (str(record["origin"]), int(record["seq"]), str(record["hash"]))
                done.append(record)
            return done

        try:
            return await trio.to_thread.run_sync(work, self._writer)
        finally:
            if len(self._backlog) > MAX_BACKLOG:
                log.error("audit: %d records could not be written; dropping the oldest %d",
                          len(self._backlog), len(self._backlog) - MAX_BACKLOG)
                del self._backlog[: len(self._backlog) - MAX_BACKLOG]

    async def flush(self) -> None:
        """Write what a failed append left waiting (a no-op when nothing waits; never raises)."""
        if not self._backlog:
            return
        async with self._write_lock:
            try:
                records = await self._drain()
            except MemoryStoreError as exc:
                log.warning("audit: %d records still wait to be written: %s", len(self._backlog), exc)
                return
        for record in records:
            log.info("%s", summary(record))
        self._wake()

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
        await self.flush()
        return await self._read(lambda a: a.list(**filters))

    async def verify(self) -> dict[str, Any]:
        await self.flush()
        anchor = self._anchor
        return await self._read(lambda a: a.verify(anchor))

    async def head(self) -> int:
        return await self._read(lambda a: a.head())

    async def wait(self, poll_s: float) -> None:
        """Return when this daemon appends a record, or after ``poll_s`` (another daemon may have)."""
        with trio.move_on_after(poll_s):
            await self._appended.wait()

"""The daemon's view of the store: the same calls, async, never blocking the trio thread.

One writer connection (writes are serialised by SQLite anyway) and a pool of reader connections.
Each call runs in a worker thread through ``trio.to_thread.run_sync``; a connection is used by
one thread at a time. WAL lets readers run while the writer writes.

Cancellation: a cancelled caller abandons the worker thread's result; the statement itself runs
to completion in its thread (SQLite calls are short), so the database is never left half-written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import trio

from aios.config import MemoryRetention

from ._model import Memory, MemoryType, SearchHit
from ._store import MemoryStore

T = TypeVar("T")


class AsyncMemory:
    """Async wrapper with a writer and a pool of readers. Create with :meth:`open`."""

    def __init__(self, writer: MemoryStore, readers: list[MemoryStore]) -> None:
        self._writer = writer
        self._write_lock = trio.Lock()
        self._readers = readers
        self._free = list(readers)
        self._reader_slots = trio.Semaphore(len(readers))
        self._limiter = trio.CapacityLimiter(len(readers) + 1)
        self.path = writer.path

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0, readers: int = 4) -> AsyncMemory:
        """Open the database (creating and migrating it) with ``readers`` read connections."""
        writer = await trio.to_thread.run_sync(functools.partial(MemoryStore.open, path, busy_timeout=busy_timeout))
        pool = [
            await trio.to_thread.run_sync(functools.partial(MemoryStore.open, path, busy_timeout=busy_timeout))
            for _ in range(max(1, readers))
        ]
        return cls(writer, pool)

    async def aclose(self) -> None:
        async with self._write_lock:
            for store in [self._writer, *self._readers]:
                store.close()

    async def _read(self, fn: Callable[[MemoryStore], T]) -> T:
        async with self._reader_slots:
            store = self._free.pop()
            try:
                return await trio.to_thread.run_sync(fn, store, limiter=self._limiter)
            finally:
                self._free.append(store)

    async def _write(self, fn: Callable[[MemoryStore], T]) -> T:
        async with self._write_lock:
            return await trio.to_thread.run_sync(fn, self._writer, limiter=self._limiter)

    async def add(self, type: MemoryType | str, content: str, metadata: dict[str, Any] | None = None, *, origin: str | None = None) -> Memory:
        return await self._write(lambda s: s.add(type, content, metadata, origin=origin))

    async def add_many(self, items: Sequence[tuple[MemoryType | str, str, dict[str, Any] | None]], *, origin: str | None = None) -> list[str]:
        return await self._write(lambda s: s.add_many(items, origin=origin))

    async def update_metadata(self, id: str, patch: dict[str, Any]) -> Memory:
        return await self._write(lambda s: s.update_metadata(id, patch))

    async def cleanup(self, retention: MemoryRetention, *, keep_ids: Collection[str] = ()) -> dict[str, int]:
        return await self._write(lambda s: s.cleanup(retention, keep_ids=keep_ids))

    async def get(self, id: str) -> Memory | None:
        return await self._read(lambda s: s.get(id))

    async def search(self, query: str, **kwargs: Any) -> list[SearchHit]:
        return await self._read(lambda s: s.search(query, **kwargs))

    async def recent(self, **kwargs: Any) -> list[Memory]:
        return await self._read(lambda s: s.recent(**kwargs))

    async def sessions(self, *, limit: int = 20) -> list[dict[str, Any]]:
        return await self._read(lambda s: s.sessions(limit=limit))

    async def counts(self) -> dict[str, int]:
        return await self._read(lambda s: s.counts())

"""The daemon's view of the store: the same calls, async, never blocking the trio thread.

One writer connection (writes are serialised by SQLite anyway) and a pool of reader connections.
Each call runs in a worker thread through ``trio.to_thread.run_sync``; a connection is used by
one thread at a time. WAL lets readers run while the writer writes.

Semantic search (optional, :class:`Semantic`) adds a back-fill thread and an in-RAM index; the
searches themselves still run on the reader pool.

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
from aios.errors import MemoryStoreError

from ._model import Memory, MemoryType, SearchHit
from ._search import Mode, Query, run
from ._semantic import Progress, Semantic
from ._store import MemoryStore

T = TypeVar("T")


class AsyncMemory:
    """Async wrapper with a writer and a pool of readers. Create with :meth:`open`."""

    def __init__(self, writer: MemoryStore, readers: list[MemoryStore], semantic: Semantic | None = None) -> None:
        self._writer = writer
        self.semantic = semantic
        self._write_lock = trio.Lock()
        self._readers = readers
        self._free = list(readers)
        self._reader_slots = trio.Semaphore(len(readers))
        self._limiter = trio.CapacityLimiter(len(readers) + 1)
        self.path = writer.path

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0, readers: int = 4, semantic: Semantic | None = None) -> AsyncMemory:
        """Open the database (creating and migrating it) with ``readers`` read connections.

        With ``semantic``, start its back-fill thread (it stops in :meth:`aclose`).
        """
        writer = await trio.to_thread.run_sync(functools.partial(MemoryStore.open, path, busy_timeout=busy_timeout))
        pool = [
            await trio.to_thread.run_sync(functools.partial(MemoryStore.open, path, busy_timeout=busy_timeout))
            for _ in range(max(1, readers))
        ]
        if semantic is not None:
            semantic.start()
        return cls(writer, pool, semantic)

    async def aclose(self) -> None:
        if self.semantic is not None:
            await trio.to_thread.run_sync(self.semantic.stop)
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

    def _wake(self) -> None:
        if self.semantic is not None:
            self.semantic.wake()

    async def add(self, type: MemoryType | str, content: str, metadata: dict[str, Any] | None = None, *, origin: str | None = None) -> Memory:
        memory = await self._write(lambda s: s.add(type, content, metadata, origin=origin))
        self._wake()
        return memory

    async def add_many(self, items: Sequence[tuple[MemoryType | str, str, dict[str, Any] | None]], *, origin: str | None = None) -> list[str]:
        ids = await self._write(lambda s: s.add_many(items, origin=origin))
        self._wake()
        return ids

    async def update_metadata(self, id: str, patch: dict[str, Any]) -> Memory:
        return await self._write(lambda s: s.update_metadata(id, patch))

    async def cleanup(self, retention: MemoryRetention, *, keep_ids: Collection[str] = ()) -> dict[str, int]:
        return await self._write(lambda s: s.cleanup(retention, keep_ids=keep_ids))

    async def get(self, id: str) -> Memory | None:
        return await self._read(lambda s: s.get(id))

    def mode(self, wanted: Mode | str | None = None) -> tuple[Mode, str | None]:
        """The mode a search will use, and a notice when it is not the one asked for.

        None (or "auto") asks for the default: hybrid when vectors are ready, else keyword (with
        no notice when semantic memory is not configured at all).

        Raises:
            ValueError: ``wanted`` is not a mode.
        """
        asked = (None if wanted.strip().lower() == "auto" else Mode.parse(wanted)) if isinstance(wanted, str) else wanted
        if asked is Mode.KEYWORD:
            return Mode.KEYWORD, None
        if self.semantic is not None and self.semantic.ready() is not None:
            return asked or Mode.HYBRID, self.semantic.notice
        if asked is None and self.semantic is None:
            return Mode.KEYWORD, None
        why = self.semantic.notice if self.semantic is not None else "semantic search is off (memory.embedder = \"off\")"
        return Mode.KEYWORD, f"{why}; searched by keyword"

    async def search(self, query: str, *, mode: Mode | str | None = None, **kwargs: Any) -> list[SearchHit]:
        """Best matches first; ``mode`` keyword|semantic|hybrid (see :meth:`mode`); filters as :class:`Query`."""
        used, _notice = self.mode(mode)
        q = Query(query, **kwargs)
        return await self._read(lambda s: run(s, self.semantic, used, q))

    async def progress(self) -> Progress | None:
        """Embedding progress of the store's model (None without semantic memory)."""
        semantic = self.semantic
        if semantic is None:
            return None
        return await self._read(semantic.progress)

    async def reindex(self, model: str | None = None) -> Progress | None:
        """Switch the store to ``model`` (re-embedding everything), or embed what is missing now.

        Raises:
            MemoryStoreError: no semantic memory here, or ``model`` cannot be loaded.
        """
        semantic = self.semantic
        if semantic is None:
            raise MemoryStoreError('semantic memory is off (memory.embedder = "off"); nothing to reindex')
        if model is not None:
            await self._write(lambda s: semantic.switch(s, model))
        semantic.wake()
        return await self.progress()

    async def recent(self, **kwargs: Any) -> list[Memory]:
        return await self._read(lambda s: s.recent(**kwargs))

    async def sessions(self, *, limit: int = 20, uid: int | None = None) -> list[dict[str, Any]]:
        return await self._read(lambda s: s.sessions(limit=limit, uid=uid))

    async def counts(self) -> dict[str, int]:
        return await self._read(lambda s: s.counts())

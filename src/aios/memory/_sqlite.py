"""What every connection to the memory database shares: errors that name the file, and write
transactions that take the write lock first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from aios.errors import MemoryStoreError


@contextmanager
def store_errors(path: Path, what: str) -> Iterator[None]:
    """Turn an SQLite error into a :class:`MemoryStoreError` naming the file and what failed."""
    try:
        yield
    except apsw.Error as exc:
        raise MemoryStoreError(f"memory database {path}: {what} failed: {exc}", data={"path": str(path)}) from exc


@contextmanager
def immediate(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """A write transaction opened with BEGIN IMMEDIATE (read-then-write safe across processes)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")

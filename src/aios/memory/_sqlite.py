"""What every connection to the memory database shares: errors that name the file, and write
transactions that take the write lock first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from aios.errors import MemoryStoreError


def connect(path: Path, *, busy_timeout: float, readonly: bool) -> apsw.Connection:
    """Open (creating and migrating when needed) the memory database at ``path``: WAL, NORMAL
    sync, the busy timeout.

    Raises:
        MemoryStoreError: the file cannot be opened, is not a database, or is damaged.
    """
    from ._schema import migrate

    try:
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
        flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        conn = apsw.Connection(str(path), flags=flags)
        conn.set_busy_timeout(int(busy_timeout * 1000))
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
    except (apsw.Error, OSError) as exc:
        raise MemoryStoreError(f"cannot open the memory database {path}: {exc}", data={"path": str(path)}) from exc
    return conn


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

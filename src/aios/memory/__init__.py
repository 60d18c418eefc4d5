"""The one shared memory: an apsw (SQLite) database with FTS5 search.

Every command, chat turn, system event and snapshot is written here once, with the host or
container that made it (``origin``). Share it between containers by bind-mounting the directory
that holds memory.db, never the file alone (WAL needs its -wal and -shm files beside it).
"""

from ._async import AsyncMemory
from ._model import Memory, MemoryType, SearchHit, default_origin, iso, parse_since
from ._schema import VERSION as SCHEMA_VERSION
from ._store import SNIPPET_END, SNIPPET_START, MemoryStore, fts_query

__all__ = [
    "SCHEMA_VERSION",
    "SNIPPET_END",
    "SNIPPET_START",
    "AsyncMemory",
    "Memory",
    "MemoryStore",
    "MemoryType",
    "SearchHit",
    "default_origin",
    "fts_query",
    "iso",
    "parse_since",
]

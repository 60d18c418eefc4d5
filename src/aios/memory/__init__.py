"""The one shared memory: an apsw (SQLite) database with FTS5 search.

Every command, chat turn, system event and snapshot is written here once, with the host or
container that made it (``origin``). Share it between containers by bind-mounting the directory
that holds memory.db, never the file alone (WAL needs its -wal and -shm files beside it).

Search is keyword (bm25 over a stemmed index), semantic (embeddings of every memory, stored in
the same database) or hybrid (both, fused); see docs/memory.md. The audit trail (one
hash-chained record per decision on an action) has a table of its own; see docs/audit.md.
"""

from ._async import AsyncMemory
from ._audit import GENESIS, AuditLog
from ._audittrail import AuditTrail
from ._embed import MINILM_ID, Embedder, HttpEmbedder, MiniLM
from ._model import Memory, MemoryType, SearchHit, default_origin, iso, parse_since
from ._schema import VERSION as SCHEMA_VERSION
from ._search import Mode
from ._semantic import Progress, Semantic, from_config
from ._store import SNIPPET_END, SNIPPET_START, MemoryStore, fts_query

__all__ = [
    "GENESIS",
    "MINILM_ID",
    "SCHEMA_VERSION",
    "SNIPPET_END",
    "SNIPPET_START",
    "AsyncMemory",
    "AuditLog",
    "AuditTrail",
    "Embedder",
    "HttpEmbedder",
    "Memory",
    "MemoryStore",
    "MemoryType",
    "MiniLM",
    "Mode",
    "Progress",
    "SearchHit",
    "Semantic",
    "default_origin",
    "from_config",
    "fts_query",
    "iso",
    "parse_since",
]

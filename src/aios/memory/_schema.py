"""Schema and forward migrations, versioned with ``PRAGMA user_version``.

Version 1: ``memories`` (integer rowid, ULID ``id``, type, content, metadata JSON, created_at as
unix time) and an external-content FTS5 index kept in sync by triggers.
Version 2: ``origin`` (which host or container wrote the record) and an index on it.
Version 3: the FTS index stems words (``porter`` over ``unicode61``), so "restore" finds
"restored"; the index is dropped and rebuilt from ``memories``.
Version 4: ``memory_vectors`` (one embedding per memory, with the model that made it) and
``memory_settings`` (the store's embedding model, shared by every daemon on the store). Deleting
a memory or changing its content deletes its vector, in the same statement.
Version 5: ``audit``, the hash-chained audit trail (one chain per origin; see ``_audit.py``).
Row numbers are never reused (AUTOINCREMENT): following the trail reads "rows after N".

Each migration runs in one ``BEGIN IMMEDIATE`` transaction, so two processes opening an old
database at once migrate it once.
"""

from __future__ import annotations

import apsw

V1 = """
CREATE TABLE IF NOT EXISTS memories (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    memory_type TEXT NOT NULL CHECK (memory_type IN ('Command', 'Chat', 'System', 'Snapshot')),
    content TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_type_time ON memories (memory_type, created_at);
CREATE INDEX IF NOT EXISTS memories_time ON memories (created_at);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    content, content='memories', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    INSERT INTO memories_fts (rowid, content) VALUES (new.rowid, new.content);
END;
"""

V2 = """
ALTER TABLE memories ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS memories_origin ON memories (origin, created_at);
"""

TOKENIZE = "porter unicode61 remove_diacritics 2"

V3 = f"""
DROP TABLE IF EXISTS memories_fts;
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, content='memories', content_rowid='rowid', tokenize='{TOKENIZE}'
);
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');
"""

V4 = """
CREATE TABLE IF NOT EXISTS memory_vectors (
    memory_rowid INTEGER PRIMARY KEY,
    vid INTEGER NOT NULL UNIQUE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_vectors_model ON memory_vectors (model, vid);
CREATE TABLE IF NOT EXISTS memory_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS memories_vec_ad AFTER DELETE ON memories BEGIN
    DELETE FROM memory_vectors WHERE memory_rowid = old.rowid;
END;
CREATE TRIGGER IF NOT EXISTS memories_vec_au AFTER UPDATE OF content ON memories BEGIN
    DELETE FROM memory_vectors WHERE memory_rowid = old.rowid;
END;
"""

V5 = """
CREATE TABLE IF NOT EXISTS audit (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    fields TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (origin, seq)
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (at);
"""

MIGRATIONS: list[str] = [V1, V2, V3, V4, V5]
VERSION = len(MIGRATIONS)


def _user_version(conn: apsw.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: apsw.Connection) -> int:
    """Bring the database up to :data:`VERSION`; return the version it had."""
    found = _user_version(conn)
    if found >= VERSION:
        return int(found)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = _user_version(conn)
        for number in range(current, VERSION):
            conn.execute(MIGRATIONS[number])
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(found)

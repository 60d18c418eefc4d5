"""The blocking store: one apsw connection to the shared memory database.

Search design (measured in design.md at 1M rows): bm25 ranks every matching row whatever the
LIMIT, so a very common word costs 100+ ms. We rank only the newest ``window`` matches (FTS5
walks its index in rowid order, newest first, and stops), then order those by bm25. Rare words
see every match; common ones see the most recent ``window``, which is also what a person means.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import apsw
from ulid import ULID

from aios.config import MemoryRetention
from aios.errors import MemoryStoreError

from . import _rank
from ._model import Memory, MemoryType, SearchHit, default_origin, iso
from ._schema import TOKENIZE
from ._sqlite import connect, immediate, store_errors
from ._vectable import VectorTable

_COLUMNS = "id, memory_type, content, metadata, created_at, origin"
_WORD = re.compile(r"\w", re.UNICODE)
SNIPPET_START, SNIPPET_END = "\x02", "\x03"


def query_pieces(text: str) -> list[tuple[str, bool]]:
    """Split what a person typed into (piece, is_prefix) pairs that contain a word."""
    out = []
    # SQLite reads a query string only up to a NUL byte: a NUL would cut a quoted phrase open.
    for piece in text.replace("\x00", " ").split():
        prefix = piece.endswith("*")
        core = piece.rstrip("*")
        if _WORD.search(core):
            out.append((core, prefix))
    return out


def fts_query(text: str, *, any_word: bool = False) -> str | None:
    """Turn any text a person types into a valid FTS5 query, or None when it has no words.

    Every whitespace-separated piece becomes a quoted phrase (quotes doubled), so FTS5 syntax
    (``AND``, ``NEAR``, ``-``, ``:``, parentheses) is searched for as text. A trailing ``*`` on a
    piece stays a prefix search.
    """
    parts = ['"' + core.replace('"', '""') + '"' + ("*" if prefix else "") for core, prefix in query_pieces(text)]
    if not parts:
        return None
    return (" OR " if any_word else " ").join(parts)


def _row(r: Sequence[Any]) -> Memory:
    return Memory(
        id=r[0],
        type=MemoryType(r[1]),
        content=r[2],
        metadata=json.loads(r[3]) if r[3] else {},
        created_at=float(r[4]),
        origin=r[5] or "",
    )


class MemoryStore:
    """One connection to the memory database. Not for concurrent use from several threads."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._tok = _rank.tokenizer(conn, TOKENIZE)
        self._hit_terms: tuple[str, list[tuple[str, bool]]] | None = None
        self.vectors = VectorTable(conn, path)

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = 10.0, readonly: bool = False) -> MemoryStore:
        """Open (creating and migrating when needed) the database at ``path``.

        Raises:
            MemoryStoreError: the file cannot be opened, is not a database, or is damaged.
        """
        path = Path(path)
        conn = connect(path, busy_timeout=busy_timeout, readonly=readonly)
        return cls(conn, path)

    def close(self) -> None:
        self._conn.close()

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return store_errors(self.path, what)

    def _write(self) -> AbstractContextManager[apsw.Connection]:
        """A write transaction opened with BEGIN IMMEDIATE (read-then-write safe across processes)."""
        return immediate(self._conn)

    def add(
        self,
        type: MemoryType | str,
        content: str,
        metadata: dict[str, Any] | None = None,
        *,
        origin: str | None = None,
        id: str | None = None,
        created_at: float | None = None,
    ) -> Memory:
        """Insert one memory (a single statement: safe with other writers)."""
        memory = Memory(
            id=id or str(ULID()),
            type=MemoryType.parse(type),
            content=content,
            metadata=dict(metadata or {}),
            created_at=time.time() if created_at is None else created_at,
            origin=origin if origin is not None else default_origin(),
        )
        with self._errors("adding a memory"):
            self._conn.execute(
                "INSERT INTO memories (id, memory_type, content, metadata, created_at, origin) VALUES (?, ?, ?, ?, ?, ?)",
                (memory.id, memory.type.value, memory.content, json.dumps(memory.metadata, ensure_ascii=False, default=str), memory.created_at, memory.origin),
            )
        return memory

    def add_many(self, items: Iterable[tuple[MemoryType | str, str, dict[str, Any] | None]], *, origin: str | None = None) -> list[str]:
        """Insert many memories in one transaction; return their ids."""
        origin = origin if origin is not None else default_origin()
        rows = []
        now = time.time()
        for type_, content, meta in items:
            rows.append((str(ULID()), MemoryType.parse(type_).value, content, json.dumps(meta or {}, ensure_ascii=False, default=str), now, origin))
        with self._errors("adding memories"), self._write() as conn:
            conn.executemany(
                "INSERT INTO memories (id, memory_type, content, metadata, created_at, origin) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return [r[0] for r in rows]

    def get(self, id: str) -> Memory | None:
        """The memory with this id, or None (any text is accepted as an id)."""
        with self._errors("reading a memory"):
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (id,)).fetchall()
        return _row(rows[0]) if rows else None

    def update_metadata(self, id: str, patch: dict[str, Any]) -> Memory:
        """Merge ``patch`` into a memory's metadata.

        Raises:
            MemoryStoreError: no memory has this id.
        """
        with self._errors("updating a memory"), self._write() as conn:
            rows = conn.execute("SELECT metadata FROM memories WHERE id = ?", (id,)).fetchall()
            if not rows:
                raise MemoryStoreError(f"no memory with id {id!r}", data={"id": id})
            merged = {**json.loads(str(rows[0][0] or "{}")), **patch}
            conn.execute("UPDATE memories SET metadata = ? WHERE id = ?", (json.dumps(merged, ensure_ascii=False, default=str), id))
        found = self.get(id)
        assert found is not None
        return found

    def filters(self, types: Sequence[MemoryType] | None, since: float | None, until: float | None, origin: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if types:
            clauses.append("m.memory_type IN (" + ",".join("?" * len(types)) + ")")
            args.extend(MemoryType.parse(t).value for t in types)
        if since is not None:
            clauses.append("m.created_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("m.created_at <= ?")
            args.append(until)
        if origin is not None:
            clauses.append("m.origin = ?")
            args.append(origin)
        return "".join(" AND " + c for c in clauses), args

    def search(
        self,
        query: str,
        *,
        types: Sequence[MemoryType] | None = None,
        since: float | None = None,
        until: float | None = None,
        origin: str | None = None,
        limit: int = 20,
        window: int = 200,
        any_word: bool = False,
    ) -> list[SearchHit]:
        """Best matches first (BM25 among the newest ``window`` matches), with snippets.

        Words are stemmed ("restore" finds "restored"); memories that contain an identifier of
        the query as typed (``resolv.conf``, ``SystemMaxUse``) come first. Any text is a valid
        query; text without words matches nothing.
        """
        ranked = self.keyword(query, types=types, since=since, until=until, origin=origin, limit=limit, window=window, any_word=any_word)
        return [self.hit(memory, query, score, fts_rank=i + 1, bm25=score) for i, (_rowid, score, memory, _exact) in enumerate(ranked)]

    def hit(self, memory: Memory, query: str, score: float, **why: Any) -> SearchHit:
        """A :class:`SearchHit` for ``memory`` with the query's words marked in its snippet."""
        memo = self._hit_terms  # one query's hits come in a row; read once (threads share a store)
        if memo is None or memo[0] != query:
            memo = self._hit_terms = (query, _rank.query_terms(query_pieces(query), self._tok))
        terms = memo[1]
        return SearchHit(memory, _rank.snippet(memory.content, terms, self._tok, SNIPPET_START, SNIPPET_END), score, **why)

    def keyword(
        self,
        query: str,
        *,
        types: Sequence[MemoryType] | None = None,
        since: float | None = None,
        until: float | None = None,
        origin: str | None = None,
        limit: int = 20,
        window: int = 200,
        any_word: bool = False,
    ) -> list[tuple[int, float, Memory, int]]:
        """(rowid, bm25, memory, identifiers found as typed) of the best matches, best first (see :meth:`search`)."""
        match = fts_query(query, any_word=any_word)
        if match is None or limit <= 0:
            return []
        where, args = self.filters(types, since, until, origin)
        cols = ", ".join("m." + c.strip() for c in _COLUMNS.split(","))
        with self._errors("searching"):
            # Newest matches first: FTS5 walks its index backwards and stops after the window.
            rows = self._conn.execute(
                f"SELECT f.rowid, {cols} FROM memories_fts f JOIN memories m ON m.rowid = f.rowid"
                f" WHERE memories_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?",
                (match, *args, window),
            ).fetchall()
        if not rows:
            return []
        pieces = query_pieces(query)
        terms = _rank.query_terms(pieces, self._tok)
        idents = _rank.identifiers(pieces)
        docs = [str(r[3]) for r in rows]
        scores = _rank.bm25(docs, terms, self._tok)
        exact = [_rank.exact_hits(d, idents) for d in docs]
        order = sorted(range(len(rows)), key=lambda i: (-exact[i], scores[i], -int(rows[i][0])))[:limit]  # type: ignore[arg-type]
        return [(int(rows[i][0]), scores[i], _row(rows[i][1:]), exact[i]) for i in order]  # type: ignore[arg-type]

    def by_rowid(self, rowids: Sequence[int]) -> dict[int, Memory]:
        """The memories with these rowids (missing ones left out)."""
        if not rowids:
            return {}
        with self._errors("reading memories"):
            rows = self._conn.execute(
                f"SELECT m.rowid, {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))} FROM memories m"
                " WHERE m.rowid IN (SELECT value FROM json_each(?))",
                (json.dumps([int(r) for r in rowids]),),
            ).fetchall()
        return {int(r[0]): _row(r[1:]) for r in rows}  # type: ignore[arg-type]

    def recent(
        self,
        *,
        types: Sequence[MemoryType] | None = None,
        since: float | None = None,
        until: float | None = None,
        origin: str | None = None,
        session: str | None = None,
        limit: int = 20,
    ) -> list[Memory]:
        """Newest first, without a query; ``session`` keeps memories whose metadata names it."""
        where, args = self.filters(types, since, until, origin)
        if session is not None:
            where += " AND json_extract(m.metadata, '$.session') = ?"
            args.append(session)
        with self._errors("listing memories"):
            rows = self._conn.execute(
                f"SELECT {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))} FROM memories m"
                f" WHERE 1{where} ORDER BY m.created_at DESC, m.rowid DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def sessions(self, *, limit: int = 20, uid: int | None = None) -> list[dict[str, Any]]:
        """Chat sessions, newest activity first: id, turns, first and last time, first message.

        ``uid``: only sessions whose turns were all made for that uid (the daemon records it).
        """
        where = "" if uid is None else " HAVING min(json_extract(metadata, '$.uid')) = ? AND max(json_extract(metadata, '$.uid')) = ?" \
            " AND count(json_extract(metadata, '$.uid')) = count(*)"
        args: tuple[Any, ...] = (limit,) if uid is None else (uid, uid, limit)
        with self._errors("listing sessions"):
            rows = self._conn.execute(
                "SELECT json_extract(metadata, '$.session') AS s, count(*), min(created_at), max(created_at),"
                " (SELECT content FROM memories f WHERE f.memory_type = 'Chat'"
                "   AND json_extract(f.metadata, '$.session') = json_extract(m.metadata, '$.session')"
                "   ORDER BY f.created_at, f.rowid LIMIT 1)"
                " FROM memories m WHERE memory_type = 'Chat' AND s IS NOT NULL"
                f" GROUP BY s{where} ORDER BY max(created_at) DESC LIMIT ?",
                args,
            ).fetchall()
        return [
            {"session": r[0], "turns": r[1], "started_at": iso(r[2]), "last_at": iso(r[3]), "first": r[4]}  # type: ignore[arg-type]
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Memories per type (all four keys present)."""
        out = {t.value: 0 for t in MemoryType}
        with self._errors("counting"):
            for type_, n in self._conn.execute("SELECT memory_type, count(*) FROM memories GROUP BY memory_type"):
                out[type_] = n
        return out

    def fts_count(self) -> int:
        """Rows in the full-text index (equal to the number of memories when consistent)."""
        with self._errors("counting"):
            row = self._conn.execute("SELECT count(*) FROM memories_fts").fetchone()
        return int(row[0]) if row else 0  # type: ignore[arg-type]

    def integrity_check(self) -> list[str]:
        """SQLite's integrity check plus the FTS index's own check; [] when all is well."""
        with self._errors("checking"):
            problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
            try:
                self._conn.execute("INSERT INTO memories_fts (memories_fts) VALUES ('integrity-check')")
            except apsw.Error as exc:
                problems.append(f"fts: {exc}")
        return problems

    def cleanup(self, retention: MemoryRetention, *, now: float | None = None, keep_ids: Collection[str] = ()) -> dict[str, int]:
        """Delete per type by age and count; never the ids in ``keep_ids``. Returns deletions per type."""
        now = time.time() if now is None else now
        deleted: dict[str, int] = {}
        rules = {
            MemoryType.COMMAND: retention.command,
            MemoryType.CHAT: retention.chat,
            MemoryType.SYSTEM: retention.system,
            MemoryType.SNAPSHOT: retention.snapshot,
        }
        with self._errors("cleaning up"), self._write() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep_ids (id TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM keep_ids")
            conn.executemany("INSERT OR IGNORE INTO keep_ids VALUES (?)", ((k,) for k in keep_ids))
            for type_, rule in rules.items():
                total = 0
                if rule.max_age is not None:
                    conn.execute(
                        "DELETE FROM memories WHERE memory_type = ? AND created_at < ? AND id NOT IN (SELECT id FROM keep_ids)",
                        (type_.value, now - float(rule.max_age)),
                    )
                    total += conn.changes()
                if rule.max_count is not None:
                    conn.execute(
                        "DELETE FROM memories WHERE rowid IN (SELECT rowid FROM memories WHERE memory_type = ?"
                        " AND id NOT IN (SELECT id FROM keep_ids) ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                        (type_.value, rule.max_count),
                    )
                    total += conn.changes()
                deleted[type_.value] = total
        return deleted

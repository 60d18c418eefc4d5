"""The audit trail: one append-only, hash-chained record per decision on an action.

Records live in the memory database (table ``audit``, schema version 5), not in the FTS
memories, so containers sharing a store share the trail. Each origin (host or container, see
:func:`default_origin`) has its own chain: record ``seq`` n of an origin stores the hash of
record n-1 (``prev_hash``) and ``hash = sha256(prev_hash + "\\n" + fields)``, where ``fields``
is the record's canonical JSON (sorted keys, no spaces) as stored. An edited field, a deleted
record or two records swapped break the chain, and :meth:`AuditLog.verify` names the first
broken record.

Two daemons appending to one store never fork a chain: the last hash of the origin is read
inside the ``BEGIN IMMEDIATE`` transaction that inserts the next record.

Retention never deletes silently: :meth:`AuditLog.prune` appends a ``prune`` record naming the
range it removed and the hash the chain continues from, so the trail still verifies.

What the chain does not do: anyone who can write the database file can rewrite a whole chain
(there is no secret key); the copy each record leaves in the system journal is the independent
witness (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import apsw

from ._model import default_origin, iso
from ._sqlite import connect, immediate, store_errors

GENESIS = "0" * 64
"""The ``prev_hash`` of an origin's first record."""

DECISIONS = ("block", "confirm", "allow")


def canonical(fields: dict[str, Any]) -> str:
    """The one text a record's hash covers: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def _record(row: Sequence[Any]) -> dict[str, Any]:
    """A stored row as the protocol shows it: its fields plus ``prev_hash`` and ``hash``."""
    out: dict[str, Any] = json.loads(str(row[0]))
    out["prev_hash"], out["hash"] = row[1], row[2]
    return out


class AuditLog:
    """One connection to the audit table. Not for concurrent use from several threads."""

    def __init__(self, conn: apsw.Connection, path: Path, origin: str) -> None:
        self._conn = conn
        self.path = path
        self.origin = origin

    @classmethod
    def open(cls, path: Path, *, origin: str | None = None, busy_timeout: float = 10.0, readonly: bool = False) -> AuditLog:
        """Open (creating and migrating when needed) the memory database at ``path``.

        Raises:
            MemoryStoreError: the file cannot be opened, is not a database, or is damaged.
        """
        path = Path(path)
        conn = connect(path, busy_timeout=busy_timeout, readonly=readonly)
        return cls(conn, path, origin if origin is not None else default_origin())

    def close(self) -> None:
        self._conn.close()

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return store_errors(self.path, what)

    def _write(self) -> AbstractContextManager[apsw.Connection]:
        """A write transaction opened with BEGIN IMMEDIATE (read-then-write safe across processes)."""
        return immediate(self._conn)

    def _append(self, conn: apsw.Connection, fields: dict[str, Any], at: float) -> dict[str, Any]:
        """Insert one record at the head of this origin's chain (inside a write transaction)."""
        head = conn.execute("SELECT seq, hash FROM audit WHERE origin = ? ORDER BY seq DESC LIMIT 1", (self.origin,)).fetchall()
        seq, prev = (int(head[0][0]) + 1, str(head[0][1])) if head else (1, GENESIS)  # type: ignore[arg-type]
        full = {**fields, "origin": self.origin, "seq": seq, "at": at, "time": iso(at)}
        text = canonical(full)
        digest = chain_hash(prev, text)
        conn.execute("INSERT INTO audit (origin, seq, at, fields, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                     (self.origin, seq, at, text, prev, digest))
        out: dict[str, Any] = json.loads(text)
        out["prev_hash"], out["hash"] = prev, digest
        return out

    def append(self, fields: dict[str, Any], *, at: float | None = None) -> dict[str, Any]:
        """Append one record to this origin's chain; return it as stored (with seq and hashes).

        ``fields`` must be JSON values; ``origin``, ``seq``, ``at`` and ``time`` are set here.
        """
        at = time.time() if at is None else at
        with self._errors("appending an audit record"), self._write() as conn:
            return self._append(conn, {**fields, "kind": fields.get("kind", "call")}, at)

    def list(
        self,
        *,
        since: float | None = None,
        decision: str | None = None,
        tool: str | None = None,
        session: str | None = None,
        uid: int | None = None,
        origin: str | None = None,
        after: int | None = None,
        limit: int = 50,
        oldest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Records of every origin, newest first (or oldest first), filtered.

        ``uid`` keeps the records of that requester only (with ``origin``: a uid number means
        that user only on its own host or container); ``after`` keeps records whose row
        number is above it (what :meth:`head` returned: for following the trail).
        """
        clauses, args = ["1"], []
        for sql, value in (("at >= ?", since), ("json_extract(fields, '$.decision') = ?", decision),
                           ("json_extract(fields, '$.tool') = ?", tool), ("json_extract(fields, '$.session') = ?", session),
                           ("json_extract(fields, '$.requester_uid') = ?", uid), ("origin = ?", origin),
                           ("rowid > ?", after)):
            if value is not None:
                clauses.append(sql)
                args.append(value)
        order = "ASC" if oldest_first else "DESC"
        with self._errors("listing audit records"):
            rows = self._conn.execute(
                f"SELECT fields, prev_hash, hash, rowid FROM audit WHERE {' AND '.join(clauses)} ORDER BY rowid {order} LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [{**_record(r), "row": int(r[3])} for r in rows]  # type: ignore[arg-type]

    def head(self) -> int:
        """The newest row number (0 when empty): :meth:`list` with ``after`` returns what follows."""
        with self._errors("reading the audit trail"):
            row = self._conn.execute("SELECT max(rowid) FROM audit").fetchone()
        return int(row[0]) if row and row[0] is not None else 0  # type: ignore[arg-type]

    def count(self) -> int:
        with self._errors("counting audit records"):
            row = self._conn.execute("SELECT count(*) FROM audit").fetchone()
        return int(row[0]) if row else 0  # type: ignore[arg-type]

    def verify(self, anchor: tuple[str, int, str] | None = None) -> dict[str, Any]:
        """Check every origin's chain.

        ``anchor`` is (origin, seq, hash) of the newest record the caller knows it appended: a
        chain cut after an intact prefix (its newest records deleted) is found only by such a
        record kept outside the table.

        Returns:
            ``{"ok": bool, "records": N, "origins": {origin: records}, "broken": None | {"origin",
            "seq", "row", "problem"}}``; ``broken`` is the first broken record of the first origin
            (in name order) whose chain is broken.
        """
        with self._errors("verifying the audit trail"):
            origins = [str(r[0]) for r in self._conn.execute("SELECT DISTINCT origin FROM audit ORDER BY origin")]
            counts: dict[str, int] = {}
            broken: dict[str, Any] | None = None
            for origin in origins:
                row = self._conn.execute("SELECT count(*) FROM audit WHERE origin = ?", (origin,)).fetchone()
                counts[origin] = int(row[0]) if row else 0  # type: ignore[arg-type]
                if broken is not None:
                    continue
                # Where the remaining chain may start: seq 1 at the genesis hash, or just after a
                # range a prune record (kept in this chain) says it removed.
                starts = {1: GENESIS}
                for (text,) in self._conn.execute(
                    "SELECT fields FROM audit WHERE origin = ? AND json_valid(fields) AND json_extract(fields, '$.kind') = 'prune'",
                    (origin,),
                ):
                    fields = json.loads(str(text))
                    if isinstance(fields.get("last_seq"), int):
                        starts[int(fields["last_seq"]) + 1] = str(fields.get("continues_from"))
                # Streamed in seq order: a trail of millions of records is never held in memory.
                rows = self._conn.execute(
                    "SELECT rowid, seq, at, fields, prev_hash, hash FROM audit WHERE origin = ? ORDER BY seq", (origin,)
                )
                broken = _check_chain(origin, rows, starts)
            if broken is None and anchor is not None:
                broken = self._check_anchor(*anchor)
        return {"ok": broken is None, "records": sum(counts.values()), "origins": counts, "broken": broken}

    def _check_anchor(self, origin: str, seq: int, digest: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT rowid, hash FROM audit WHERE origin = ? AND seq = ?", (origin, seq)).fetchone()
        if row is not None and str(row[1]) == digest:
            return None
        problem = (f"record {seq}, the newest this daemon appended, is missing: the end of the chain was cut"
                   if row is None else f"record {seq} is not the one this daemon appended (replaced)")
        return {"origin": origin, "seq": seq, "row": int(row[0]) if row is not None else None, "problem": problem}  # type: ignore[arg-type]

    def prune(self, older_than: float, *, now: float | None = None) -> dict[str, Any] | None:
        """Delete this origin's records older than ``older_than`` (unix time) and say so.

        Deletes the oldest run of records (by ``seq``) up to the newest one before the cut-off,
        and appends, in the same transaction, a ``prune`` record with the range and the hash
        the chain continues from. Returns that record, or None when nothing was old enough.
        Other origins' records are theirs to prune.
        """
        now = time.time() if now is None else now
        with self._errors("pruning the audit trail"), self._write() as conn:
            last = conn.execute("SELECT max(seq) FROM audit WHERE origin = ? AND at < ?", (self.origin, older_than)).fetchone()
            if last is None or last[0] is None:
                return None
            last_seq = int(last[0])  # type: ignore[arg-type]
            span = conn.execute(
                "SELECT count(*), min(seq), min(at), max(at) FROM audit WHERE origin = ? AND seq <= ?", (self.origin, last_seq)
            ).fetchone()
            assert span is not None
            count, first_seq, first_at, last_at = int(span[0]), int(span[1]), float(span[2]), float(span[3])  # type: ignore[arg-type]
            tail = conn.execute("SELECT hash FROM audit WHERE origin = ? AND seq = ?", (self.origin, last_seq)).fetchone()
            assert tail is not None
            conn.execute("DELETE FROM audit WHERE origin = ? AND seq <= ?", (self.origin, last_seq))
            fields = {
                "kind": "prune", "decision": None, "pruned": count, "first_seq": first_seq, "last_seq": last_seq,
                "from": iso(first_at), "to": iso(last_at), "continues_from": str(tail[0]),
                "reason": f"pruned {count} records from {iso(first_at)} to {iso(last_at)} (seq {first_seq}-{last_seq}); "
                          f"chain continues from hash {tail[0]}",
            }
            return self._append(conn, fields, now)


def _check_chain(origin: str, rows: Iterable[Sequence[Any]], starts: dict[int, str]) -> dict[str, Any] | None:
    """The first broken record of one origin's rows (in seq order), or None.

    ``starts``: the seq numbers a chain may start at, with the prev_hash it must carry there.
    """

    def broken(row: Sequence[Any], problem: str) -> dict[str, Any]:
        return {"origin": origin, "seq": int(row[1]), "row": int(row[0]), "problem": problem}

    prev_row: Sequence[Any] | None = None
    for row in rows:
        rowid, seq, at, text, prev_hash, digest = row
        try:
            fields = json.loads(str(text))
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            return broken(row, "its fields are not a JSON object (edited)")
        if chain_hash(str(prev_hash), str(text)) != digest:
            return broken(row, "its hash does not match its fields (edited)")
        if fields.get("origin") != origin or fields.get("seq") != seq or fields.get("at") != at:
            return broken(row, "its origin, seq or time columns differ from its hashed fields (edited)")
        if prev_row is None:
            if starts.get(int(seq)) != prev_hash:
                return broken(row, f"the chain starts at seq {seq} but no prune record says records 1-{int(seq) - 1} were removed"
                              " (deleted)" if int(seq) not in starts else "its prev_hash is not the hash the chain continues from")
        else:
            if int(seq) != int(prev_row[1]) + 1:
                return broken(row, f"records {int(prev_row[1]) + 1}-{int(seq) - 1} are missing (deleted)")
            if prev_hash != prev_row[5]:
                return broken(row, f"its prev_hash is not the hash of seq {prev_row[1]} (edited or replaced)")
            if int(rowid) < int(prev_row[0]):
                return broken(row, f"it was stored before seq {prev_row[1]} (reordered)")
        prev_row = row
    return None

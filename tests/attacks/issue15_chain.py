"""Tampering with the audit table in ``memory.db`` as someone holding the file would.

Nothing here knows the implementation: the table is found by name in sqlite_master, its columns
by PRAGMA table_info (see :mod:`issue15_assume`). Triggers that would stop an UPDATE or DELETE are
dropped first, as an attacker with write access to the file would.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from issue15_assume import audit_table, columns, hash_columns, id_columns

Row = dict[str, Any]


@contextmanager
def opened(db: Path) -> Iterator[tuple[sqlite3.Connection, str, list[str]]]:
    """The database (triggers on the audit table dropped), the table's name and its columns."""
    table = audit_table(db)
    c = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        c.execute("BEGIN IMMEDIATE")
        for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (table,)).fetchall():
            c.execute(f'DROP TRIGGER "{name}"')
        yield c, table, columns(c, table)
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    finally:
        c.close()


def rows(c: sqlite3.Connection, table: str) -> list[Row]:
    """Every record in chain order (insertion order: rowid), each with its ``_rowid``."""
    c.row_factory = sqlite3.Row
    try:
        return [{"_rowid": r[0], **{k: r[k] for k in r.keys()[1:]}} for r in c.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid')]
    finally:
        c.row_factory = None


def read_rows(db: Path) -> list[Row]:
    table = audit_table(db)
    with sqlite3.connect(db, timeout=30) as c:
        return rows(c, table)


def rowid_alias(c: sqlite3.Connection, table: str) -> str | None:
    """The INTEGER PRIMARY KEY column (an alias of rowid), if the table has one."""
    pks = [r for r in c.execute(f'PRAGMA table_info("{table}")') if r[5]]
    if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER":
        return str(pks[0][1])
    return None


def put(c: sqlite3.Connection, table: str, rowid: int, row: Row) -> None:
    """Write ``row``'s values as the record at ``rowid`` (replacing what is there)."""
    put_many(c, table, {rowid: row})


def put_many(c: sqlite3.Connection, table: str, new: dict[int, Row]) -> None:
    """Replace the records at these rowids all at once (removed first: UNIQUE columns may swap)."""
    alias = rowid_alias(c, table)
    for rowid in new:
        c.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
    for rowid, row in new.items():
        values = {k: v for k, v in row.items() if k != "_rowid"}
        if alias is not None:
            values[alias] = rowid
        cols = ", ".join(f'"{k}"' for k in values)
        marks = ", ".join("?" for _ in values)
        c.execute(f'INSERT INTO "{table}" (rowid, {cols}) VALUES (?, {marks})', (rowid, *values.values()))


def edit_decision(row: Row, new: str = "allow") -> Row:
    """The record with its decision changed: in a ``decision`` column, or inside a JSON column."""
    out = dict(row)
    if "decision" in out:
        out["decision"] = new
        return out
    for k, v in row.items():
        if isinstance(v, str) and '"decision"' in v:
            data = json.loads(v)
            data["decision"] = new
            out[k] = json.dumps(data)
            return out
    raise AssertionError(f"no decision found in the audit record's columns: {sorted(row)}")


def names(text: str, *recs: Row) -> bool:
    """Whether ``text`` names one of ``recs`` (by an id-like column, its rowid, or its hash)."""
    import re

    for rec in recs:
        cands = [rec.get(k) for k in id_columns(list(rec))] + [rec["_rowid"]]
        own, _ = hash_columns(list(rec))
        if own and isinstance(rec.get(own), str) and len(rec[own]) >= 12:
            cands.append(rec[own][:12])
        for cand in cands:
            if cand is None:
                continue
            if isinstance(cand, int):
                if re.search(rf"(?<![\w.]){cand}(?![\w.])", text):
                    return True
            elif str(cand) in text:
                return True
    return False


# --- recomputing a record's own hash (so only the link to the next record breaks) --------------


def _candidates(row: Row, own: str, prev: str | None) -> Iterator[tuple[str, bytes]]:
    body = {k: v for k, v in row.items() if k not in ("_rowid", own)}
    body_no_prev = {k: v for k, v in body.items() if k != prev}
    pv = _hex(row.get(prev) or "") if prev else ""
    for name, ser in (
        ("json-compact", lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), default=_hex)),
        ("json-default", lambda d: json.dumps(d, sort_keys=True, default=_hex)),
        ("json-compact-utf8", lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_hex)),
    ):
        yield f"{name}(all)", ser(body).encode()
        yield f"prev+{name}(rest)", (pv + ser(body_no_prev)).encode()
        yield f"{name}(rest)+prev", (ser(body_no_prev) + pv).encode()
        yield f"prev|{name}(rest)", (pv + "|" + ser(body_no_prev)).encode()
        yield f"prev\\n{name}(rest)", (pv + "\n" + ser(body_no_prev)).encode()
    for k, v in body_no_prev.items():  # a record stored as one JSON text column
        if isinstance(v, str) and v.startswith("{"):
            yield f"prev+{k}", (pv + v).encode()
            yield f"{k}+prev", (v + pv).encode()
            yield f"prev\\n{k}", (pv + "\n" + v).encode()
            yield f"prev|{k}", (pv + "|" + v).encode()


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value).lower()


HASHES: dict[str, Callable[[bytes], str]] = {
    "sha256": lambda b: hashlib.sha256(b).hexdigest(),
    "blake2b-32": lambda b: hashlib.blake2b(b, digest_size=32).hexdigest(),
    "sha512": lambda b: hashlib.sha512(b).hexdigest(),
}


def hash_function(sample: list[Row]) -> Callable[[Row], str]:
    """The record-hash function, found by trying likely ones against stored records.

    ASSUMPTION (adapt here): a hex digest over a canonical serialisation of the record and the
    previous hash. If none of the candidates reproduces the stored hashes this fails loudly, so
    the lead knows to adapt it rather than to trust a pass.
    """
    own, prev = hash_columns(list(sample[0]))
    assert own is not None, f"no hash column among {sorted(sample[0])}"
    for cname in {n for n, _ in _candidates(sample[0], own, prev)}:
        for h in HASHES.values():
            def f(row: Row, cname: str = cname, h: Callable[[bytes], str] = h) -> str:
                return h(dict(_candidates(row, own, prev))[cname])

            if all(_hex(r[own]) == f(r) for r in sample):
                return f
    raise AssertionError(
        f"ADAPT issue15_chain.hash_function: no candidate reproduces the stored {own!r} (columns {sorted(sample[0])})"
    )

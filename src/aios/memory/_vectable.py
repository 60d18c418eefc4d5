"""The ``memory_vectors`` table: one embedding per memory, stored with the model that made it.

Vectors are float16 little-endian BLOBs (half the disk of float32; ranking by float16 cosine
loses nothing measurable at top-10). The table is keyed by the memory's rowid, so re-ranking a
candidate is one B-tree lookup. ``vid`` only grows (each write takes the largest plus one, inside
its ``BEGIN IMMEDIATE`` transaction), so a daemon that has read up to ``vid`` N reads what any
other process wrote after it with ``vid > N``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import numpy as np

from ._sqlite import store_errors

if TYPE_CHECKING:
    import numpy.typing as npt

MODEL_KEY = "embedding_model"


def to_blob(vector: npt.NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float16]:
    """Stack BLOBs into a (n, dim) float16 matrix; a BLOB of another size is a zero row."""
    if all(len(b) == 2 * dim for b in blobs):
        return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float16)
    out = np.zeros((len(blobs), dim), dtype=np.float16)
    for i, b in enumerate(blobs):
        if len(b) == 2 * dim:
            out[i] = np.frombuffer(b, dtype="<f2")
    return out


class VectorTable:
    """Reads and writes of ``memory_vectors`` on one store's connection."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    def _errors(self, what: str) -> AbstractContextManager[None]:
        return store_errors(self.path, what)

    def setting(self, key: str) -> str | None:
        with self._errors("reading a setting"):
            row = self._conn.execute("SELECT value FROM memory_settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_setting(self, key: str, value: str, *, only_if_unset: bool = False) -> str:
        """Write a setting (or keep the one there with ``only_if_unset``); return what is stored."""
        verb = "INSERT OR IGNORE" if only_if_unset else "INSERT OR REPLACE"
        with self._errors("writing a setting"):
            self._conn.execute(f"{verb} INTO memory_settings (key, value) VALUES (?, ?)", (key, value))
        found = self.setting(key)
        assert found is not None
        return found

    def missing(self, model: str, below: int | None, limit: int, *, above: int = 0) -> list[tuple[int, str]]:
        """Memories without a ``model`` vector, newest first, with ``above < rowid < below``."""
        with self._errors("finding memories to embed"):
            rows = self._conn.execute(
                "SELECT m.rowid, m.content FROM memories m"
                " LEFT JOIN memory_vectors v ON v.memory_rowid = m.rowid AND v.model = ?"
                " WHERE v.vid IS NULL AND m.rowid < ? AND m.rowid > ? ORDER BY m.rowid DESC LIMIT ?",
                (model, below if below is not None else 2**62, above, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]  # type: ignore[arg-type]

    def put(self, model: str, rows: Sequence[tuple[int, npt.NDArray[np.float32]]]) -> int:
        """Store vectors (replacing any older ones) for memories that still exist; return how many."""
        with self._errors("storing vectors"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._conn.total_changes()
                self._conn.executemany(
                    "INSERT OR REPLACE INTO memory_vectors (memory_rowid, vid, model, vector)"
                    " SELECT rowid, (SELECT coalesce(max(vid), 0) + 1 FROM memory_vectors), ?, ? FROM memories WHERE rowid = ?",
                    ((model, to_blob(vec), rowid) for rowid, vec in rows),
                )
                written = self._conn.total_changes() - before
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(written)

    def since(self, model: str, after_vid: int, limit: int) -> list[tuple[int, int, bytes]]:
        """(vid, memory rowid, BLOB) of ``model`` vectors written after ``after_vid``, oldest first."""
        with self._errors("reading vectors"):
            rows = self._conn.execute(
                "SELECT vid, memory_rowid, vector FROM memory_vectors WHERE model = ? AND vid > ? ORDER BY vid LIMIT ?",
                (model, after_vid, limit),
            ).fetchall()
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]  # type: ignore[arg-type]

    def top_rowid(self) -> int:
        """The largest memory rowid (0 when empty)."""
        with self._errors("reading memories"):
            row = self._conn.execute("SELECT max(rowid) FROM memories").fetchone()
        return int(row[0]) if row and row[0] is not None else 0  # type: ignore[arg-type]

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's ``PRAGMA data_version``)."""
        with self._errors("reading the data version"):
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0  # type: ignore[arg-type]

    def counts(self, model: str) -> tuple[int, int]:
        """(memories with a ``model`` vector, all memories)."""
        with self._errors("counting vectors"):
            (done,) = self._conn.execute("SELECT count(*) FROM memory_vectors WHERE model = ?", (model,)).fetchone()  # type: ignore[misc]
            (total,) = self._conn.execute("SELECT count(*) FROM memories").fetchone()  # type: ignore[misc]
        return int(done), int(total)  # type: ignore[arg-type]

    def fetch(self, model: str, rowids: Sequence[int], where: str = "", args: Sequence[Any] = ()) -> tuple[list[int], list[bytes]]:
        """The ``model`` vectors of these memories that pass the filter ``where`` (on ``m``)."""
        if not rowids:
            return [], []
        with self._errors("reading vectors"):
            # The candidates drive the join (CROSS JOIN fixes the order; "+" keeps the planner off
            # the model index, which would scan every vector of the model: 250 ms at 100k). The
            # memories table is joined only to filter.
            join = " CROSS JOIN memories m" if where else ""
            rows = self._conn.execute(
                f"SELECT v.memory_rowid, v.vector FROM json_each(?) c CROSS JOIN memory_vectors v{join}"
                f" WHERE v.memory_rowid = c.value{' AND m.rowid = v.memory_rowid' if where else ''} AND +v.model = ?{where}",
                (json.dumps([int(r) for r in rowids]), model, *args),
            ).fetchall()
        return [int(r[0]) for r in rows], [bytes(r[1]) for r in rows]  # type: ignore[arg-type]

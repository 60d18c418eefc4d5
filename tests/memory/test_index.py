"""The in-RAM bit index and the vectors table: recall against exact search, refresh across
connections, vectors gone with their memories."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aios.memory import MemoryStore
from aios.memory._index import VectorIndex, rerank

DIM = 384
MODEL = "synthetic"


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    basis = np.random.default_rng(7).standard_normal((64, DIM)).astype(np.float32)
    v = rng.standard_normal((n, 64)).astype(np.float32) @ basis + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _store_with_vectors(path: Path, n: int, rng: np.random.Generator) -> tuple[MemoryStore, np.ndarray]:
    store = MemoryStore.open(path)
    store.add_many([("system", f"memory {i}", None) for i in range(n)])
    matrix = _vectors(rng, n)
    rowids = [int(r[0]) for r in store._conn.execute("SELECT rowid FROM memories ORDER BY rowid")]
    for start in range(0, n, 5000):
        store.vectors.put(MODEL, [(rowids[i], matrix[i]) for i in range(start, min(n, start + 5000))])
    return store, matrix


def test_recall_at_10_against_exact_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store, matrix = _store_with_vectors(tmp_path / "memory.db", 20_000, rng)
    try:
        index = VectorIndex(MODEL, DIM)
        assert index.refresh(store.vectors) == 20_000
        recall = 0.0
        for q in _vectors(rng, 40):
            exact = {int(i) + 1 for i in np.argsort(-(matrix @ q))[:10]}  # rowids are 1..n
            rowids, blobs = store.vectors.fetch(MODEL, index.candidates(q, 1000))
            found = {r for r, _cos in rerank(q, rowids, blobs, DIM, 10)}
            recall += len(exact & found) / 10
        assert recall / 40 >= 0.95, recall / 40
    finally:
        store.close()


def test_another_connections_vectors_arrive_and_deleted_ones_go(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    store, _matrix = _store_with_vectors(tmp_path / "memory.db", 100, rng)
    other = MemoryStore.open(tmp_path / "memory.db")
    try:
        index = VectorIndex(MODEL, DIM)
        index.refresh(store.vectors)
        new = other.add("system", "written by another process")
        vec = _vectors(rng, 1)[0]
        assert other.vectors.put(MODEL, [(store._conn.execute("SELECT max(rowid) FROM memories").fetchone()[0], vec)]) == 1
        assert index.refresh(store.vectors) == 1
        nearest = index.candidates(vec, 1)
        assert store.by_rowid(nearest)[nearest[0]].id == new.id
        # Cleanup (here: a delete in the other connection) takes the vector with the memory.
        other._conn.execute("DELETE FROM memories WHERE id = ?", (new.id,))
        assert store.vectors.counts(MODEL) == (100, 100)
        assert store.vectors.fetch(MODEL, nearest) == ([], [])
        # A vector for a memory that no longer exists is not stored.
        assert other.vectors.put(MODEL, [(nearest[0], vec)]) == 0
    finally:
        other.close()
        store.close()

"""The in-RAM bit index and the vectors table: recall against exact search, refresh across
connections, vectors gone with their memories."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aios.memory import MemoryStore
from aios.memory._index import VectorIndex, asymmetric, codes, rerank
from aios.memory._semantic import KEEP, SCAN

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
    """Both paths: every Hamming candidate re-ranked exactly, and the daemon's (scan ``SCAN``, cut
    to ``KEEP`` by the asymmetric score, re-rank those). Floors from measurement: 40 queries on
    this set gave 1.00 for both; on the synthetic 1M set of the benchmark, ~0.96."""
    rng = np.random.default_rng(1)
    store, matrix = _store_with_vectors(tmp_path / "memory.db", 20_000, rng)
    try:
        index = VectorIndex(MODEL, DIM)
        assert index.refresh(store.vectors) == 20_000
        recall = {"all": 0.0, "cut": 0.0}
        for q in _vectors(rng, 40):
            exact = {int(i) + 1 for i in np.argsort(-(matrix @ q))[:10]}  # rowids are 1..n
            for path, cands in (("all", index.candidates(q, 1000)), ("cut", index.candidates(q, SCAN, KEEP))):
                rowids, blobs = store.vectors.fetch(MODEL, cands)
                found = {r for r, _cos in rerank(q, rowids, blobs, DIM, 10)}
                recall[path] += len(exact & found) / 10
        assert recall["all"] / 40 >= 0.95, recall
        assert recall["cut"] / 40 >= 0.95, recall
    finally:
        store.close()


def test_asymmetric_score_ranks_like_the_query_dot_the_signs() -> None:
    """``2 * score - sum(q) == q · sign(x)``, also when the dimension is not a multiple of 8, and for
    a wide endpoint model (3,072 dimensions: the lookup offsets outgrow 16 bits)."""
    rng = np.random.default_rng(5)
    for dim in (DIM, 13, 3072):
        vectors = rng.standard_normal((300, dim)).astype(np.float32)
        q = rng.standard_normal(dim).astype(np.float32)
        want = np.where(vectors > 0, 1.0, -1.0) @ q
        got = 2 * asymmetric(q, codes(vectors)) - q.sum()
        assert np.allclose(got, want, atol=1e-4), (dim, np.abs(got - want).max())


def test_the_cut_keeps_the_best_of_the_scan_best_first(tmp_path: Path) -> None:
    """The cut returns ``keep`` of the scanned candidates, best asymmetric score first; a stored
    vector asked for finds itself first; asking to keep more than was scanned keeps them all."""
    rng = np.random.default_rng(6)
    store, matrix = _store_with_vectors(tmp_path / "memory.db", 3_000, rng)
    try:
        index = VectorIndex(MODEL, DIM)
        index.refresh(store.vectors)
        q = matrix[1234]
        scanned = index.candidates(q, 500)
        cut = index.candidates(q, 500, 50)
        assert len(cut) == 50 and set(cut) <= set(scanned)
        assert cut[0] == 1235  # rowids are 1..n
        scores = asymmetric(q, codes(matrix[[r - 1 for r in cut]]))
        assert np.all(np.diff(scores) <= 1e-6), "not best first"
        assert set(index.candidates(q, 40, 400)) == set(index.candidates(q, 40))
    finally:
        store.close()


def test_rows_added_after_a_search_are_found_by_the_cut(tmp_path: Path) -> None:
    """Vectors written after the index was built (here, by another connection) are scanned and
    survive the cut: the code view follows faiss's array when it grows."""
    rng = np.random.default_rng(8)
    store, _matrix = _store_with_vectors(tmp_path / "memory.db", 2_000, rng)
    other = MemoryStore.open(tmp_path / "memory.db")
    try:
        index = VectorIndex(MODEL, DIM)
        index.refresh(store.vectors)
        index.candidates(_vectors(rng, 1)[0], SCAN, KEEP)  # a search before the new rows
        other.add_many([("system", f"late memory {i}", None) for i in range(500)])
        late = _vectors(rng, 500)
        top = int(other._conn.execute("SELECT max(rowid) FROM memories").fetchone()[0])
        other.vectors.put(MODEL, [(top - 499 + i, late[i]) for i in range(500)])
        assert index.refresh(store.vectors) == 500
        for i in (0, 250, 499):
            assert index.candidates(late[i], SCAN, KEEP)[0] == top - 499 + i
    finally:
        other.close()
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


def test_faiss_runs_one_thread_in_every_calling_thread(tmp_path: Path) -> None:
    """OpenMP's thread count is per calling thread: the index built in one thread (the daemon's
    back-fill) and searched from others (its workers) must hold every one of them to one thread.
    Setting it once, at build, left the searching threads at one per core, which under load made
    a scan 5-10x slower (docs/memory.md)."""
    import threading

    import faiss

    rng = np.random.default_rng(9)
    store, matrix = _store_with_vectors(tmp_path / "memory.db", 500, rng)
    try:
        index = VectorIndex(MODEL, DIM)
        index.refresh(store.vectors)
        seen: list[int] = []

        def search() -> None:
            index.candidates(matrix[7], 50, 10)
            seen.append(faiss.omp_get_max_threads())

        worker = threading.Thread(target=search)
        worker.start()
        worker.join()
        assert seen == [1]
    finally:
        store.close()

"""The daemon's in-RAM vector index: one sign bit per dimension, searched with faiss.

Chosen by measurement (docs/memory.md, benchmarks/bench_semantic.py): exact float32 search over
1M x 384 needs a 1.5 GB matrix and 76-250 ms per query on these machines; faiss IVF with int8
lost recall on data without clusters; HNSW took 7 minutes to build. Binary codes are 48 bytes
per memory (48 MB at 1M), faiss's popcount scan takes a few ms, and re-ranking the best
``candidates`` by their float16 vectors read from SQLite brings recall@10 against exact search
to ~0.97. The matrix of full vectors never lives in the daemon.

Thread safety: every method takes the index's lock (faiss indexes are not safe to add to while
searching); callers run it from worker threads.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from ._vectable import VectorTable, from_blobs

if TYPE_CHECKING:
    import numpy.typing as npt

_BATCH = 50_000


def codes(vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """Sign bits of each row, packed (dimension padded to a multiple of 8)."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


class VectorIndex:
    """Binary codes and the rowids they belong to, for one model's vectors."""

    def __init__(self, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim
        self._bits = ((dim + 7) // 8) * 8
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        import faiss  # here, not at module level: a daemon with semantic memory off never loads it

        # One thread: OpenMP's spinning workers cost 100x under load on a shared 2-core machine.
        faiss.omp_set_num_threads(1)
        self._index = faiss.IndexBinaryFlat(self._bits)
        self._rowids = np.zeros(1024, dtype=np.int64)
        self._size = 0
        self.last_vid = 0

    def __len__(self) -> int:
        return self._size

    def add(self, rowids: npt.NDArray[np.int64], vectors: npt.NDArray[np.floating]) -> None:
        if not len(rowids):
            return
        packed = codes(vectors)
        with self._lock:
            need = self._size + len(rowids)
            if need > len(self._rowids):
                grown = np.zeros(max(need, 2 * len(self._rowids)), dtype=np.int64)
                grown[: self._size] = self._rowids[: self._size]
                self._rowids = grown
            self._rowids[self._size : need] = rowids
            self._index.add(packed)
            self._size = need

    def refresh(self, table: VectorTable) -> int:
        """Add what any process wrote to the table since the last refresh; return how many."""
        added = 0
        with self._refresh_lock:  # two threads must not both add the rows after last_vid
            while True:
                rows = table.since(self.model, self.last_vid, _BATCH)
                if not rows:
                    return added
                matrix = from_blobs([r[2] for r in rows], self.dim)
                self.add(np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)), matrix)
                self.last_vid = rows[-1][0]
                added += len(rows)

    def candidates(self, query: npt.NDArray[np.float32], n: int) -> list[int]:
        """Rowids of the ``n`` codes nearest to the query's code (Hamming distance), nearest first."""
        with self._lock:
            if self._size == 0 or n <= 0:
                return []
            _dist, labels = self._index.search(codes(query.reshape(1, -1)), min(n, self._size))
            found = labels[0][labels[0] >= 0]
            rowids = self._rowids[found]
        # A memory re-embedded with the same model appears twice; keep its first (nearest) place.
        return list(dict.fromkeys(int(r) for r in rowids))


def rerank(query: npt.NDArray[np.float32], rowids: list[int], blobs: list[bytes], dim: int, limit: int) -> list[tuple[int, float]]:
    """(rowid, cosine) of the ``limit`` vectors most similar to ``query``, best first."""
    if not rowids:
        return []
    matrix = from_blobs(blobs, dim).astype(np.float32)
    sims = matrix @ query.astype(np.float32)
    k = min(limit, len(rowids))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(rowids) else np.arange(len(rowids))
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(rowids[i], float(sims[i])) for i in top]

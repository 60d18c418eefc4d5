"""The daemon's in-RAM vector index: one sign bit per dimension, searched with faiss.

Chosen by measurement (docs/memory.md, benchmarks/bench_semantic.py): exact float32 search over
1M x 384 needs a 1.5 GB matrix and 76-250 ms per query on these machines; faiss IVF with int8
lost recall on data without clusters; HNSW took 7 minutes to build. Binary codes are 48 bytes
per memory (48 MB at 1M), faiss's popcount scan takes a few ms.

A search has three steps (:meth:`VectorIndex.candidates`, then :func:`rerank`):

1. the ``scan`` codes nearest to the query's code by Hamming distance (faiss, flat scan);
2. those re-scored *asymmetrically* -- the float query against each candidate's sign bits, a
   byte-wise lookup table over the codes already in RAM (no extra memory) -- and cut to ``keep``;
3. the ``keep`` left re-ranked exactly by their float16 vectors, read from SQLite by primary key.

Step 2 exists because step 3 costs ~10 us per row read from SQLite (a B-tree lookup and a page
copy each): at 1M, re-ranking 1,000 Hamming candidates straight from SQLite spent more time in the
reads than in the scan. Scanning 2,000 and keeping 200 by the asymmetric score reached recall@10
0.984 (the old path: 0.974; synthetic 1M) with a fifth of the reads. The matrix of full vectors
never lives in the daemon.

Not IVF: faiss ``IndexBinaryIVF`` trained on these codes (1,024 or 4,096 lists, 64 codes per
list sampled) scanned 3-12% of the codes in 0.5-3 ms but kept recall@10 at 0.18-0.76 (nprobe
16-128) on the synthetic 1M set, whose vectors have no clusters; reaching 0.95 would scan most
lists, which is the flat scan again plus a training step.

Threads: faiss runs one OpenMP thread. OpenMP's thread count is per calling thread (a thread
that did not set it gets the default, one per core), so every call into faiss sets it first:
measured with a Python thread busy beside it on the loaded 2-core machine, a scan from a thread
left at the default took 200-700 ms instead of 50-90 ms. Setting it once, in the thread that
built the index, left the daemon's search threads at the default.

Thread safety: every method takes the index's lock (faiss indexes are not safe to add to while
searching); callers run it from worker threads.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ._vectable import VectorTable, from_blobs

if TYPE_CHECKING:
    import numpy.typing as npt

_BATCH = 50_000


# Row b: the 8 bits of byte value b, most significant first (np.packbits's order).
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32)


def codes(vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """Sign bits of each row, packed (dimension padded to a multiple of 8)."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


def asymmetric(query: npt.NDArray[np.floating], packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Per code: the sum of the query's components where the code's bit is set.

    Ranks like ``query · sign(vector)`` (that is ``2 * this - sum(query)``), with the query kept in
    full precision: a finer order than the Hamming distance between two codes. One table of 256
    partial sums per code byte, so the cost is one lookup per byte of each code.
    """
    nbytes = packed.shape[1]
    q = np.zeros(nbytes * 8, dtype=np.float32)
    q[: query.shape[0]] = query
    # table[256 * j + b]: the partial sum of byte value b at byte j. One flat take() over offset
    # codes is twice as fast as a two-dimensional fancy index (0.3 ms for 2,000 codes).
    table = (q.reshape(nbytes, 8) @ _BYTE_BITS.T).ravel()
    wide = np.uint16 if nbytes <= 256 else np.int64  # 256 bytes of code: 2,048 dimensions
    offsets: npt.NDArray[np.integer[Any]] = packed.astype(wide) + (np.arange(nbytes) * 256).astype(wide)
    scores: npt.NDArray[np.float32] = table.take(offsets).sum(axis=1)
    return scores


class VectorIndex:
    """Binary codes and the rowids they belong to, for one model's vectors."""

    def __init__(self, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim
        self._bits = ((dim + 7) // 8) * 8
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        import faiss  # here, not at module level: a daemon with semantic memory off never loads it

        self._one_thread = faiss.omp_set_num_threads
        self._index = faiss.IndexBinaryFlat(self._bits)
        self._view = faiss.rev_swig_ptr
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
            self._one_thread(1)
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

    def candidates(self, query: npt.NDArray[np.float32], n: int, keep: int | None = None) -> list[int]:
        """Rowids of the ``n`` codes nearest to the query's code (Hamming distance), nearest first.

        With ``keep``, those ``n`` are re-scored by :func:`asymmetric` and only the best ``keep``
        are returned, best first.
        """
        with self._lock:
            if self._size == 0 or n <= 0:
                return []
            self._one_thread(1)
            _dist, labels = self._index.search(codes(query.reshape(1, -1)), min(n, self._size))
            found = labels[0][labels[0] >= 0]
            if keep is not None and keep < len(found):
                # A view of faiss's own code array (no copy; it may move on add, so under the lock).
                width = self._index.code_size
                stored = self._view(self._index.xb.data(), self._size * width).reshape(self._size, width)  # type: ignore[attr-defined]
                scores = asymmetric(query, stored[found])
                best = np.argpartition(-scores, keep - 1)[:keep]
                found = found[best[np.argsort(-scores[best], kind="stable")]]
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

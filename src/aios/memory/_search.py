"""One search in one of three modes, on one reader connection (blocking; a worker thread runs it).

``keyword``: bm25 over the stemmed FTS index. ``semantic``: the vectors alone. ``hybrid``:
reciprocal rank fusion of the keyword side (the query's meaningful words, all required) and the
vector side, each cut to ``max(limit, 20)``. Every hit says where it stood on each side.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ._fusion import meaningful, rrf
from ._model import Memory, MemoryType, SearchHit
from ._store import MemoryStore

if TYPE_CHECKING:
    from ._semantic import Semantic

DEPTH = 20  # places taken from each side before fusion (Garcia's sqlite-vec hybrid example: 10-20)
# Run a hybrid search's vector side on a worker during its keyword side (benchmarks/bench_semantic.py
# measures both ways: on a CPU-starved machine the overlap gains nothing and costs a thread handoff).
PARALLEL_SIDES = True


class Mode(enum.StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"

    @classmethod
    def parse(cls, text: str) -> Mode:
        """Raises: ValueError naming the three modes."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown search mode {text!r}; use keyword, semantic, hybrid or auto") from None


@attrs.frozen
class Query:
    """What to look for and where."""

    text: str
    types: Sequence[MemoryType] | None = None
    since: float | None = None
    until: float | None = None
    origin: str | None = None
    limit: int = 20
    window: int = 200
    any_word: bool = False
    fts_weight: float = 1.0
    vec_weight: float = 1.0
    min_cosine: float = 0.15


def run(store: MemoryStore, semantic: Semantic | None, mode: Mode, q: Query) -> list[SearchHit]:
    """The best ``q.limit`` hits in ``mode`` (the caller has checked that vectors are ready)."""
    if q.limit <= 0 or not q.text.strip():
        return []
    depth = max(q.limit, DEPTH)
    filters = {"types": q.types, "since": q.since, "until": q.until, "origin": q.origin}
    keyword: list[tuple[int, float, Memory, int]] = []
    where, args = store.filters(q.types, q.since, q.until, q.origin)
    # The whole vector side up to the SQLite reads (embedding, scan, asymmetric cut) runs on a
    # worker while this thread runs the keyword side; only the reads of its few hundred vectors
    # wait for the keyword side (both use this connection).
    job = None
    if mode is not Mode.KEYWORD and semantic is not None:
        job = semantic.begin(store, q.text, depth, filtered=bool(where), parallel=PARALLEL_SIDES and mode is Mode.HYBRID)
    if mode is not Mode.SEMANTIC:
        text = q.text if mode is Mode.KEYWORD else meaningful(q.text)
        keyword = store.keyword(text, limit=depth, window=q.window, any_word=q.any_word, **filters)  # type: ignore[arg-type]
    vector: list[tuple[int, float]] = []
    if job is not None and semantic is not None:
        vector = [v for v in semantic.finish(store, job, depth, where, args) if v[1] >= q.min_cosine]
    fused = rrf(
        [k[0] for k in keyword],
        [v[0] for v in vector],
        fts_weight=q.fts_weight,
        vec_weight=q.vec_weight,
        pinned={k[0] for k in keyword if k[3]},
    )[: q.limit]
    memories = {k[0]: k[2] for k in keyword}
    memories.update(store.by_rowid([f.rowid for f in fused if f.rowid not in memories]))
    bm25 = {k[0]: k[1] for k in keyword}
    cosine = dict(vector)
    return [
        store.hit(memories[f.rowid], q.text, f.score, fts_rank=f.fts_rank, vec_rank=f.vec_rank, bm25=bm25.get(f.rowid), cosine=cosine.get(f.rowid))
        for f in fused
        if f.rowid in memories  # deleted between the two sides
    ]

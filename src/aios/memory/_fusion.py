"""Hybrid search: the keyword side's query, and reciprocal rank fusion of the two lists.

Measured in ../shared/research/semantic-memory.md: an OR of every query word on the keyword side
dragged fusion below vector search alone (MRR .84 → .54), because every memory that shares one
common word gets a keyword rank. The keyword side of a hybrid query is therefore the query's
meaningful words (stopwords dropped), all required: it finds what shares the query's words, and
stays empty for a paraphrase, leaving that query to the vectors.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs

RRF_K = 60

STOPWORDS = frozenset(
    """a about after all am an and any are as at be been before being but by can could did do
    does doing done for from had has have having how i if in into is it its just me my no nor not
    of on or our out over please show so some tell than that the their them then there these they
    this those to too up us was we were what when where which while who why will with would you
    your yesterday today last ago find search""".split()
)


def meaningful(query: str) -> str:
    """The query without stopwords (the whole query when nothing else is left)."""
    kept = [w for w in query.split() if w.strip("?!.,;:'\"()").lower() not in STOPWORDS]
    return " ".join(kept) if kept else query


@attrs.frozen
class Fused:
    """One result of the fusion: the memory's rowid, its score and its place on each list."""

    rowid: int
    score: float
    fts_rank: int | None
    vec_rank: int | None


def rrf(
    fts: Sequence[int],
    vec: Sequence[int],
    *,
    k: int = RRF_K,
    fts_weight: float = 1.0,
    vec_weight: float = 1.0,
    pinned: Collection[int] = (),
) -> list[Fused]:
    """Reciprocal rank fusion: ``score = Σ weight / (k + rank)``, best first.

    ``pinned`` rowids (memories that contain an identifier of the query as typed) come before
    all others, in fused order, so ``SystemMaxUse`` finds its line first whatever the vectors say.
    """
    places: dict[int, list[int | None]] = {}
    for rank, rowid in enumerate(fts, 1):
        slot = places.setdefault(rowid, [None, None])
        slot[0] = slot[0] or rank
    for rank, rowid in enumerate(vec, 1):
        slot = places.setdefault(rowid, [None, None])
        slot[1] = slot[1] or rank
    out = []
    for rowid, (f, v) in places.items():
        score = (fts_weight / (k + f) if f else 0.0) + (vec_weight / (k + v) if v else 0.0)
        out.append(Fused(rowid, score, f, v))
    out.sort(key=lambda x: (x.rowid not in pinned, -x.score, x.fts_rank or 1 << 30, x.vec_rank or 1 << 30))
    return out

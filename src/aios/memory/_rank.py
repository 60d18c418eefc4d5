"""Ranking a bounded window of matches with BM25 in Python, and making snippets.

Why not SQLite's bm25(): its IDF pass reads every match of every query term before the first
row comes back (measured: 25-35 ms for one common word at 1M rows, whatever the LIMIT). We take
the newest ``window`` matches (cheap: FTS5 walks its index backwards and stops) and rank them
here with the same BM25 formula (k1=1.2, b=0.75), IDF taken over the window. When a query has
fewer matches than the window, that is the whole collection of matches, as bm25() would see it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

K1 = 1.2
B = 0.75
# FTS5's unicode61 tokenizer: letters and digits are token characters, everything else separates.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Case-fold and strip diacritics, like unicode61 with remove_diacritics 2."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


def query_terms(pieces: Sequence[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """(token, is_prefix) for every token of every query piece."""
    out: list[tuple[str, bool]] = []
    for text, prefix in pieces:
        toks = tokens(text)
        for i, tok in enumerate(toks):
            out.append((tok, prefix and i == len(toks) - 1))
    return out


def _matches(term: str, prefix: bool, token: str) -> bool:
    return token.startswith(term) if prefix else token == term


def bm25(docs: Sequence[str], terms: Sequence[tuple[str, bool]]) -> list[float]:
    """A score per document, lower is better (negative, FTS5's convention)."""
    toks = [tokens(d) for d in docs]
    n = len(toks)
    avg = (sum(len(t) for t in toks) / n) if n else 1.0
    tfs = []
    for doc in toks:
        counts = Counter(doc)
        tfs.append(
            [
                sum(c for tok, c in counts.items() if tok.startswith(term)) if prefix else counts[term]
                for term, prefix in terms
            ]
        )
    df = [sum(1 for row in tfs if row[j]) for j in range(len(terms))]
    idf = [math.log((n - d + 0.5) / (d + 0.5) + 1.0) for d in df]
    scores = []
    for doc, row in zip(toks, tfs, strict=True):
        norm = K1 * (1 - B + B * (len(doc) / (avg or 1.0)))
        score = sum(idf[j] * tf * (K1 + 1) / (tf + norm) for j, tf in enumerate(row) if tf)
        scores.append(-score)
    return scores


def snippet(text: str, terms: Sequence[tuple[str, bool]], start: str, end: str, width: int = 16) -> str:
    """Up to ``width`` tokens around the first match, matched tokens wrapped in start/end marks."""
    spans = [(m.start(), m.end(), fold(m.group())) for m in _TOKEN.finditer(text)]
    hit_idx = [i for i, (_s, _e, tok) in enumerate(spans) if any(_matches(t, p, tok) for t, p in terms)]
    if not spans:
        return text[:200]
    first = hit_idx[0] if hit_idx else 0
    lo = max(0, min(first - width // 4, len(spans) - width))
    hi = min(len(spans), lo + width)
    hits = set(hit_idx)
    out = ["…"] if lo > 0 else []
    pos = spans[lo][0]
    for i in range(lo, hi):
        s, e, _tok = spans[i]
        out.append(text[pos:s])
        out.append(start + text[s:e] + end if i in hits else text[s:e])
        pos = e
    tail_end = spans[hi][0] if hi < len(spans) else len(text)
    out.append(text[pos:tail_end].rstrip() if hi < len(spans) else text[pos:])
    if hi < len(spans):
        out.append("…")
    return "".join(out)

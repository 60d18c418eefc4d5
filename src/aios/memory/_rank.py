"""Ranking a bounded window of matches with BM25 in Python, and making snippets.

Why not SQLite's bm25(): its IDF pass reads every match of every query term before the first
row comes back (measured: 25-35 ms for one common word at 1M rows, whatever the LIMIT). We take
the newest ``window`` matches (cheap: FTS5 walks its index backwards and stops) and rank them
here with the same BM25 formula (k1=1.2, b=0.75), IDF taken over the window. When a query has
fewer matches than the window, that is the whole collection of matches, as bm25() would see it.

Tokens come from the index's own tokenizer (FTS5 ``porter`` over ``unicode61``, called through
apsw), so what is counted here is exactly what the index matched: "restore" and "restored" are
one term. Identifiers (``resolv.conf``, ``SystemMaxUse``, ``ENOSPC``, ``E_ACCES``) rank documents
that contain them as typed, unstemmed, ahead of the rest.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import apsw

K1 = 1.2
B = 0.75
# FTS5's unicode61 tokenizer: letters and digits are token characters, everything else separates.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# A piece that is more than a plain word: a separator inside, a digit, or capitals after the start.
_IDENTIFIER = re.compile(r"\w[._/:=\-]\w|\d|^.+[A-Z]|^[A-Z]{2,}$")

#: (byte start, byte end, stemmed token) for each token of a text.
Tokenizer = Callable[[str], list[tuple[int, int, str]]]


def tokenizer(conn: apsw.Connection, spec: str) -> Tokenizer:
    """The FTS5 tokenizer ``spec`` (such as ``porter unicode61 remove_diacritics 2``) as a function."""
    name, *args = spec.split()
    tok = conn.fts5_tokenizer(name, args)

    def run(text: str) -> list[tuple[int, int, str]]:
        found: Any = tok(text.encode("utf-8", "surrogatepass"), apsw.FTS5_TOKENIZE_DOCUMENT, None, include_offsets=True, include_colocated=False)
        return [(int(t[0]), int(t[1]), str(t[2])) for t in found]

    return run


def fold(text: str) -> str:
    """Case-fold and strip diacritics, like unicode61 with remove_diacritics 2."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def surface(text: str) -> list[str]:
    """Folded tokens as typed, without stemming."""
    return _TOKEN.findall(fold(text))


def query_terms(pieces: Sequence[tuple[str, bool]], tok: Tokenizer) -> list[tuple[str, bool]]:
    """(stemmed token, is_prefix) for every token of every query piece."""
    out: list[tuple[str, bool]] = []
    for text, prefix in pieces:
        toks = [t[2] for t in tok(text)]
        for i, t in enumerate(toks):
            out.append((t, prefix and i == len(toks) - 1))
    return out


def identifiers(pieces: Sequence[tuple[str, bool]]) -> list[list[str]]:
    """The folded surface tokens of each query piece that looks like an identifier."""
    return [surface(text) for text, _prefix in pieces if _IDENTIFIER.search(text) and surface(text)]


def exact_hits(doc: str, idents: Sequence[Sequence[str]]) -> int:
    """How many identifiers occur in ``doc`` as typed (their tokens in a row, unstemmed)."""
    if not idents:
        return 0
    toks = surface(doc)
    found = 0
    for ident in idents:
        n = len(ident)
        if any(toks[i : i + n] == list(ident) for i in range(len(toks) - n + 1)):
            found += 1
    return found


def bm25(docs: Sequence[str], terms: Sequence[tuple[str, bool]], tok: Tokenizer) -> list[float]:
    """A score per document, lower is better (negative, FTS5's convention)."""
    toks = [[t[2] for t in tok(d)] for d in docs]
    n = len(toks)
    avg = (sum(len(t) for t in toks) / n) if n else 1.0
    tfs = []
    for doc in toks:
        counts = Counter(doc)
        tfs.append(
            [
                sum(c for t, c in counts.items() if t.startswith(term)) if prefix else counts[term]
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


def snippet(text: str, terms: Sequence[tuple[str, bool]], tok: Tokenizer, start: str, end: str, width: int = 16) -> str:
    """Up to ``width`` tokens around the first match, matched tokens wrapped in start/end marks."""
    raw = text.encode("utf-8", "surrogatepass")
    spans = tok(text)
    if not spans:
        return text[:200]

    def cut(a: int, b: int) -> str:
        return raw[a:b].decode("utf-8", "replace")

    # One set lookup and one startswith over a tuple per token, not a generator per token and
    # term: the snippets of 20 hits were a third of a semantic search's time at 1M memories.
    exact = {term for term, p in terms if not p}
    prefixes = tuple(term for term, p in terms if p)
    hit_idx = [i for i, (_s, _e, t) in enumerate(spans) if t in exact or (prefixes and t.startswith(prefixes))]
    first = hit_idx[0] if hit_idx else 0
    lo = max(0, min(first - width // 4, len(spans) - width))
    hi = min(len(spans), lo + width)
    hits = set(hit_idx)
    out = ["…"] if lo > 0 else []
    pos = spans[lo][0]
    for i in range(lo, hi):
        s, e, _t = spans[i]
        out.append(cut(pos, s))
        out.append(start + cut(s, e) + end if i in hits else cut(s, e))
        pos = e
    if hi < len(spans):
        out.append(cut(pos, spans[hi][0]).rstrip())
        out.append("…")
    else:
        out.append(cut(pos, len(raw)))
    return "".join(out)

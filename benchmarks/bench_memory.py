"""Memory search p50/p99 at 100,000 and 1,000,000 memories, beside the naive query measured in
the same run (FTS5 MATCH ... ORDER BY rank LIMIT over every match). Goal: p50 under 5 ms at 1M.

Text is synthetic: ~200 characters from a 5,000-word vocabulary with a Zipf-like distribution,
so some words are very common and most are rare, as in real logs and chats.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from _common import p50, percentile, timed_ms

from aios.memory import MemoryStore, fts_query

VOCAB = 5000


def words(rng: random.Random) -> list[str]:
    syllables = ["ka", "to", "ri", "ne", "su", "mo", "la", "pe", "di", "xu", "ba", "go", "fi", "ze", "wa"]
    out: set[str] = set()
    while len(out) < VOCAB:
        out.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def build(path: Path, n: int, vocab: list[str], rng: random.Random) -> float:
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    store = MemoryStore.open(path)
    batch = 10_000
    elapsed = 0.0
    for offset in range(0, n, batch):
        items = []
        for _ in range(min(batch, n - offset)):
            text = " ".join(rng.choices(vocab, weights, k=32))[:200]
            items.append(("command" if rng.random() < 0.5 else "chat", text, None))
        start = time.perf_counter()
        store.add_many(items, origin="bench")
        elapsed += time.perf_counter() - start
    store.close()
    return n / elapsed


def naive(store: MemoryStore, query: str, limit: int = 20) -> int:
    match = fts_query(query)
    rows = store._conn.execute(
        "SELECT m.id, snippet(memories_fts, 0, '[', ']', '…', 16) FROM memories_fts f JOIN memories m ON m.rowid = f.rowid"
        " WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?",
        (match, limit),
    ).fetchall()
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [10_000] if args.quick else [100_000, 1_000_000]
    rng = random.Random(42)
    vocab = words(rng)
    classes = {
        "rare word": [vocab[-1 - i * 7] for i in range(10)],
        "2-3 words": [f"{vocab[i * 3 + 20]} {vocab[i * 5 + 200]}" for i in range(5)] + [f"{vocab[i + 50]} {vocab[i + 400]} {vocab[i + 900]}" for i in range(5)],
        "very common word": [vocab[i] for i in range(5)],
    }
    root = Path(tempfile.mkdtemp(prefix="aios-bm", dir="/tmp"))
    try:
        for n in sizes:
            path = root / f"m{n}.db"
            rate = build(path, n, vocab, rng)
            store = MemoryStore.open(path)
            print(f"\n{n:,} memories: inserted at {rate:,.0f} rows/s (10k-row transactions), {path.stat().st_size / 1e6:.0f} MB")
            all_ours: list[float] = []
            for name, queries in classes.items():
                ours = timed_ms(lambda q, s=store: s.search(q, limit=20), queries, 5)
                base = timed_ms(lambda q, s=store: naive(s, q), queries, 5 if name != "very common word" else 2)
                all_ours += ours
                print(
                    f"search {name:<17} p50 {p50(ours):7.2f} ms  p99 {percentile(ours, 99):7.2f} ms"
                    f"   baseline bm25 ORDER BY rank: p50 {p50(base):7.2f} ms  p99 {percentile(base, 99):7.2f} ms"
                )
            goal = "  (goal: p50 under 5 ms at 1,000,000)" if n == 1_000_000 else ""
            print(f"search all classes     p50 {p50(all_ours):7.2f} ms  p99 {percentile(all_ours, 99):7.2f} ms{goal}")
            store.close()
            path.unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

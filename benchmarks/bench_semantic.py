"""Semantic memory: embedding throughput, and search p50/p99 at 100,000 and 1,000,000 memories for
keyword, semantic and hybrid, each beside exact numpy search measured in the same run; recall@10
of the index against exact search; the daemon's resident memory with the index loaded.

Goals (issue 16): hybrid p50 under 20 ms and p99 under 60 ms at 1M; recall@10 ≥ 0.95; daemon
RSS under 600 MB at 1M.

The vectors of the 1M store are SYNTHETIC (low-rank Gaussian + noise, L2-normalised, stored as
the bundled model's vectors), because embedding 1M texts takes hours on 2 cores; index figures
and recall depend on that. Query latency of semantic and hybrid search includes embedding the
query text with the real model (it dominates at 100k); "index only" is the same search from a
query vector. Texts are the synthetic Zipf texts of bench_memory.py.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import p50, percentile, running_daemon, timed_ms
from bench_memory import build, words

from aios.memory import MINILM_ID, MemoryStore, MiniLM, Semantic
from aios.memory import _search as search
from aios.memory._fusion import meaningful, rrf
from aios.memory._index import VectorIndex, rerank
from aios.memory._search import DEPTH, Mode, Query, run
from aios.memory._semantic import KEEP, SCAN
from aios.memory._vectable import MODEL_KEY, to_blob

DIM = 384
RANK = 64


def synthetic(rng: np.random.Generator, basis: np.ndarray, n: int) -> np.ndarray:
    lat = rng.standard_normal((n, RANK)).astype(np.float32)
    v = lat @ basis + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def add_vectors(path: Path, n: int, rng: np.random.Generator, basis: np.ndarray) -> tuple[np.ndarray, float]:
    """Give every memory a synthetic vector of the bundled model; return the float32 matrix."""
    store = MemoryStore.open(path)
    matrix = np.empty((n, DIM), dtype=np.float32)
    start = time.perf_counter()
    conn = store._conn
    conn.execute("INSERT OR REPLACE INTO memory_settings VALUES (?, ?)", (MODEL_KEY, MINILM_ID))
    rowids = [int(r[0]) for r in conn.execute("SELECT rowid FROM memories ORDER BY rowid")]
    for offset in range(0, n, 50_000):
        chunk = synthetic(rng, basis, min(50_000, n - offset))
        matrix[offset : offset + len(chunk)] = chunk
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO memory_vectors (memory_rowid, vid, model, vector) VALUES (?, ?, ?, ?)",
            ((rowids[offset + i], offset + i + 1, MINILM_ID, to_blob(chunk[i])) for i in range(len(chunk))),
        )
        conn.execute("COMMIT")
    store.close()
    return matrix, time.perf_counter() - start


def stored_matrix(path: Path, n: int) -> np.ndarray:
    """The float32 matrix of a store built earlier (``--keep``): its vectors as stored (float16)."""
    from aios.memory._vectable import from_blobs

    store = MemoryStore.open(path)
    try:
        rows = store._conn.execute("SELECT vector FROM memory_vectors WHERE model = ? ORDER BY memory_rowid", (MINILM_ID,)).fetchall()
    finally:
        store.close()
    assert len(rows) == n, f"{path} holds {len(rows)} vectors, not {n}: remove it to rebuild"
    return from_blobs([bytes(r[0]) for r in rows], DIM).astype(np.float32)  # type: ignore[arg-type]


def exact(matrix: np.ndarray, q: np.ndarray, k: int = 10) -> np.ndarray:
    sims = matrix @ q
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def daemon_rss(state: Path) -> tuple[float, float]:
    """RSS (MB) of a real daemon on this store after one hybrid search, and its p50 over RPC."""
    import json
    import socket

    def rpc(sock: Path, method: str, params: dict[str, object]) -> object:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode() + b"\n")
            reader = s.makefile("rb")
            while True:  # skip notifications (memory.notice) to the response
                message = json.loads(reader.readline())
                if "id" in message:
                    return message["result"]

    # The daemon runs as installed: without the OMP_NUM_THREADS=1 this process sets for its own
    # numpy baseline (session 5's figures had it, which hid faiss's per-thread OpenMP default).
    omp = os.environ.pop("OMP_NUM_THREADS", None)
    try:
        with running_daemon({"AIOS_PATHS__STATE_DIR": str(state)}) as (sock, _env):
            return _daemon_figures(sock, rpc)
    finally:
        if omp is not None:
            os.environ["OMP_NUM_THREADS"] = omp


def _daemon_figures(sock: Path, rpc: Callable[[Path, str, dict[str, object]], object]) -> tuple[float, float]:
    pid = int(rpc(sock, "status", {})["pid"])  # type: ignore[index]
    deadline = time.monotonic() + 900
    while not rpc(sock, "memory.progress", {})["ready"]:  # type: ignore[index]
        assert time.monotonic() < deadline, "the daemon did not load its index"
        time.sleep(0.5)
    times = timed_ms(lambda q: rpc(sock, "memory.search", {"query": q, "mode": "hybrid"}), ["disk full on var", "restart the web server"], 10)
    return rss_mb(pid), p50(times)


OLD_CANDIDATES = 1000  # session 5's path: 1,000 Hamming candidates, all read from SQLite


def old_hybrid(store: MemoryStore, semantic: Semantic, index: VectorIndex, text: str) -> int:
    """Session 5's hybrid search, kept here only to compare in the same run: the query embedded on a
    new thread during the keyword side, then the flat scan of 1,000 codes, all read from SQLite."""
    import threading

    warm = threading.Thread(target=lambda: semantic._query_vector(index.model, text), daemon=True)
    warm.start()
    keyword = store.keyword(meaningful(text), limit=DEPTH, window=200)
    warm.join()
    vector = semantic._query_vector(index.model, text)
    index.refresh(store.vectors)
    rowids, blobs = store.vectors.fetch(index.model, index.candidates(vector, max(OLD_CANDIDATES, 40 * DEPTH)))
    vec = [v for v in rerank(vector, rowids, blobs, index.dim, DEPTH) if v[1] >= 0.15]
    fused = rrf([k[0] for k in keyword], [v[0] for v in vec], pinned={k[0] for k in keyword if k[3]})[:20]
    memories = {k[0]: k[2] for k in keyword}
    memories.update(store.by_rowid([f.rowid for f in fused if f.rowid not in memories]))
    return len([store.hit(memories[f.rowid], text, f.score) for f in fused if f.rowid in memories])


def paired(fns: dict[str, object], inputs: list[object], clear: object = None) -> dict[str, list[float]]:
    """Milliseconds of each function on each input, the functions interleaved (alternating which
    goes first) so that load from other work on the machine falls on all of them alike."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for i, x in enumerate(inputs):
        for name in names if i % 2 == 0 else names[::-1]:
            if clear is not None:
                clear()  # type: ignore[operator]
            t = time.perf_counter()
            fns[name](x)  # type: ignore[operator]
            out[name].append((time.perf_counter() - t) * 1000)
    return out


def figure(name: str, ms: list[float], base: list[float] | None = None, what: str = "") -> None:
    ratio = f"   {what} p50 {p50(base):6.2f} ms, ratio {p50(ms) / p50(base):.2f}" if base else ""
    print(f"{name:<34} p50 {p50(ms):6.2f} ms  p99 {percentile(ms, 99):6.2f} ms{ratio}")


def measure(path: Path, n: int, model: MiniLM, matrix: np.ndarray, queries: np.ndarray, texts: list[str]) -> None:
    """Recall@10 and latencies of one store, beside exact numpy search over ``matrix``."""
    semantic = Semantic(path, {MINILM_ID: lambda: model}, MINILM_ID)
    t0 = time.perf_counter()
    semantic.start()
    while semantic.ready() is None:
        time.sleep(0.05)
    print(f"index loaded from the table in {time.perf_counter() - t0:.1f} s")
    store = MemoryStore.open(path)
    index = semantic.ready()
    assert index is not None

    def index_only(i: int, s: MemoryStore = store) -> list[tuple[int, float]]:
        q = queries[i]
        rowids, blobs = s.vectors.fetch(MINILM_ID, sorted(index.candidates(q, SCAN, KEEP)))
        return rerank(q, rowids, blobs, DIM, 10)

    def old_index_only(i: int, s: MemoryStore = store) -> list[tuple[int, float]]:
        q = queries[i]
        rowids, blobs = s.vectors.fetch(MINILM_ID, index.candidates(q, OLD_CANDIDATES))
        return rerank(q, rowids, blobs, DIM, 10)

    recall, old_recall = 0.0, 0.0
    for i, q in enumerate(queries):
        truth = {int(r) + 1 for r in exact(matrix, q)}  # rowids are 1..n in insertion order
        recall += len(truth & {r for r, _c in index_only(i)}) / 10
        old_recall += len(truth & {r for r, _c in old_index_only(i)}) / 10
    base = timed_ms(lambda i: exact(matrix, queries[int(i)]), list(range(20)), 1)
    kept = {i: index.candidates(queries[i], SCAN, KEEP) for i in range(20)}
    stages = paired(
        {
            "new": index_only,
            "old": old_index_only,
            "scan": lambda i: index.candidates(queries[i], SCAN),
            "scan+cut": lambda i: index.candidates(queries[i], SCAN, KEEP),
            "read": lambda i: store.vectors.fetch(MINILM_ID, sorted(kept[i])),
            "read old": lambda i: store.vectors.fetch(MINILM_ID, index.candidates(queries[i], OLD_CANDIDATES)),
        },
        list(range(20)) * 2,
    )
    idx = stages["new"]
    base_txt = f"baseline exact numpy float32: p50 {p50(base):6.2f} ms  p99 {percentile(base, 99):6.2f} ms"
    print(f"recall@10 of the index against exact search: {recall / len(queries):.3f}  (goal: 0.95; synthetic vectors; old path {old_recall / len(queries):.3f})")
    print(f"semantic, index only   p50 {p50(idx):6.2f} ms  p99 {percentile(idx, 99):6.2f} ms   {base_txt}")
    print(f"  stages (scan {SCAN:,} codes, keep {KEEP} by the asymmetric score, read and re-rank them; old: read 1,000):")
    figure("  index only, new", idx, stages["old"], "old")
    figure("  Hamming scan", stages["scan"])
    figure("  scan + asymmetric cut", stages["scan+cut"])
    figure(f"  read {KEEP} vectors (SQLite)", stages["read"], stages["read old"], "old: scan + read 1,000")
    for mode in (Mode.KEYWORD, Mode.SEMANTIC, Mode.HYBRID):
        queries_of_mode = texts[int(mode is Mode.HYBRID) :: 2]  # semantic and hybrid never share a query
        ours = timed_ms(lambda t, m=mode: run(store, semantic, m, Query(t, limit=20)), queries_of_mode, 1)
        goal = "  (goal: p50 < 20 ms, p99 < 60 ms at 1M)" if mode is Mode.HYBRID and n == 1_000_000 else ""
        print(f"{mode.value + ', end to end':<22} p50 {p50(ours):6.2f} ms  p99 {percentile(ours, 99):6.2f} ms   {base_txt}{goal}")
    # Old against new hybrid on the same queries, interleaved; each embeds its query afresh.
    def serial(t: object) -> object:
        search.PARALLEL_SIDES = False
        try:
            return run(store, semantic, Mode.HYBRID, Query(str(t), limit=20))
        finally:
            search.PARALLEL_SIDES = True

    both = paired(
        {
            "new": lambda t: run(store, semantic, Mode.HYBRID, Query(str(t), limit=20)),
            "serial": serial,
            "old": lambda t: old_hybrid(store, semantic, index, str(t)),
            "embed": lambda t: model.embed([str(t)]),
            "keyword": lambda t: run(store, semantic, Mode.KEYWORD, Query(str(t), limit=20)),
        },
        list(texts),
        clear=semantic._queries.clear,
    )
    figure("hybrid, new vs old path", both["new"], both["old"], "old")
    figure("  hybrid, new, sides one after the other", both["serial"], both["new"], "sides in parallel")
    figure("  query embedding alone", both["embed"])
    figure("  keyword alone", both["keyword"])
    store.close()
    semantic.stop()


def rss_only(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="aios-bs", dir="/tmp"))
    try:
        path = root / "state" / "memory.db"
        path.parent.mkdir(parents=True)
        store = MemoryStore.open(path)
        for offset in range(0, n, 50_000):
            store.add_many([("system", f"event {i} on host {i % 97}", None) for i in range(offset, min(n, offset + 50_000))], origin="bench")
        store.close()
        nrng = np.random.default_rng(3)
        add_vectors(path, n, nrng, nrng.standard_normal((RANK, DIM)).astype(np.float32))
        rss, rpc_p50 = daemon_rss(path.parent)
        print(f"{n:,} memories: daemon RSS with the index loaded: {rss:.0f} MB (goal: under 600 MB at 1M); hybrid over RPC p50 {rpc_p50:.2f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")], help="comma-separated store sizes (default 100000,1000000)")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="build each store once into DIR/N and reuse it on later runs (a 1M build takes 15-25 min)")
    ap.add_argument("--rss-only", type=int, metavar="N", help="only the daemon's RSS on N memories with short texts (fast to build)")
    args = ap.parse_args()
    sizes = args.sizes or ([10_000] if args.quick else [100_000, 1_000_000])
    if args.rss_only:
        rss_only(args.rss_only)
        return

    model = MiniLM.load()
    sentences = [f"service number {i} failed to start after the upgrade of package {i * 7}" for i in range(64)]
    start = time.process_time()
    model.embed(sentences)
    cpu = time.process_time() - start
    one = timed_ms(lambda s: model.embed([s]), sentences[:16], 3)
    print(f"embedding: {len(sentences) / cpu:,.0f} sentences/s per core (batch 64, CPU time); query p50 {p50(one):.2f} ms p99 {percentile(one, 99):.2f} ms")

    rng = random.Random(42)
    nrng = np.random.default_rng(42)
    basis = nrng.standard_normal((RANK, DIM)).astype(np.float32)
    vocab = words(rng)
    # 90 different queries (rare word, two words, common word): each is embedded afresh (the
    # daemon caches the vectors of repeated queries; a benchmark of repeats would measure that).
    texts = [vocab[-1 - i * 7] for i in range(30)] + [f"{vocab[i * 3 + 20]} {vocab[i * 5 + 200]}" for i in range(30)] + [vocab[i] for i in range(30)]
    root = Path(tempfile.mkdtemp(prefix="aios-bs", dir="/tmp"))
    try:
        for n in sizes:
            state = (args.keep / str(n) / "state") if args.keep else root / "state"
            path = state / "memory.db"
            t0 = time.perf_counter()
            if args.keep and (state / "complete").exists():
                matrix = stored_matrix(path, n)
                print(f"\n{n:,} memories: reused {path} ({path.stat().st_size / 1e6:.0f} MB)")
            else:
                shutil.rmtree(state, ignore_errors=True)
                state.mkdir(parents=True)
                build(path, n, vocab, rng)
                matrix, vec_s = add_vectors(path, n, nrng, basis)
                (state / "complete").touch()
                print(f"\n{n:,} memories: built in {time.perf_counter() - t0:.0f} s ({vec_s:.0f} s for the synthetic vectors), {path.stat().st_size / 1e6:.0f} MB")
            measure(path, n, model, matrix, synthetic(nrng, basis, 50), texts)
            del matrix
            rss, rpc_p50 = daemon_rss(state)
            print(f"daemon RSS with the index loaded: {rss:.0f} MB (goal: under 600 MB at 1M); hybrid over RPC p50 {rpc_p50:.2f} ms")
            if not args.keep:
                shutil.rmtree(state)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

"""Audit append cost per record, beside a plain INSERT of the same JSON measured in the same run.

The append is what every decided tool call pays: BEGIN IMMEDIATE, read this origin's head,
sha256, INSERT, COMMIT (WAL, synchronous=NORMAL), on a store that already holds ``--rows``
records. The baseline is one autocommitted INSERT of the same text into a plain table of the
same database. Goal: under 0.5 ms per record. Also: the async append through the daemon's
:class:`AuditTrail` (worker thread included) and verify's speed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import trio
from _common import line, p50, percentile

from aios.memory import AuditLog, AuditTrail

FIELDS = {
    "requester_uid": 1000, "requester_pid": 4242, "client": "model", "session": "01JEXAMPLESESSION00000000", "agent": "main",
    "tool": "bash", "subject": "systemctl status nginx --no-pager", "decision": "allow", "rule": "read-only.systemctl",
    "reason": "reads service state", "mode": "normal", "approved": True, "approved_how": "never-asked", "exit_code": 0,
    "duration_ms": 12.5, "output_bytes": 1830, "memory_id": "01JEXAMPLEMEMORY000000000",
}


def bench_sync(path: Path, rows: int, n: int) -> None:
    log = AuditLog.open(path, origin="bench")
    for start in range(0, rows, 5000):  # prefill: the head lookup must not depend on the size
        log._conn.execute("BEGIN IMMEDIATE")
        for i in range(start, min(rows, start + 5000)):
            log._append(log._conn, {**FIELDS, "subject": f"prefill {i}"}, time.time())
        log._conn.execute("COMMIT")
    conn = log._conn
    conn.execute("CREATE TABLE IF NOT EXISTS plain (id INTEGER PRIMARY KEY, fields TEXT NOT NULL)")
    import json

    text = json.dumps(FIELDS)
    base, ours = [], []
    for _ in range(n):
        t = time.perf_counter()
        conn.execute("INSERT INTO plain (fields) VALUES (?)", (text,))
        base.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        log.append(FIELDS)
        ours.append((time.perf_counter() - t) * 1000)
    line(f"audit append p50 ({rows:,} records stored)", p50(ours), "ms", "plain INSERT", p50(base), goal="< 0.5 ms")
    line("audit append p99", percentile(ours, 99), "ms", "plain INSERT p99", percentile(base, 99))
    t = time.perf_counter()
    result = log.verify()
    took = time.perf_counter() - t
    assert result["ok"], result
    print(f"verify: {result['records']:,} records in {took * 1000:.0f} ms ({result['records'] / took:,.0f} records/s)")
    log.close()


async def bench_async(path: Path, n: int) -> None:
    trail = await AuditTrail.open(path, origin="bench-async")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await trail.append(FIELDS)
        times.append((time.perf_counter() - t) * 1000)
    await trail.aclose()
    line("audit append through the daemon's AuditTrail (worker thread) p50", p50(times), "ms", goal="< 0.5 ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows, n = (2_000, 300) if args.quick else (100_000, 3_000)
    root = Path(tempfile.mkdtemp(prefix="aios-bench-audit-"))
    try:
        bench_sync(root / "memory.db", rows, n)
        trio.run(bench_async, root / "memory.db", n)
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()

"""Two real daemons on one memory store append to the same audit chain without loss or fork."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from harness import Env, LineReader, connect

CALLS = 2000
BATCH = 50


def _calls(socket_path: str, path: str, errors: list[str]) -> None:
    """CALLS read calls on one connection, BATCH in flight at a time."""
    try:
        with connect(socket_path, timeout=120) as s:  # type: ignore[arg-type]
            reader = LineReader(s)
            for start in range(0, CALLS, BATCH):
                ids = range(start, start + BATCH)
                s.sendall(b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools.call",
                                               "params": {"tool": "read", "arguments": {"path": path}}}).encode() + b"\n" for i in ids))
                waiting = set(ids)
                while waiting:
                    msg = reader.read()
                    if msg.get("id") in waiting:
                        waiting.discard(msg["id"])
                        if not msg.get("result", {}).get("ok"):
                            errors.append(json.dumps(msg)[:300])
    except Exception as exc:  # reported by the test, with the daemon logs
        errors.append(repr(exc))


@pytest.mark.slow
def test_two_daemons_append_2x2000_records_to_one_chain(env: Env) -> None:
    (env.workspace / "note.txt").write_text("shared\n")
    second_run = env.root / "run2"
    second_run.mkdir()
    a = env.start_daemon()
    b = env.start_daemon(env={"AIOS_PATHS__RUNTIME_DIR": str(second_run)})
    try:
        errors: list[str] = []
        path = str(env.workspace / "note.txt")
        threads = [threading.Thread(target=_calls, args=(str(d.socket), path, errors)) for d in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert not errors, [*errors[:3], a.log()]
        verified = env.cli_json("audit", "verify")
        assert verified["ok"] is True, verified
        db = sqlite3.connect(env.state / "memory.db")
        rows = db.execute("SELECT origin, seq FROM audit ORDER BY origin, seq").fetchall()
        assert len(rows) == 2 * CALLS
        assert len({r[0] for r in rows}) == 1, "both daemons run on this host: one origin, one chain"
        assert [r[1] for r in rows] == list(range(1, 2 * CALLS + 1))
    finally:
        a.kill()
        b.kill()

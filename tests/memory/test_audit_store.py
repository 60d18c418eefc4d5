"""The audit trail's storage: hash chains per origin, verify, prune, two writers, the journal copy.

Tampering is done the way an attacker with the file would: with sqlite3 on the database file.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aios.memory import GENESIS, AuditLog
from aios.memory._journal import Journal
from journalreader import parse_native


def _log(path: Path, origin: str = "host-a") -> AuditLog:
    return AuditLog.open(path, origin=origin)


def _fill(log: AuditLog, n: int, *, at: float | None = None) -> list[dict[str, object]]:
    return [log.append({"decision": "allow", "tool": "bash", "subject": f"echo {i}", "requester_uid": 1000}, at=at) for i in range(n)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "memory.db"


def test_records_chain_per_origin_and_verify(db: Path) -> None:
    a, b = _log(db, "host-a"), _log(db, "container-b")
    first = _fill(a, 3)
    _fill(b, 2)
    _fill(a, 1)
    assert [r["seq"] for r in first] == [1, 2, 3] and first[0]["prev_hash"] == GENESIS
    assert first[1]["prev_hash"] == first[0]["hash"]
    result = a.verify()
    assert result == {"ok": True, "records": 6, "origins": {"container-b": 2, "host-a": 4}, "broken": None}
    listed = a.list(limit=10)
    assert [r["origin"] for r in listed[:3]] == ["host-a", "container-b", "container-b"]
    assert a.list(decision="block") == [] and len(a.list(tool="bash", uid=1000, limit=100)) == 6


def _sql(db: Path, statement: str, *args: object) -> None:
    conn = sqlite3.connect(db)
    conn.execute(statement, args)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("spelling", ["json-field", "hash-recomputed-for-that-row-only"])
def test_verify_names_an_edited_record(db: Path, spelling: str) -> None:
    log = _log(db)
    records = _fill(log, 5)
    target = records[2]
    fields = json.loads(sqlite3.connect(db).execute("SELECT fields FROM audit WHERE seq = 3").fetchone()[0])
    fields["decision"] = "block"
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    if spelling == "json-field":
        _sql(db, "UPDATE audit SET fields = ? WHERE seq = 3", text)
    else:  # an editor that also fixes the row's own hash: the next record's prev_hash no longer matches
        from aios.memory._audit import chain_hash

        _sql(db, "UPDATE audit SET fields = ?, hash = ? WHERE seq = 3", text, chain_hash(str(target["prev_hash"]), text))
    result = log.verify()
    assert result["ok"] is False
    broken = result["broken"]
    assert broken["origin"] == "host-a" and broken["seq"] == (3 if spelling == "json-field" else 4), broken
    assert "edited" in broken["problem"] or "replaced" in broken["problem"]


@pytest.mark.parametrize("which", ["middle", "first"])
def test_verify_names_a_deleted_record(db: Path, which: str) -> None:
    log = _log(db)
    _fill(log, 5)
    _sql(db, "DELETE FROM audit WHERE seq = ?", 3 if which == "middle" else 1)
    broken = log.verify()["broken"]
    assert broken is not None and "deleted" in broken["problem"], broken
    assert broken["seq"] == (4 if which == "middle" else 2)


@pytest.mark.parametrize("spelling", ["swap-seq", "swap-rows"])
def test_verify_detects_reordered_records(db: Path, spelling: str) -> None:
    log = _log(db)
    _fill(log, 5)
    conn = sqlite3.connect(db)
    if spelling == "swap-seq":  # renumber two records
        conn.execute("UPDATE audit SET seq = -1 WHERE seq = 2")
        conn.execute("UPDATE audit SET seq = 2 WHERE seq = 3")
        conn.execute("UPDATE audit SET seq = 3 WHERE seq = -1")
    else:  # move two whole records (every column) to each other's row
        rows = {r[1]: r for r in conn.execute("SELECT rowid, seq, at, fields, prev_hash, hash FROM audit")}
        conn.execute("DELETE FROM audit WHERE seq IN (2, 3)")
        for rowid, seq in ((rows[2][0], 3), (rows[3][0], 2)):
            r = rows[seq]
            conn.execute("INSERT INTO audit (rowid, origin, seq, at, fields, prev_hash, hash) VALUES (?, 'host-a', ?, ?, ?, ?, ?)",
                         (rowid, seq, r[2], r[3], r[4], r[5]))
    conn.commit()
    conn.close()
    broken = log.verify()["broken"]
    assert broken is not None and broken["seq"] in (2, 3), broken
    assert "reordered" in broken["problem"] or "edited" in broken["problem"] or "replaced" in broken["problem"]


def test_prune_leaves_a_record_and_a_verifiable_chain(db: Path) -> None:
    log = _log(db)
    old = time.time() - 400 * 86400
    _fill(log, 4, at=old)
    _fill(log, 2)
    record = log.prune(time.time() - 365 * 86400)
    assert record is not None and record["kind"] == "prune" and record["pruned"] == 4
    assert record["first_seq"] == 1 and record["last_seq"] == 4 and record["seq"] == 7
    assert "pruned 4 records" in str(record["reason"]) and str(record["continues_from"]) in str(record["reason"])
    assert log.verify()["ok"] is True and log.count() == 3
    assert log.prune(time.time() - 365 * 86400) is None  # nothing old: no record
    # everything old, including the first prune record: the second prune record continues the chain
    assert log.prune(time.time() + 60) is not None
    assert log.count() == 1 and log.verify()["ok"] is True
    _fill(log, 1)
    assert log.verify()["ok"] is True
    # deleting records after a prune is still caught
    _fill(log, 2)
    _sql(db, "DELETE FROM audit WHERE seq = (SELECT max(seq) - 1 FROM audit)")
    assert log.verify()["ok"] is False


def test_a_deletion_disguised_as_a_start_is_caught(db: Path) -> None:
    """Deleting the oldest records without a prune record is a deletion, not retention."""
    log = _log(db)
    _fill(log, 3, at=time.time() - 400 * 86400)
    _fill(log, 1)
    _sql(db, "DELETE FROM audit WHERE seq <= 3")
    broken = log.verify()["broken"]
    assert broken is not None and broken["seq"] == 4 and "deleted" in broken["problem"]


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from aios.memory import AuditLog
    log = AuditLog.open(Path(sys.argv[1]), origin="shared-host")
    for i in range(int(sys.argv[2])):
        log.append({"decision": "allow", "tool": "bash", "subject": f"{sys.argv[3]} {i}"})
""")


def test_two_processes_append_to_one_chain_without_loss(db: Path) -> None:
    AuditLog.open(db).close()  # created and migrated once, before the race
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), "2000", name]) for name in ("one", "two")]
    for p in procs:
        assert p.wait(timeout=300) == 0
    log = _log(db, "shared-host")
    result = log.verify()
    assert result["ok"] is True and result["origins"] == {"shared-host": 4000}, result
    seqs = [r[0] for r in sqlite3.connect(db).execute("SELECT seq FROM audit ORDER BY seq")]
    assert seqs == list(range(1, 4001))


def _listener(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "journal.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    return sock, path


def test_records_reach_a_journal_socket_with_priority_by_decision(tmp_path: Path, db: Path) -> None:
    sock, path = _listener(tmp_path)
    journal = Journal(path)
    log = _log(db)
    try:
        for decision, priority in (("block", "4"), ("confirm", "5"), ("allow", "6")):
            record = log.append({"decision": decision, "tool": "bash", "subject": "printf 'a\\nb'\nsecond line", "requester_uid": 7})
            assert journal.send(record) is True
            entry = parse_native(sock.recv(65536))
            assert entry["PRIORITY"] == priority and entry["SYSLOG_IDENTIFIER"] == "aios"
            assert entry["AIOS_DECISION"] == decision and entry["AIOS_SEQ"] == str(record["seq"])
            assert entry["AIOS_SUBJECT"] == "printf 'a\\nb'\nsecond line" and entry["AIOS_HASH"] == record["hash"]
            assert entry["MESSAGE"].startswith(f"audit: {decision} bash")
    finally:
        sock.close()
        journal.close()


def test_no_journal_breaks_nothing(tmp_path: Path, db: Path) -> None:
    log = _log(db)
    record = log.append({"decision": "allow", "tool": "bash", "subject": "true"})
    assert Journal(str(tmp_path / "absent.sock")).send(record) is False
    assert Journal("").send(record) is False


async def test_a_record_that_can_never_be_written_does_not_block_later_ones(tmp_path: Path) -> None:
    """A failed append waits in line only when the store could not take it (locked); a record
    that can never be written (a lone surrogate, which a model's JSON can carry and SQLite cannot
    store) is dropped with its error instead of blocking every later record."""
    from aios.memory import AuditTrail

    trail = await AuditTrail.open(tmp_path / "memory.db", origin="host")
    try:
        with pytest.raises(UnicodeEncodeError):
            await trail.append({"decision": "allow", "subject": "echo \ud800"})
        record = await trail.append({"decision": "allow", "subject": "echo fine"})
        assert record["seq"] == 1 and record["subject"] == "echo fine"
        assert (await trail.verify())["ok"]
    finally:
        await trail.aclose()

"""rt15: restoring the memory database from a snapshot silently cuts the audit trail.

The audit table lives in memory.db, and ``aios restore ID --path <memory.db>`` puts the whole
database back with SQLite's backup API: every audit record appended after the snapshot is gone,
the chain simply ends earlier (dropping the newest records is what ``verify`` cannot see), and the
restore itself leaves no audit record. The next record then reuses the lost ``seq`` numbers with a
different hash, so the journal copy and the database disagree; verify's in-memory anchor (the
newest record this daemon appended) sees the cut only until the next append, or a restart. Records are meant to be
append-only (issue 15); a routine memory restore should not be the way to erase them.
"""

from __future__ import annotations

from typing import Any

from harness import Env


def _subjects(env: Env) -> list[str]:
    out: list[dict[str, Any]] = env.cli_json("audit", "--limit", "1000")
    return [str(r.get("subject")) for r in out]


def test_a_memory_restore_erases_the_records_since_the_snapshot(env: Env) -> None:
    watched = env.outside() / "etc-like"
    watched.mkdir()
    env.write_config(f'[recovery]\npaths = ["{watched}"]\npackages = false\n')
    d = env.start_daemon()
    try:
        assert env.cli("run", "--", "echo before-the-snapshot").returncode == 0
        snap = env.cli_json("snapshot")
        assert env.cli("run", "--", "echo after-the-snapshot").returncode == 0
        assert env.cli("run", "--yes", "--", "rm -rf /").returncode == 126  # a blocked attempt
        assert {"echo after-the-snapshot", "rm -rf /"} <= set(_subjects(env))
        proc = env.cli("restore", snap["id"], "--yes", "--path", str(env.state / "memory.db"))
        assert proc.returncode == 0, proc.stderr
        # verify's in-memory anchor (the newest record this daemon appended) notices the cut end
        # until the daemon appends again: the next record reuses the lost seq numbers.
        assert env.cli("run", "--", "echo after-the-restore").returncode == 0
        assert env.cli("audit", "verify").returncode == 0  # the trail "verifies" again
        kept = _subjects(env)
        assert "rm -rf /" in kept and "echo after-the-snapshot" in kept, \
            f"restoring memory.db erased the audit records made since the snapshot: {kept}"
    finally:
        d.kill()

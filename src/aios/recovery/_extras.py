"""What a snapshot holds besides files: a consistent copy of the memory database and the
installed package list."""

from __future__ import annotations

import subprocess
from pathlib import Path


def installed_packages() -> str | None:
    """The installed package list (dpkg, else rpm), or None where neither exists."""
    for argv in (["dpkg-query", "-W", "-f", "${binary:Package}\t${Version}\n"], ["rpm", "-qa"]):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0:
            return out.stdout
    return None


def _copy_sqlite(src: Path, dest: Path) -> None:
    """Copy a live WAL database into ``dest`` (a file or another live database) with SQLite's
    backup API: consistent, never a raw file copy."""
    import apsw

    source = apsw.Connection(str(src), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        target = apsw.Connection(str(dest))
        target.set_busy_timeout(10_000)
        try:
            with target.backup("main", source, "main") as b:
                while not b.done:
                    b.step(4096)
        finally:
            target.close()
    finally:
        source.close()


def backup_sqlite(src: Path, dest: Path) -> int:
    """A consistent copy of a live database; returns its size."""
    _copy_sqlite(src, dest)
    return dest.stat().st_size


AUDIT_COLUMNS = "origin, seq, at, fields, prev_hash, hash"


def restore_sqlite(copy: Path, live: Path) -> None:
    """Put a snapshot's copy back into the live database, while other connections use it.

    The audit trail is append-only: its records written since the snapshot are put back after
    the copy (with their own hashes, so every chain goes on where it was), never rolled back.
    """
    import apsw

    newer = _audit_rows(live)
    _copy_sqlite(copy, live)
    if not newer:
        return
    conn = apsw.Connection(str(live))
    conn.set_busy_timeout(10_000)
    try:
        if not _has_audit(conn):
            return  # a copy from before the audit trail: the daemon's migration recreates it
        conn.execute("BEGIN IMMEDIATE")
        try:
            tops: dict[str, int] = {str(o): int(m) for o, m in conn.execute(  # type: ignore[arg-type]
                "SELECT origin, max(seq) FROM audit GROUP BY origin")}
            conn.executemany(
                f"INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [r for r in newer if int(r[1]) > tops.get(str(r[0]), 0)],  # type: ignore[call-overload]
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _has_audit(conn: object) -> bool:
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").fetchall())  # type: ignore[attr-defined]


def _audit_rows(live: Path) -> list[tuple[object, ...]]:
    """Every audit record of the live database, oldest first (none when it has no audit table)."""
    import apsw

    if not live.exists():
        return []
    conn = apsw.Connection(str(live), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        if not _has_audit(conn):
            return []
        return [tuple(r) for r in conn.execute(f"SELECT {AUDIT_COLUMNS} FROM audit ORDER BY rowid")]
    finally:
        conn.close()

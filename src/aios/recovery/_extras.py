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


def restore_sqlite(copy: Path, live: Path) -> None:
    """Put a snapshot's copy back into the live database, while other connections use it."""
    _copy_sqlite(copy, live)

"""Snapshots of a copy of /etc: first snapshot and restore beside ``cp -a``, and an unchanged
second snapshot beside the first (goal: under 10% of the time, under 1% extra disk).

The second snapshot is measured twice: by the same store, as the daemon's hourly snapshot runs
(its change watch saw nothing, so no file is stat-ed), and by a fresh store that has to stat
every file (a daemon that just started, or the periodic full scan)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import line

from aios.recovery import SnapshotStore


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*"))


def blocks(path: Path) -> int:
    """What ``du`` measures: allocated blocks, each inode once."""
    seen: dict[int, int] = {}
    for p in [path, *path.rglob("*")]:
        st = p.lstat()
        seen[st.st_ino] = st.st_blocks * 512
    return sum(seen.values())


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 1 if quick else 3
    root = Path(tempfile.mkdtemp(prefix="aios-bench-rec-", dir="/tmp"))
    try:
        tree = root / "etc"
        subprocess.run(["cp", "-a", "/etc", str(tree)], check=True, stderr=subprocess.DEVNULL)
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        print(f"tree: a copy of /etc, {files} files, {du(tree) / 1e6:.1f} MB", flush=True)
        first_t, second_t, full_t, cp_t, restore_t, extra = [], [], [], [], [], []
        sizes: tuple[int, int, int] = (0, 0, 0)
        for i in range(rounds):
            key = b"bench-key-" * 4  # one daemon's sealing key, kept across its restarts
            store = SnapshotStore(root / f"snaps{i}", origin="bench", key=key)
            t0 = time.perf_counter()
            subprocess.run(["cp", "-a", str(tree), str(root / f"cp{i}")], check=True)
            cp_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            first = store.create([tree], trigger="manual", packages=False)
            first_t.append(time.perf_counter() - t0)
            used = du(root / f"snaps{i}")
            sizes = (first.size_bytes, first.disk_bytes or 0, blocks(root / f"snaps{i}"))
            t0 = time.perf_counter()
            store.create([tree], trigger="hourly", packages=False)
            second_t.append(time.perf_counter() - t0)
            extra.append((du(root / f"snaps{i}") - used) / used)
            fresh = SnapshotStore(root / f"snaps{i}", origin="bench", key=key)
            t0 = time.perf_counter()
            fresh.create([tree], trigger="hourly", packages=False)
            full_t.append(time.perf_counter() - t0)
            shutil.rmtree(tree / "ssl", ignore_errors=True)  # damage something, then put it all back
            t0 = time.perf_counter()
            store.restore(first.id)
            restore_t.append(time.perf_counter() - t0)
            shutil.rmtree(root / f"cp{i}")
        cp = min(cp_t)
        line("first snapshot", min(first_t) * 1e3, "ms", "cp -a", cp * 1e3)
        line("unchanged second snapshot", min(second_t) * 1e3, "ms", "first snapshot", min(first_t) * 1e3, goal="< 0.10x")
        line("unchanged snapshot, full stat scan (fresh store)", min(full_t) * 1e3, "ms", "first snapshot", min(first_t) * 1e3)
        print(f"unchanged second snapshot extra disk: {min(extra) * 100:.3f}% of the first   (goal: < 1%)", flush=True)
        line("restore (whole tree, directories kept, entries swapped)", min(restore_t) * 1e3, "ms", "cp -a", cp * 1e3)
        print(
            f"first snapshot: size_bytes {sizes[0] / 1e6:.1f} MB, disk_bytes {sizes[1] / 1e6:.1f} MB; "
            f"du of the store {sizes[2] / 1e6:.1f} MB (disk_bytes + the store's own directories)",
            flush=True,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

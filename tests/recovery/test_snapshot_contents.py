"""What a snapshot holds and reports: a command's targets (absent ones too), every change of a
path in a diff, and the disk it really takes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aios.recovery import SnapshotStore, snapshot_roots


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aios-sc-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def du(root: Path) -> int:
    """What ``du`` counts: the blocks of every object once."""
    seen: set[int] = set()
    total = 0
    for p in [root, *root.rglob("*")]:
        st = p.lstat()
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total


# -- targets ------------------------------------------------------------------------------
def test_snapshot_roots_keep_the_top_of_what_a_command_creates(tmp: Path) -> None:
    (tmp / "etc").mkdir()
    (tmp / "etc" / "a.conf").write_text("a")
    (tmp / "lib").symlink_to(tmp / "usr-lib")
    (tmp / "usr-lib").mkdir()
    roots = snapshot_roots([
        str(tmp / "etc" / "a.conf"),
        str(tmp / "etc" / "a.conf"),
        str(tmp / "opt" / "new" / "deep" / "file"),  # mkdir -p: undo removes opt
        str(tmp / "etc"),  # holds a.conf: one root
        str(tmp / "lib" / "x.so"),  # its real place
        "/", "/proc/sys/kernel/hostname", "/dev/null", "relative/path", 42,
    ])
    assert roots == [tmp / "etc", tmp / "opt", tmp / "usr-lib" / "x.so"]
    assert snapshot_roots([]) == [] and snapshot_roots(["/"]) == []


def test_undo_of_a_pre_exec_snapshot_puts_back_its_targets_only(tmp: Path) -> None:
    conf = tmp / "etc" / "app.conf"
    conf.parent.mkdir()
    conf.write_text("original\n")
    (tmp / "etc" / "other.conf").write_text("other\n")
    created = tmp / "opt" / "tool" / "bin"
    store = SnapshotStore(tmp / "snaps", origin="test")
    roots = snapshot_roots([str(conf), str(created)])
    snap = store.create(roots, trigger="pre-exec", packages=False)
    assert snap.paths == [str(conf), str(tmp / "opt")] and snap.absent == [str(tmp / "opt")]
    # the command runs
    conf.write_text("changed\n")
    created.mkdir(parents=True)
    (created / "tool").write_text("#!/bin/sh\n")
    (tmp / "etc" / "other.conf").write_text("changed by someone else\n")
    report = store.restore(snap.id)
    assert conf.read_text() == "original\n"
    assert not (tmp / "opt").exists()
    assert {r["how"] for r in report.restored} == {"swapped", "removed"}
    assert (tmp / "etc" / "other.conf").read_text() == "changed by someone else\n"  # not a target


# -- diff -----------------------------------------------------------------------------------
def test_diff_reports_content_and_mode_of_one_path_together(tmp: Path) -> None:
    t = tmp / "tree"
    t.mkdir()
    (t / "a").write_text("one\n")
    (t / "b").write_text("two\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    (t / "a").write_text("ONE\n")
    os.chmod(t / "a", 0o600)
    (t / "b").write_text("TWO\n")  # a second spelling: content and an xattr
    os.setxattr(t / "b", "user.tag", b"x")
    changes = {c.path: c for c in store.diff(snap.id)}
    a, b = changes[str(t / "a")], changes[str(t / "b")]
    assert a.kind == "modified" and "content" in a.detail and "mode 644 -> 600" in a.detail
    assert b.kind == "modified" and "content" in b.detail and "xattrs" in b.detail
    os.chmod(t / "a", 0o644)
    (t / "a").write_text("one\n")
    only_mode = {c.path: c for c in store.diff(snap.id)}
    assert str(t / "a") not in only_mode


# -- sizes ----------------------------------------------------------------------------------
def test_disk_bytes_is_what_the_store_takes_on_disk(tmp: Path) -> None:
    t = tmp / "many"
    t.mkdir()
    for i in range(2000):
        (t / f"f{i}").write_text(f"small file {i}\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    first = store.create([t], trigger="manual", packages=False)
    # 2000 objects of ~16 bytes (plus the manifest): the logical size hides a block each on disk.
    assert first.disk_bytes is not None
    assert first.size_bytes < 300_000 < 2000 * 4096 <= first.disk_bytes
    # Everything du sees is in disk_bytes but the store's own directories (objects/xx, tmp).
    overhead = du(tmp / "snaps") - first.disk_bytes
    assert 0 <= overhead <= 258 * 4096 + (tmp / "snaps").lstat().st_blocks * 512 + 4096
    second = store.create([t], trigger="hourly", packages=False)
    assert second.disk_bytes is not None and second.disk_bytes <= 16 * 1024
    assert du(tmp / "snaps") - overhead == first.disk_bytes + second.disk_bytes
    assert store.get(second.id).to_json()["disk_bytes"] == second.disk_bytes


def test_a_target_holding_the_store_leaves_the_store_and_memory_alone(tmp: Path) -> None:
    from aios.memory._store import MemoryStore

    state = tmp / "var-lib" / "aios"  # a command's target is var-lib, which holds the state dir
    state.mkdir(parents=True)
    (tmp / "var-lib" / "pkg.conf").write_text("original\n")
    db = state / "memory.db"
    mem = MemoryStore.open(db)
    mem.add("System", "before")
    store = SnapshotStore(state / "snapshots", origin="test")
    snap = store.create([tmp / "var-lib"], trigger="pre-exec", memory_db=db, packages=False)
    assert snap.excluded == sorted([str(state / "snapshots"), str(db), f"{db}-shm", f"{db}-wal", f"{db}-journal"])
    assert all("snapshots" not in e["path"] and "memory.db" not in e["path"] for e in store._manifest(snap.id))
    (tmp / "var-lib" / "pkg.conf").write_text("changed\n")
    mem.add("System", "after")
    later = store.create([tmp / "var-lib"], trigger="manual", packages=False)
    store.restore(snap.id)  # as the rollback does: no memory_db given
    assert (tmp / "var-lib" / "pkg.conf").read_text() == "original\n"
    assert {s.id for s in store.list()} == {snap.id, later.id}
    assert mem.counts()["System"] == 2 and mem.integrity_check() == []

"""The snapshot store on real files: round trips, dedup, retention, diff, restore, crashes."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aios.errors import RecoveryError, SnapshotNotFound
from aios.memory._store import MemoryStore
from aios.recovery import SnapshotStore
from aios.recovery._journal import journal_path

KEY = b"test-key-" * 4
"""The sealing key of a daemon that restarts (the key file outlives the process)."""

ROOT = os.geteuid() == 0


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aios-rec-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_tree(base: Path) -> Path:
    t = base / "tree"
    (t / "sub" / "deep").mkdir(parents=True)
    (t / "a.txt").write_text("alpha\n")
    (t / "sub" / "b.conf").write_text("beta=1\n")
    (t / "sub" / "deep" / "c.bin").write_bytes(bytes(range(256)) * 50)
    (t / "secret").write_text("s3cret\n")
    os.chmod(t / "secret", 0o600)
    os.chmod(t / "sub" / "deep", 0o750)
    (t / "link").symlink_to("sub/b.conf")
    os.link(t / "a.txt", t / "hard-a")
    os.setxattr(t / "a.txt", "user.aios", b"tagged")
    if ROOT:
        os.chown(t / "sub" / "b.conf", 1234, 4321)
    return t


def state(t: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(t):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            content: object
            if p.is_symlink():
                content = os.readlink(p)
            elif p.is_file():
                content = p.read_bytes()
            else:
                content = None
            x = tuple(sorted(os.listxattr(p, follow_symlinks=False))) if not p.is_symlink() else ()
            out[str(p.relative_to(t))] = (st.st_mode, st.st_uid, st.st_gid, content, x, st.st_mtime_ns if p.is_file() else 0)
    return out


def test_round_trip_keeps_owners_modes_xattrs_links(tmp: Path) -> None:
    t = make_tree(tmp)
    before = state(t)
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t], trigger="manual", description="first", packages=False)
    # wreck the tree in every way
    (t / "a.txt").write_text("changed\n")
    os.chmod(t / "secret", 0o644)
    (t / "sub" / "b.conf").unlink()
    (t / "new-file").write_text("added later\n")
    shutil.rmtree(t / "sub" / "deep")
    (t / "link").unlink()
    changes = {c.path.removeprefix(str(t)): c.kind for c in store.diff(info.id)}
    assert changes["/a.txt"] == "modified"
    assert changes["/secret"] == "metadata"
    assert changes["/sub/b.conf"] == "removed"
    assert changes["/new-file"] == "added"
    report = store.restore(info.id)
    assert report.restored == [{"path": str(t), "how": "in-place"}]
    assert state(t) == before
    assert os.getxattr(t / "a.txt", "user.aios") == b"tagged"
    assert os.stat(t / "a.txt").st_ino == os.stat(t / "hard-a").st_ino
    assert not any(p.name.startswith(".aios-restore") for p in tmp.iterdir())


def test_unchanged_tree_costs_next_to_nothing(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    first = store.create([t], trigger="hourly", packages=False)
    objects_before = sorted((tmp / "snaps" / "objects").rglob("*"))
    second = store.create([t], trigger="hourly", packages=False)
    assert sorted((tmp / "snaps" / "objects").rglob("*")) == objects_before
    assert second.size_bytes < 4096 < first.logical_bytes
    assert second.files == first.files


def test_retention_never_deletes_manual(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    manual = store.create([t], trigger="manual", packages=False)
    hourly = [store.create([t], trigger="hourly", packages=False) for _ in range(4)]
    pre = [store.create([t], trigger="pre-exec", packages=False) for _ in range(3)]
    removed = store.apply_retention(2, 1)
    assert set(removed) == {h.id for h in hourly[:2]} | {p.id for p in pre[:2]}
    left = {s.id for s in store.list()}
    assert manual.id in left and hourly[3].id in left and pre[2].id in left
    assert store.apply_retention(0 + 1, 1) == [hourly[2].id]
    assert manual.id in {s.id for s in store.list()}


def test_deleted_contents_are_freed_but_shared_ones_kept(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    a = store.create([t], trigger="manual", packages=False)
    (t / "only-in-b").write_text("unique content for b\n")
    b = store.create([t], trigger="manual", packages=False)
    store.delete(b.id)
    store.restore(a.id)
    assert (t / "a.txt").read_text() == "alpha\n"
    assert not (t / "only-in-b").exists()


@pytest.mark.parametrize("bad", ["../../etc", "not-a-ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_unknown_or_invalid_ids_are_refused(tmp: Path, bad: str) -> None:
    store = SnapshotStore(tmp / "snaps", origin="test")
    for op in (store.get, store.delete, lambda i: store.restore(i)):
        with pytest.raises(SnapshotNotFound):
            op(bad)


def test_restore_of_a_path_outside_the_snapshot_is_refused(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t / "sub"], trigger="manual", packages=False)
    with pytest.raises(RecoveryError, match="not in snapshot"):
        store.restore(info.id, paths=[t / "a.txt"])


def test_restore_one_file_and_dry_run(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t], trigger="manual", packages=False)
    (t / "a.txt").write_text("edited\n")
    (t / "sub" / "b.conf").write_text("edited too\n")
    preview = store.restore(info.id, paths=[t / "a.txt"], dry_run=True)
    assert [c.kind for c in preview.changes] == ["modified"]
    assert (t / "a.txt").read_text() == "edited\n"
    store.restore(info.id, paths=[t / "a.txt"])
    assert (t / "a.txt").read_text() == "alpha\n"
    assert (t / "sub" / "b.conf").read_text() == "edited too\n"


def test_memory_copy_is_consistent_and_restorable(tmp: Path) -> None:
    db = tmp / "memory.db"
    mem = MemoryStore.open(db)
    for i in range(500):
        mem.add("System", f"event number {i}")
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([], trigger="manual", memory_db=db, packages=False)
    assert info.memory
    copy = MemoryStore.open(tmp / "snaps" / info.id / "memory.db")
    assert copy.counts()["System"] == 500 and copy.integrity_check() == []
    for i in range(10):
        mem.add("System", f"later {i}")
    store.restore(info.id, paths=[db], memory_db=db)
    assert mem.counts()["System"] == 500
    assert mem.integrity_check() == []


def test_interrupted_snapshot_is_cleaned_up(tmp: Path) -> None:
    store = SnapshotStore(tmp / "snaps", origin="test")
    (tmp / "snaps" / ".tmp-01ARZ3NDEKTSV4RRFFQ69G5FAV").mkdir(parents=True)
    assert store.cleanup_incomplete() == ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]
    assert store.list() == []
    # The journal of an interrupted restore: the snapshot and paths, then the directories that
    # hold staged entries (the last line cut short by the crash).
    (tmp / "d").mkdir()
    (tmp / "d" / "keep").write_text("mine")
    snap = store.create([tmp / "d"], trigger="manual", packages=False)
    staged = [tmp / "d" / ".aios-restore-7-1", tmp / "d" / ".aios-restore-7-2", tmp / ".aios-restore-7-3"]
    staged[0].write_text("half")
    staged[1].mkdir()
    staged[2].write_text("half")
    lines = [
        {"restore": snap.id, "origin": "test", "paths": [str(tmp / "d")], "pid": 7},
        {"dir": str(tmp / "d")},
        {"dir": str(tmp)},  # the parent of a restored path: a swapped top is staged there
    ]
    journal = journal_path(tmp / "snaps", "test")
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"dir": "/tm')
    store.cleanup_incomplete()
    assert sorted(os.listdir(tmp / "d")) == ["keep"] and not staged[2].exists()
    assert not journal.exists()


def _snap(root: str, tree: str, n: int) -> None:
    store = SnapshotStore(Path(root), origin=f"proc-{os.getpid()}")
    for _ in range(n):
        store.create([Path(tree)], trigger="hourly", packages=False)


def test_two_processes_snapshot_at_once(tmp: Path) -> None:
    t = make_tree(tmp)
    procs = [multiprocessing.get_context("spawn").Process(target=_snap, args=(str(tmp / "snaps"), str(t), 5)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    snaps = SnapshotStore(tmp / "snaps", origin="x").list()
    assert len(snaps) == 10
    assert len({s.origin for s in snaps}) == 2


def test_odd_names_empty_dirs_and_times_survive(tmp: Path) -> None:
    t = tmp / "odd"
    t.mkdir()
    names = ["with space", "new\nline", "tab\there", "ünïcode", "-dash", "*star?"]
    for n in names:
        (t / n).write_text(n)
    raw = os.fsencode(t) + b"/bad-\xff\xfe-bytes"
    with open(raw, "wb") as f:
        f.write(b"latin-1 name")
    (t / "empty-dir").mkdir()
    os.utime(t / "with space", ns=(1_000_000_000_123, 1_000_000_000_123))
    before = state(t)
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t], trigger="manual", packages=False)
    shutil.rmtree(t)
    store.restore(info.id)
    assert state(t) == before
    assert os.path.exists(raw)
    assert (t / "empty-dir").is_dir() and not any((t / "empty-dir").iterdir())
    assert os.stat(t / "with space").st_mtime_ns == 1_000_000_000_123


def test_thirty_hourly_and_three_manual_leave_twenty_four_and_three(tmp: Path) -> None:
    t = make_tree(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    manual = {store.create([t], trigger="manual", packages=False).id for _ in range(3)}
    hourly = []
    for _ in range(30):
        hourly.append(store.create([t], trigger="hourly", packages=False).id)
        store.apply_retention(24, 50)  # as the scheduler does after each hourly snapshot
    left = store.list()
    assert {s.id for s in left if s.trigger == "manual"} == manual
    assert [s.id for s in left if s.trigger == "hourly"] == list(reversed(hourly[-24:]))


def _restore_forever(root: str, ids: list[str], ready: str) -> None:
    store = SnapshotStore(Path(root), origin="test", key=KEY)  # the same daemon, before a kill
    Path(ready).touch()
    while True:
        for snap_id in ids:  # old, new, old ...: a kill lands in the middle of a change
            store.restore(snap_id)


def test_kill_9_during_restores_leaves_each_entry_whole_and_the_restart_finishes(tmp: Path) -> None:
    t = tmp / "big"
    t.mkdir()
    for i in range(300):
        (t / f"f{i:03}").write_text(f"old {i}\n" * 200)
    store = SnapshotStore(tmp / "snaps", origin="test", key=KEY)
    old = store.create([t], trigger="manual", packages=False)
    for i in range(300):
        (t / f"f{i:03}").write_text(f"new {i}\n" * 200)
    new = store.create([t], trigger="manual", packages=False)
    ready = tmp / "ready"
    proc = multiprocessing.get_context("spawn").Process(target=_restore_forever, args=(str(tmp / "snaps"), [old.id, new.id], str(ready)))
    proc.start()
    import time

    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.35)  # in the middle of some restore
    os.kill(proc.pid, 9)
    proc.join()
    assert proc.exitcode == -9  # killed mid-restore, not stopped by an error before it
    # Each file is whole (one version, never half written) and none is missing.
    for i in range(300):
        text = (t / f"f{i:03}").read_text()
        assert text in (f"old {i}\n" * 200, f"new {i}\n" * 200)
    assert sorted(p.name for p in t.iterdir() if not p.name.startswith(".aios-restore")) == [f"f{i:03}" for i in range(300)]
    # The next start removes what the crash left and finishes the interrupted restore: the
    # tree is then wholly one snapshot's.
    store.cleanup_incomplete()
    assert not [p for p in t.iterdir() if p.name.startswith(".aios-restore")]
    assert not journal_path(tmp / "snaps", "test").exists()
    contents = {(t / f"f{i:03}").read_text().split()[0] for i in range(300)}
    assert len(contents) == 1, contents
    assert store.restore(old.id).restored[0]["how"] == "in-place"


def _scan_kind(store_root: Path, sid: str) -> str:
    import json

    return str(json.loads((store_root / sid / "metadata.json").read_text())["scan"])


def _rewrite_keeping_size_and_mtime(t: Path) -> str:
    p = t / "sub" / "b.conf"
    st = p.stat()
    p.write_text("beta=2\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    return str(p)


def _through_outside_hard_link(t: Path) -> str:
    with open(t.parent / "outside-name", "a") as f:  # another name of the tree's "shared"
        f.write("more\n")
    return str(t / "shared")


def _replace_root(t: Path) -> str:
    copy = t.parent / "tree-copy"
    shutil.copytree(t, copy, symlinks=True)
    (copy / "a.txt").write_text("from the copy\n")
    shutil.rmtree(t)
    os.rename(copy, t)
    return str(t / "a.txt")


def _retarget(t: Path) -> str:
    (t / "link").unlink()
    (t / "link").symlink_to("a.txt")
    return str(t / "link")


CHANGES = {
    "content, same size and mtime": _rewrite_keeping_size_and_mtime,
    "chmod": lambda t: (os.chmod(t / "sub" / "deep" / "c.bin", 0o600), str(t / "sub" / "deep" / "c.bin"))[1],
    "xattr": lambda t: (os.setxattr(t / "sub" / "b.conf", "user.new", b"1"), str(t / "sub" / "b.conf"))[1],
    "new file deep": lambda t: ((t / "sub" / "deep" / "n").write_text("n"), str(t / "sub" / "deep" / "n"))[1],
    "new dir with a file": lambda t: (
        (t / "sub" / "deep" / "nd").mkdir(),
        (t / "sub" / "deep" / "nd" / "f").write_text("f"),
        str(t / "sub" / "deep" / "nd" / "f"),
    )[2],
    "delete": lambda t: ((t / "secret").unlink(), str(t / "secret"))[1],
    "rename": lambda t: (os.rename(t / "sub" / "b.conf", t / "sub" / "b2.conf"), str(t / "sub" / "b2.conf"))[1],
    "truncate": lambda t: (os.truncate(t / "sub" / "deep" / "c.bin", 10), str(t / "sub" / "deep" / "c.bin"))[1],
    "symlink retargeted": _retarget,
    "write through a hard link outside the tree": _through_outside_hard_link,
    "root replaced": _replace_root,
}
if ROOT:
    CHANGES["chown"] = lambda t: (os.chown(t / "a.txt", 4242, 4242), str(t / "a.txt"))[1]


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_the_change_watch_never_hides_a_change(tmp: Path, change: str) -> None:
    t = make_tree(tmp)
    (t / "shared").write_text("shared\n")
    os.link(t / "shared", tmp / "outside-name")  # its content can change without a path in the tree
    store = SnapshotStore(tmp / "snaps", origin="test")
    first = store.create([t], trigger="hourly", packages=False)
    second = store.create([t], trigger="hourly", packages=False)
    assert _scan_kind(tmp / "snaps", first.id) == "full"
    assert _scan_kind(tmp / "snaps", second.id) == "unchanged (change watch)"  # nothing happened
    changed = CHANGES[change](t)
    third = store.create([t], trigger="hourly", packages=False)
    assert _scan_kind(tmp / "snaps", third.id) == "full"
    assert changed in {c.path for c in store.diff(second.id, third.id)}
    assert store.diff(third.id) == []  # the snapshot is the live tree
    fourth = store.create([t], trigger="hourly", packages=False)
    assert _scan_kind(tmp / "snaps", fourth.id) == "unchanged (change watch)"


def test_a_missing_root_disarms_the_change_watch(tmp: Path) -> None:
    t = make_tree(tmp)
    later = tmp / "later"
    store = SnapshotStore(tmp / "snaps", origin="test")
    store.create([t, later], trigger="hourly", packages=False)
    later.mkdir()
    (later / "file").write_text("appeared\n")  # no watch could see this: the path did not exist
    second = store.create([t, later], trigger="hourly", packages=False)
    assert _scan_kind(tmp / "snaps", second.id) == "full"
    assert store.diff(second.id) == [] and str(later / "file") in {e.path for e in store.diff(store.list()[-1].id, second.id)}


def test_a_fresh_store_scans_in_full_and_finds_what_changed_meanwhile(tmp: Path) -> None:
    t = make_tree(tmp)
    first = SnapshotStore(tmp / "snaps", origin="test").create([t], trigger="hourly", packages=False)
    (t / "a.txt").write_text("changed while no daemon ran\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    second = store.create([t], trigger="hourly", packages=False)
    assert _scan_kind(tmp / "snaps", second.id) == "full"
    assert [c.path for c in store.diff(first.id, second.id)] == [str(t / "a.txt")]  # hard-a names a.txt


def test_sparse_files_fifos_and_device_nodes_round_trip(tmp: Path) -> None:
    import socket
    import stat

    t = tmp / "tree"
    t.mkdir()
    with open(t / "sparse", "wb") as f:  # 256 MiB apparent, one byte of data
        f.truncate(256 << 20)
        f.seek(100 << 20)
        f.write(b"x")
    os.mkfifo(t / "fifo", 0o640)
    if ROOT:
        os.mknod(t / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(t / "sock"))
    listener.close()
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t], trigger="manual", packages=False)
    stored = sum(p.stat().st_blocks * 512 for p in (tmp / "snaps" / "objects").rglob("*") if p.is_file())
    assert info.size_bytes < 1 << 20 and stored < 1 << 20  # the hole is not stored
    shutil.rmtree(t)
    report = store.restore(info.id)
    st = (t / "sparse").stat()
    assert st.st_size == 256 << 20 and st.st_blocks * 512 < 1 << 20  # nor written back
    with open(t / "sparse", "rb") as f:
        f.seek((100 << 20) - 1)
        assert f.read(3) == b"\0x\0"
    assert stat.S_ISFIFO((t / "fifo").lstat().st_mode) and stat.S_IMODE((t / "fifo").lstat().st_mode) == 0o640
    if ROOT:
        assert stat.S_ISCHR((t / "null").lstat().st_mode) and (t / "null").lstat().st_rdev == os.makedev(1, 3)
    assert not (t / "sock").exists() and str(t / "sock") in report.skipped

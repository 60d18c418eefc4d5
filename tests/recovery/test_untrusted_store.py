"""Second spellings of the red-team attacks (test_redteam.py) on a store others can write, on
a tree others can change during a snapshot, and on pre-exec roots: each guard is tested
against a form the first test did not use. Everything lives under temp dirs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from store_attacks import make
from store_attacks import rewrite_manifest as rewrite

from aios.errors import RecoveryError
from aios.recovery import SnapshotStore, snapshot_roots
from aios.recovery._journal import journal_path


@pytest.mark.parametrize("spelling", ["tree/./sub/../../neighbour", "tree//../neighbour", "relative"])
def test_a_manifest_entry_that_is_not_normalized_is_refused(tmp: Path, spelling: str) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="container-a")  # another container's snapshot
    mine = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    conf = next(e for e in entries if e["path"] == str(t / "a.conf"))
    path = "area/neighbour/planted" if spelling == "relative" else str(t.parent) + "/" + spelling + "/planted"
    entries.append({**conf, "path": path})
    rewrite(store, snap.id, entries)
    with pytest.raises(RecoveryError, match="refused"):
        mine.restore(snap.id, paths=[t])
    assert sorted(os.listdir(n)) == ["precious"]


@pytest.mark.parametrize("field", ["sha", "link"])
def test_a_manifest_naming_content_outside_the_store_is_refused(tmp: Path, field: str) -> None:
    t, _ = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="container-a")  # another container's snapshot
    mine = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    conf = next(e for e in entries if e["path"] == str(t / "a.conf"))
    if field == "sha":
        conf["sha"] = conf["sha"].upper()  # looks like a hash, is not an object name
    else:
        conf["link"] = str(t / "sub" / ".." / ".." / "neighbour" / "precious")
    rewrite(store, snap.id, entries)
    (t / "a.conf").write_text("changed\n")
    with pytest.raises(RecoveryError):
        mine.restore(snap.id, paths=[t])
    assert (t / "a.conf").read_text() == "changed\n"


def test_an_object_directory_swapped_for_a_symlink_is_not_followed(tmp: Path) -> None:
    t, _ = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="container-a")  # another container's snapshot
    mine = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    sha = next(e for e in store._manifest(snap.id) if e["path"] == str(t / "a.conf"))["sha"]
    evil = tmp / "evil"
    evil.mkdir()
    (evil / sha).write_text("TOPSECRET\n")  # the right name, other content, outside the store
    sub = store.objects.root / sha[:2]
    shutil.rmtree(sub)
    sub.symlink_to(evil)
    (t / "a.conf").write_text("changed\n")
    with pytest.raises(RecoveryError, match=sha):
        mine.restore(snap.id, paths=[t])
    assert (t / "a.conf").read_text() == "changed\n"


def test_a_truncated_object_is_refused_with_an_error_naming_it(tmp: Path) -> None:
    t, _ = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="container-a")  # another container's snapshot
    mine = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    sha = next(e for e in store._manifest(snap.id) if e["path"] == str(t / "sub" / "b.conf"))["sha"]
    obj = store.objects.path(sha)
    os.chmod(obj, 0o600)
    obj.write_text("sub")
    (t / "sub" / "b.conf").write_text("changed\n")
    with pytest.raises(RecoveryError, match=f"object {sha} was changed"):
        mine.restore(snap.id, paths=[t])
    assert (t / "sub" / "b.conf").read_text() == "changed\n"
    assert not any(p.name.startswith(".aios-restore") for p in (t / "sub").iterdir())


def test_metadata_with_its_seal_removed_restores_only_named_paths(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    mf = store.root / snap.id / "metadata.json"
    meta = json.loads(mf.read_text())
    meta["paths"] = [str(t), str(n)]
    del meta["seal"]
    mf.write_text(json.dumps(meta))
    (n / "precious").write_text("changed since\n")
    with pytest.raises(RecoveryError, match="not sealed"):
        store.restore(snap.id)
    assert (n / "precious").read_text() == "changed since\n"
    assert not store.trusted(snap.id)


def test_a_journal_in_this_origins_name_acts_only_within_its_snapshots_paths(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t / "sub"], trigger="manual", packages=False)
    (t / "a.conf").write_text("this host's own change\n")
    (t / ".aios-restore-1-1").write_text("not staged by any restore of sub\n")
    (t / ".aios-restore-cache").write_text("someone's\n")
    lines = [
        {"restore": snap.id, "origin": "test", "paths": [str(t)], "pid": 1},  # wider than the snapshot
        {"dir": str(t)},
    ]
    journal_path(store.root, "test").write_text("".join(json.dumps(x) + "\n" for x in lines))
    store.cleanup_incomplete()
    assert (t / "a.conf").read_text() == "this host's own change\n"
    assert (t / ".aios-restore-1-1").exists()
    # Within its paths (and their parents), only names a restore makes are removed.
    (t / ".aios-restore-2-1").write_text("another process's name\n")
    lines = [{"restore": snap.id, "origin": "test", "paths": [str(t / "sub")], "pid": 1}, {"dir": str(t)}]
    journal_path(store.root, "test").write_text("".join(json.dumps(x) + "\n" for x in lines))
    store.cleanup_incomplete()
    assert not (t / ".aios-restore-1-1").exists() and (t / ".aios-restore-2-1").exists()
    assert (t / ".aios-restore-cache").read_text() == "someone's\n"
    assert (n / "precious").read_text() == "not yours\n"


def test_a_file_swapped_for_a_symlink_during_a_snapshot_is_not_read_through(tmp: Path) -> None:
    t = tmp / "tree"
    (t / "zz").mkdir(parents=True)
    for i in range(450):
        (t / f"f{i:04}").write_text(f"{i}\n")
    (t / "zz" / "key").write_text("harmless\n")
    secret = tmp / "secret"
    secret.write_text("PRIVATE KEY 2\n")
    done: list[int] = []

    def progress(i: int, total: int, current: str) -> None:
        if i == 200 and not done:
            (t / "zz" / "key").unlink()
            (t / "zz" / "key").symlink_to(secret)
            (t / "zz" / "fifo-was-file").unlink(missing_ok=True)
            done.append(i)

    (t / "zz" / "fifo-was-file").write_text("x\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    info = store.create([t], trigger="manual", packages=False, progress=progress)
    assert done and not store.objects.has(hashlib.sha256(b"PRIVATE KEY 2\n").hexdigest())
    assert str(t / "zz" / "key") in info.skipped


def test_a_chain_of_symlinks_is_held_to_its_end(tmp: Path) -> None:
    real = tmp / "etc-like" / "shadow"
    real.parent.mkdir()
    real.write_text("original\n")
    (tmp / "link2").symlink_to(real)
    (tmp / "link1").symlink_to(tmp / "link2")
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create(snapshot_roots([str(tmp / "link1")]), trigger="pre-exec", packages=False)
    (tmp / "link1").write_text("written through two links\n")
    store.restore(snap.id)
    assert real.read_text() == "original\n"


@pytest.mark.parametrize("planted", ["tmp", "prefix"])
def test_a_symlink_planted_in_the_object_store_is_not_written_through(tmp: Path, planted: str) -> None:
    t, _ = make(tmp)
    (t / "new.conf").write_text("new content\n")
    outside = tmp / "cron-like"
    outside.mkdir()
    store = SnapshotStore(tmp / "snaps", origin="test")
    store.objects.root.mkdir(parents=True)
    name = "tmp" if planted == "tmp" else hashlib.sha256(b"new content\n").hexdigest()[:2]
    (store.objects.root / name).symlink_to(outside)  # by another container sharing the store
    with pytest.raises(RecoveryError, match="is not a directory"):
        store.create([t], trigger="manual", packages=False)
    assert os.listdir(outside) == []


def test_a_foreign_snapshots_paths_that_are_not_normalized_are_refused(tmp: Path) -> None:
    t, n = make(tmp)
    theirs = SnapshotStore(tmp / "snaps", origin="container-a")
    snap = theirs.create([t], trigger="manual", packages=False)
    mf = theirs.root / snap.id / "metadata.json"
    meta = json.loads(mf.read_text())
    meta["paths"] = [str(t) + "/../neighbour"]  # passes a check by prefix against tree/
    mf.write_text(json.dumps(meta))
    (n / "precious").write_text("changed since\n")
    mine = SnapshotStore(tmp / "snaps", origin="test")
    with pytest.raises(RecoveryError, match="not absolute and normalized"):
        mine.restore(snap.id, paths=[n / "precious"])
    assert (n / "precious").read_text() == "changed since\n"

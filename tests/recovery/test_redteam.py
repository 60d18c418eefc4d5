"""Red-team attacks on snapshot and restore: each test PASSES when the attack is stopped.

Everything happens under temp dirs: "outside" directories stand in for /etc or /root, and the
store stands in for one shared with other containers (untrusted, per the threat model).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest
from store_attacks import make, rewrite_manifest

from aios.errors import RecoveryError
from aios.recovery import SnapshotStore, snapshot_roots


def attempt(fn: object, *args: object, **kw: object) -> None:
    """Run a restore; a refusal is a fine outcome for an attack."""
    try:
        fn(*args, **kw)  # type: ignore[operator]
    except (RecoveryError, OSError):
        pass


# -- a manifest edited in the store ---------------------------------------------------------


def test_manifest_dotdot_dir_entry_does_not_empty_a_directory_outside(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    sub = next(e for e in entries if e["path"] == str(t / "sub"))
    # tree/sub/.. is tree, tree/sub/../.. is area: a directory merged in place loses every
    # entry the manifest does not list -- here, the neighbour.
    entries += [
        {**sub, "path": str(t / "sub" / "..")},
        {**sub, "path": str(t / "sub" / ".." / "..")},
    ]
    rewrite_manifest(store, snap.id, entries)
    attempt(store.restore, snap.id)
    assert (n / "precious").read_text() == "not yours\n"


def test_manifest_dotdot_file_entry_does_not_plant_a_file_outside(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    sub = next(e for e in entries if e["path"] == str(t / "sub"))
    conf = next(e for e in entries if e["path"] == str(t / "a.conf"))
    up = str(t / "sub" / ".." / "..")  # = area
    entries += [
        {**sub, "path": str(t / "sub" / "..")},
        {**sub, "path": up},
        {**sub, "path": up + "/tree"},
        {**sub, "path": up + "/neighbour"},
        {**conf, "path": up + "/neighbour/precious"},
        {**conf, "path": up + "/neighbour/planted", "mode": 0o4755},
    ]
    rewrite_manifest(store, snap.id, entries)
    attempt(store.restore, snap.id)
    assert not (n / "planted").exists()
    assert (n / "precious").read_text() == "not yours\n"


def test_manifest_sha_with_dotdot_does_not_copy_a_file_from_outside_the_store(tmp: Path) -> None:
    t, _ = make(tmp)
    secret = tmp / "root-only-secret"
    secret.write_text("TOPSECRET\n")
    os.chmod(secret, 0o600)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    conf = next(e for e in entries if e["path"] == str(t / "a.conf"))
    # objects.path(sha) is f"{root}/{sha[:2]}/{sha}": with sha[:2] == "..", the path climbs.
    conf["sha"] = "../root-only-secret"  # objects/.. is the store; its .. holds the secret
    conf["mode"] = 0o644
    rewrite_manifest(store, snap.id, entries)
    attempt(store.restore, snap.id)
    assert "TOPSECRET" not in (t / "a.conf").read_text()


def test_an_object_replaced_by_a_symlink_is_not_followed(tmp: Path) -> None:
    t, _ = make(tmp)
    secret = tmp / "root-only-secret"
    secret.write_text("TOPSECRET\n")
    os.chmod(secret, 0o600)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    conf = next(e for e in store._manifest(snap.id) if e["path"] == str(t / "a.conf"))
    obj = store.objects.path(conf["sha"])
    obj.unlink()
    obj.symlink_to(secret)
    (t / "a.conf").write_text("changed\n")
    attempt(store.restore, snap.id)
    assert "TOPSECRET" not in (t / "a.conf").read_text()


def test_an_object_whose_content_was_changed_is_not_restored(tmp: Path) -> None:
    t, _ = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    conf = next(e for e in store._manifest(snap.id) if e["path"] == str(t / "a.conf"))
    obj = store.objects.path(conf["sha"])
    os.chmod(obj, 0o600)
    obj.write_text("root::0:0::/root:/bin/sh\n")  # not the content its name hashes to
    (t / "a.conf").write_text("changed\n")
    attempt(store.restore, snap.id)
    assert "root::0:0" not in (t / "a.conf").read_text()


def test_metadata_edited_to_hold_more_paths_does_not_widen_a_restore(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    entries = store._manifest(snap.id)
    conf = next(e for e in entries if e["path"] == str(t / "a.conf"))
    entries.append({**conf, "path": str(n / "precious")})
    rewrite_manifest(store, snap.id, entries)
    mf = store.root / snap.id / "metadata.json"
    meta = json.loads(mf.read_text())
    meta["paths"] = [str(t), str(n / "precious")]  # the snapshot now "holds" a path outside
    mf.write_text(json.dumps(meta))
    attempt(store.restore, snap.id)
    assert (n / "precious").read_text() == "not yours\n"


# -- the restore journal in a shared store ---------------------------------------------------


def _plant_journal(store: SnapshotStore, record: dict[str, object]) -> None:
    (store.root / ".restore-journal").write_text(json.dumps(record) + "\n")


def test_a_journal_naming_another_origins_snapshot_is_not_finished_here(tmp: Path) -> None:
    t, _ = make(tmp)
    theirs = SnapshotStore(tmp / "snaps", origin="container-a")
    snap = theirs.create([t], trigger="manual", packages=False)
    (t / "a.conf").write_text("this host's own change\n")
    # container-a crashed mid-restore (or someone wrote the journal): container-b starts.
    _plant_journal(theirs, {"restore": snap.id, "paths": [str(t)]})
    mine = SnapshotStore(tmp / "snaps", origin="container-b")
    mine.cleanup_incomplete()
    assert (t / "a.conf").read_text() == "this host's own change\n"


def test_a_journal_with_no_paths_does_not_restore_another_origins_whole_snapshot(tmp: Path) -> None:
    t, _ = make(tmp)
    theirs = SnapshotStore(tmp / "snaps", origin="container-a")
    snap = theirs.create([t], trigger="manual", packages=False)
    (t / "sub" / "b.conf").write_text("this host's own change\n")
    _plant_journal(theirs, {"restore": snap.id})
    SnapshotStore(tmp / "snaps", origin="container-b").cleanup_incomplete()
    assert (t / "sub" / "b.conf").read_text() == "this host's own change\n"


def test_a_planted_journal_does_not_make_start_up_delete_in_a_directory_outside(tmp: Path) -> None:
    _, n = make(tmp)
    theirs = n / ".aios-restore-build-cache"  # a name that merely looks like a staged entry
    theirs.mkdir()
    (theirs / "work").write_text("hours of it\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    store.root.mkdir()
    _plant_journal(store, {"dir": str(n)})
    store.cleanup_incomplete()
    assert (theirs / "work").read_text() == "hours of it\n"


# -- a snapshot scanning a tree someone else can write ----------------------------------------


def _tree_with_many_files(base: Path) -> Path:
    t = base / "area" / "tree"
    (t / "zz" / "deep").mkdir(parents=True)
    for i in range(450):  # processed before zz/*: the scan reports progress every 200
        (t / f"f{i:04}").write_text(f"{i}\n")
    (t / "zz" / "key").write_text("harmless\n")
    (t / "zz" / "deep" / "key").write_text("harmless\n")
    return t


def _secret_dir(base: Path) -> tuple[Path, str]:
    o = base / "root-home"
    (o / "deep").mkdir(parents=True)
    for p in (o / "key", o / "deep" / "key"):
        p.write_text("PRIVATE KEY\n")
        os.chmod(p, 0o600)
    return o, hashlib.sha256(b"PRIVATE KEY\n").hexdigest()


@pytest.mark.parametrize("swapped", ["zz", "zz/deep"])
def test_a_directory_swapped_for_a_symlink_during_a_snapshot_is_not_read_through(
    tmp: Path, swapped: str
) -> None:
    t = _tree_with_many_files(tmp)
    outside, secret_sha = _secret_dir(tmp)
    target = outside if swapped == "zz" else outside / "deep"
    done: list[int] = []

    def progress(i: int, total: int, current: str) -> None:
        # After the tree was listed, before zz's files are read: the attacker's moment.
        if i == 200 and not done:
            os.rename(t / swapped, tmp / "moved")
            os.symlink(target, t / swapped)
            done.append(i)

    store = SnapshotStore(tmp / "snaps", origin="test")
    store.create([t], trigger="manual", packages=False, progress=progress)
    assert done
    assert not store.objects.has(secret_sha), (
        "the snapshot read a file through a symlink swapped in"
    )


# -- pre-exec snapshots and what a command really writes --------------------------------------


def test_a_pre_exec_snapshot_of_a_symlink_target_undoes_the_write_through_it(tmp: Path) -> None:
    real = tmp / "etc-like" / "passwd"
    real.parent.mkdir()
    real.write_text("original\n")
    link = tmp / "srv-link"
    link.symlink_to(real)
    store = SnapshotStore(tmp / "snaps", origin="test")
    roots = snapshot_roots([str(link)])  # `echo x > /srv-link`: the policy names the link
    snap = store.create(roots, trigger="pre-exec", packages=False)
    link.write_text("written through the link\n")  # what the command does
    store.restore(snap.id)
    assert real.read_text() == "original\n"


def test_a_pre_exec_snapshot_of_a_symlinked_directory_undoes_deletes_inside_it(tmp: Path) -> None:
    real = tmp / "var-like" / "data"
    real.mkdir(parents=True)
    (real / "db").write_text("rows\n")
    link = tmp / "data-link"
    link.symlink_to(real)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create(
        snapshot_roots([str(link) + "/"]), trigger="pre-exec", packages=False
    )  # rm -rf data-link/
    (real / "db").unlink()
    store.restore(snap.id)
    assert (real / "db").read_text() == "rows\n"


# -- live objects planted in the tree before a restore (these should all be stopped) ---------


def test_the_snapshot_root_replaced_by_a_symlink_is_replaced_not_entered(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    os.rename(t, tmp / "moved")
    t.symlink_to(n)
    (n / "a.conf").write_text("outside\n")
    store.restore(snap.id)
    assert not t.is_symlink() and (t / "a.conf").read_text() == "original\n"
    assert (
        sorted(os.listdir(n)) == ["a.conf", "precious"]
        and (n / "a.conf").read_text() == "outside\n"
    )


def test_a_nested_symlink_planted_in_the_tree_is_replaced_not_entered(tmp: Path) -> None:
    t, n = make(tmp)
    (t / "sub" / "inner").mkdir()
    (t / "sub" / "inner" / "c.conf").write_text("c\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    shutil.rmtree(t / "sub" / "inner")
    (t / "sub" / "inner").symlink_to(n)
    store.restore(snap.id)
    assert (t / "sub" / "inner" / "c.conf").read_text() == "c\n"
    assert sorted(os.listdir(n)) == ["precious"]


def test_a_hard_link_to_a_file_outside_is_not_written_through(tmp: Path) -> None:
    t, n = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    (t / "a.conf").unlink()
    os.link(n / "precious", t / "a.conf")
    store.restore(snap.id)
    assert (t / "a.conf").read_text() == "original\n"
    assert (n / "precious").read_text() == "not yours\n"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_where_a_file_was_is_replaced_without_being_opened(
    tmp: Path, kind: str
) -> None:
    t, _ = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    (t / "a.conf").unlink()
    if kind == "fifo":
        os.mkfifo(t / "a.conf")
    else:
        if os.geteuid() != 0:
            os.mkfifo(t / "a.conf")  # without CAP_MKNOD the FIFO stands in
        else:
            os.mknod(t / "a.conf", 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    assert store.diff(snap.id)  # reading the live state must not block or read the node
    store.restore(snap.id)
    assert (t / "a.conf").read_text() == "original\n"


def test_a_thread_swapping_directories_for_symlinks_never_leads_a_restore_outside(
    tmp: Path,
) -> None:
    t, n = make(tmp)
    for i in range(30):
        (t / "sub" / f"d{i}").mkdir()
        (t / "sub" / f"d{i}" / "x.conf").write_text("x\n")
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    decoy = tmp / "decoy"
    decoy.mkdir()
    before = sorted(os.listdir(n))
    stop = threading.Event()

    def swapper() -> None:
        k = 0
        while not stop.is_set():
            for name in ("sub", *(f"sub/d{i}" for i in range(0, 30, 3))):
                p = t / name
                try:
                    os.rename(p, decoy / f"m{k}")
                    os.symlink(n, p)
                    os.unlink(p)
                    os.rename(decoy / f"m{k}", p)
                except OSError:
                    pass
                k += 1

    th = threading.Thread(target=swapper)
    th.start()
    try:
        for _ in range(20):
            (t / "a.conf").write_text("changed\n")
            attempt(store.restore, snap.id)
    finally:
        stop.set()
        th.join()
    assert sorted(os.listdir(n)) == before and (n / "precious").read_text() == "not yours\n"
    assert not any(x.startswith(".aios-restore") for x in os.listdir(n))

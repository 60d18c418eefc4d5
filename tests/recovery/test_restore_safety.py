"""Restore never follows a symlink out of a snapshot's paths, and keeps directories in place.

The "outside" directories below stand in for /usr/local and the like: temp dirs only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aios.errors import RecoveryError
from aios.recovery import SnapshotStore
from aios.recovery._restore import Restorer


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aios-rs-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def tree_state(root: Path) -> dict[str, bytes | str | None]:
    """Every name under ``root`` with its content (symlinks: their target)."""
    out: dict[str, bytes | str | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
    return out


def make(base: Path) -> Path:
    t = base / "area" / "etc-like"
    (t / "sub").mkdir(parents=True)
    (t / "app.conf").write_text("setting = original\n")
    (t / "sub" / "leaf.conf").write_text("leaf = original\n")
    return t


def outside_dir(base: Path) -> Path:
    """A stand-in for /usr/local: files a restore must never touch."""
    o = base / "usr-local"
    (o / "sub").mkdir(parents=True)
    (o / "app.conf").write_text("not yours\n")
    (o / "leaf.conf").write_text("not yours either\n")
    (o / "sub" / "leaf.conf").write_text("nor this\n")
    return o


def test_a_parent_replaced_by_a_symlink_is_not_followed(tmp: Path) -> None:
    t = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    outside = outside_dir(tmp)
    before = tree_state(outside)
    (outside / "etc-like").mkdir()  # what the symlinked parent now leads to
    # The snapshot's parent directory swapped for a symlink to somewhere else.
    os.rename(tmp / "area", tmp / "area-moved")
    os.symlink(outside, tmp / "area")
    with pytest.raises(RecoveryError, match="is a symlink"):
        store.restore(snap.id)
    with pytest.raises(RecoveryError, match="not in snapshot"):  # its real place is outside
        store.restore(snap.id, paths=[t / "app.conf"])
    assert tree_state(outside) == {**before, "etc-like": None}
    assert not any(n.startswith(".aios-restore") for n in os.listdir(outside))


def test_a_symlink_at_the_leafs_parent_is_not_followed(tmp: Path) -> None:
    t = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    outside = outside_dir(tmp)
    before = tree_state(outside)
    shutil.rmtree(t / "sub")
    os.symlink(outside, t / "sub")  # etc-like/sub -> "/usr/local"
    with pytest.raises(RecoveryError):
        store.restore(snap.id, paths=[t / "sub" / "leaf.conf"])  # its real place is outside
    assert tree_state(outside) == before
    # The whole tree: the symlink is an entry of the restored tree, replaced, never entered.
    report = store.restore(snap.id)
    assert report.restored == [{"path": str(t), "how": "in-place"}]
    assert not (t / "sub").is_symlink() and (t / "sub" / "leaf.conf").read_text() == "leaf = original\n"
    assert tree_state(outside) == before


def test_a_directory_swapped_for_a_symlink_during_the_restore_is_not_followed(tmp: Path) -> None:
    t = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    (t / "sub" / "leaf.conf").write_text("changed\n")
    outside = outside_dir(tmp)
    before = tree_state(outside)
    swapped: list[str] = []

    def journal(d: str) -> None:
        # Called just before the first entry is staged in ``d``: the attacker's moment, after
        # every check of the path was made.
        if d == str(t / "sub") and not swapped:
            os.rename(t / "sub", tmp / "sub-moved")
            os.symlink(outside / "sub", t / "sub")
            swapped.append(d)

    entries = store._manifest(snap.id)
    r = Restorer(store.objects, entries, journal)
    try:
        r.put_back(entries, str(t))
    finally:
        r.close()
    assert swapped
    assert tree_state(outside) == before
    assert (tmp / "sub-moved" / "leaf.conf").read_text() == "leaf = original\n"  # written through the handle


@pytest.mark.parametrize("where", ["top", "sub"])
def test_a_shell_inside_the_tree_sees_the_restored_files_without_cd(tmp: Path, where: str) -> None:
    t = make(tmp)
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    (t / "app.conf").unlink()
    (t / "sub" / "leaf.conf").unlink()
    (t / "sub" / "junk").write_text("x")
    cwd = t if where == "top" else t / "sub"
    shell = subprocess.Popen(
        ["sh", "-c", "read go; ls -A; cat app.conf leaf.conf 2>/dev/null"],
        cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        store.restore(snap.id)
        out, _ = shell.communicate("go\n", timeout=30)
    finally:
        shell.kill()
        shell.wait()
    if where == "top":
        assert out.split() == ["app.conf", "sub", "setting", "=", "original"]
    else:
        assert out.split() == ["leaf.conf", "leaf", "=", "original"]


def test_a_restored_directory_keeps_its_inode_and_loses_what_was_added(tmp: Path) -> None:
    t = make(tmp)
    os.setxattr(t / "sub", "user.kept", b"1")
    store = SnapshotStore(tmp / "snaps", origin="test")
    snap = store.create([t], trigger="manual", packages=False)
    inode = os.stat(t / "sub").st_ino
    os.setxattr(t / "sub", "user.added", b"2")
    os.removexattr(t / "sub", "user.kept")
    os.chmod(t / "sub", 0o700)
    (t / "sub" / "deep").mkdir()
    (t / "sub" / "deep" / "new").write_text("new")
    store.restore(snap.id)
    assert os.stat(t / "sub").st_ino == inode
    assert sorted(os.listxattr(t / "sub")) == ["user.kept"]
    assert os.stat(t / "sub").st_mode & 0o777 == 0o755
    assert sorted(os.listdir(t / "sub")) == ["leaf.conf"]


def test_a_file_that_could_not_be_read_is_left_alone_by_a_restore(tmp: Path) -> None:
    t = make(tmp)
    # A snapshot that lists a path as skipped (as a user daemon meets a root-only file).
    import json

    from aios.recovery._seal import seal

    key = b"k" * 32
    store = SnapshotStore(tmp / "snaps", origin="test", key=key)
    snap = store.create([t], trigger="manual", packages=False)
    meta_file = tmp / "snaps" / snap.id / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["skipped"] = [str(t / "unreadable")]
    meta["seal"] = seal(key, meta)  # as the daemon that took it would have sealed it
    meta_file.write_text(json.dumps(meta))
    (t / "unreadable").write_text("precious\n")
    store.restore(snap.id)
    assert (t / "unreadable").read_text() == "precious\n"
    with pytest.raises(RecoveryError, match="could not be read"):
        store.restore(snap.id, paths=[t / "unreadable"])

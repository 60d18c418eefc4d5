"""Putting a path back as a snapshot holds it: stage the whole tree beside it, then swap.

The swap is one ``renameat2(RENAME_EXCHANGE)`` (atomic: a reader sees the old tree or the new
one, never a mix), falling back to two renames where the kernel or file system lacks it. When
the path is a mount point (renaming it is impossible), each file is replaced atomically in
place instead, and the report says so.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import os
import re
import shutil
import stat
from typing import Any

from ._manifest import Entry
from ._objects import Objects, copy_sparse

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a: str, b: str) -> bool:
    """Atomically swap two paths; False when the kernel or file system cannot."""
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, a.encode(), _AT_FDCWD, b.encode(), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


_NODES = {"fifo": stat.S_IFIFO, "char": stat.S_IFCHR, "block": stat.S_IFBLK}


def _copy_object(objects: Objects, sha: str, dest: str) -> None:
    copy_sparse(objects.path(sha), dest)


def _apply_meta(path: str, e: Entry, *, is_link: bool) -> None:
    for name, value in (e.get("xattrs") or {}).items():
        try:
            os.setxattr(path, name, base64.b64decode(value), follow_symlinks=False)
        except OSError:
            pass  # e.g. security.* without the capability: content and owner still come back
    try:
        os.chown(path, e["uid"], e["gid"], follow_symlinks=False)
    except PermissionError:
        pass  # a user daemon restores its own files; ownership is already its own
    if not is_link:
        os.chmod(path, e["mode"])
    os.utime(path, ns=(e["mtime_ns"], e["mtime_ns"]), follow_symlinks=False)


def materialize(entries: list[Entry], top: str, dest: str, objects: Objects) -> list[str]:
    """Build the tree of ``entries`` (rooted at ``top``) at ``dest``; returns skipped paths."""
    skipped: list[str] = []
    mapped: dict[str, str] = {}

    def target(path: str) -> str:
        return dest + path[len(top):]

    dirs: list[tuple[str, Entry]] = []
    for e in entries:
        t = target(e["path"])
        mapped[e["path"]] = t
        kind = e["type"]
        if kind == "dir":
            os.makedirs(t, mode=0o700, exist_ok=True)
            dirs.append((t, e))
        elif kind == "symlink":
            os.symlink(e["target"], t)
            _apply_meta(t, e, is_link=True)
        elif kind == "file":
            if e.get("link") and e["link"] in mapped:
                os.link(mapped[e["link"]], t)
                continue
            _copy_object(objects, e["sha"], t)
            _apply_meta(t, e, is_link=False)
        elif e.get("node") in _NODES:
            try:
                os.mknod(t, e["mode"] | _NODES[e["node"]], e.get("rdev", 0))
            except PermissionError:  # device nodes need CAP_MKNOD (a root daemon has it)
                skipped.append(e["path"])
                continue
            _apply_meta(t, e, is_link=False)
        else:
            skipped.append(e["path"])  # sockets (and entries of older manifests): recorded, not recreated
    for t, e in reversed(dirs):  # children first, so their writes do not touch a parent's mtime afterwards
        _apply_meta(t, e, is_link=False)
    return skipped


def remove(path: str) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path)


def is_mount_point(path: str) -> bool:
    """True for a mount point, bind mounts of the same file system included (which
    ``os.path.ismount`` misses, since they share the parent's device)."""
    if os.path.ismount(path):
        return True
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and _unescape(fields[4]) == real:
                    return True
    except OSError:
        pass
    return False


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _in_place(entries: list[Entry], top: str, objects: Objects, journal: Any) -> tuple[str, list[str]]:
    # A mount point (a volume in a container) cannot be renamed, and a tree staged on the
    # parent's file system cannot be moved into it: stage inside it, then swap entry by entry.
    stage = os.path.join(top, f".aios-restore-{os.getpid()}")
    if os.path.lexists(stage):
        remove(stage)
    journal(stage)
    skipped = materialize(entries, top, stage, objects)
    sync_into(stage, top)
    remove(stage)
    return "in-place", skipped


def put_back(entries: list[Entry], top: str, objects: Objects, journal: Any) -> tuple[str, list[str]]:
    """Restore ``top`` from ``entries``; returns (how, skipped). ``journal`` records stage paths
    so that a crash mid-way leaves nothing a restart cannot clean up."""
    is_dir = entries[0]["type"] == "dir" if entries else False
    if is_dir and os.path.isdir(top) and not os.path.islink(top) and is_mount_point(top):
        return _in_place(entries, top, objects, journal)
    parent, name = os.path.split(top.rstrip("/") or "/")
    stage = os.path.join(parent, f".aios-restore-{os.getpid()}-{name}")
    if os.path.lexists(stage):
        remove(stage)
    journal(stage)
    skipped = materialize(entries, top, stage, objects)
    if not os.path.lexists(top):
        os.rename(stage, top)
        return "created", skipped
    try:
        if exchange(stage, top):
            remove(stage)  # now holds the old tree
            return "swapped", skipped
        old = stage + ".old"
        os.rename(top, old)
        os.rename(stage, top)
        remove(old)
        return "renamed", skipped
    except OSError as exc:
        remove(stage)
        if exc.errno in (errno.EBUSY, errno.EXDEV) and is_dir and os.path.isdir(top):
            return _in_place(entries, top, objects, journal)
        raise


def sync_into(src: str, dst: str) -> None:
    """Make ``dst`` (a mount point) hold what ``src`` (staged inside it) holds, entry by entry,
    each swapped atomically."""
    staged = os.path.basename(src) if os.path.dirname(os.path.abspath(src)) == os.path.abspath(dst) else None
    keep = set(os.listdir(src))
    for name in os.listdir(dst):
        if name not in keep and name != staged:
            remove(os.path.join(dst, name))
    for name in keep:
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.lexists(d) and exchange(s, d):
            remove(s)
        else:
            if os.path.lexists(d):
                remove(d)
            os.rename(s, d)
    st = os.lstat(src)
    os.chmod(dst, st.st_mode & 0o7777)
    try:
        os.chown(dst, st.st_uid, st.st_gid)
    except PermissionError:
        pass

"""What a snapshot holds: one entry per file system object, with its metadata and content hash.

Scanning is pure bookkeeping over ``os.lstat``; contents go to the object store (see
:mod:`aios.recovery._objects`). A previous manifest serves as a cache: a file whose size, mtime,
ctime and inode did not change keeps its hash without being read again, so an hourly snapshot
of an unchanged tree reads no file at all.
"""

from __future__ import annotations

import base64
import operator
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

Entry = dict[str, Any]
"""path, type (file|dir|symlink|other), mode, uid, gid, mtime_ns, size, sha, target, xattrs, link."""

Progress = Callable[[int, int, str], None]


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        try:
            out[name] = base64.b64encode(os.getxattr(path, name, follow_symlinks=False)).decode()
        except OSError:
            continue
    return out


def walk(root: Path, watch: Callable[[str], None] | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """``root`` and everything under it, parents before children, without following links.

    ``watch`` (see :class:`aios.recovery._watch.ChangeWatch`) is called with the root and every
    directory before they are stat-ed or listed, and with each multiply-linked file (which is
    stat-ed again afterwards), so that a change is either seen here or reported to the watch.
    """
    if watch is not None:
        watch(str(root))
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    yield str(root), st
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [str(root)]
    while stack:
        d = stack.pop()
        if watch is not None and d != str(root):
            watch(d)
        try:
            with os.scandir(d) as it:
                children = sorted(it, key=_by_name)
        except OSError:
            continue
        for e in children:
            try:
                cst = e.stat(follow_symlinks=False)
                if watch is not None and cst.st_nlink > 1 and stat.S_ISREG(cst.st_mode):
                    watch(e.path)  # a write through another name reaches only the inode's watch
                    cst = os.lstat(e.path)
            except OSError:
                continue
            yield e.path, cst
            if stat.S_ISDIR(cst.st_mode):
                stack.append(e.path)


_by_name = operator.attrgetter("name")


def describe(path: str, st: os.stat_result) -> Entry:
    """The metadata of one object (no content hash)."""
    mode = st.st_mode
    kind = "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "symlink" if stat.S_ISLNK(mode) else "other"
    e: Entry = {
        "path": path,
        "type": kind,
        "mode": stat.S_IMODE(mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime_ns": st.st_mtime_ns,
    }
    if kind == "file":
        e["size"] = st.st_size
    elif kind == "symlink":
        e["target"] = os.readlink(path)
    elif stat.S_ISFIFO(mode):
        e["node"] = "fifo"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        e["node"] = "char" if stat.S_ISCHR(mode) else "block"
        e["rdev"] = st.st_rdev
    else:
        e["node"] = "socket"  # a listener's rendezvous: meaningless without the listener
    x = _xattrs(path)
    if x:
        e["xattrs"] = x
    return e


@attrs.define
class Scan:
    """The result of scanning some roots."""

    entries: list[Entry] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    """Paths that could not be read (a user daemon meeting root-only files)."""


def scan(
    roots: Iterable[Path],
    store_file: Callable[[str, os.stat_result], str],
    *,
    cache: dict[str, Entry] | None = None,
    progress: Progress | None = None,
    watch: Callable[[str], None] | None = None,
) -> Scan:
    """Describe every object under ``roots``; ``store_file`` stores a file's content, returns its hash.

    ``cache`` maps paths to the entries of the newest manifest. An object whose size, mtime,
    ctime and inode are unchanged keeps its old entry without being read or asked for its xattrs
    (chmod, chown, xattr changes and writes all move ctime); its content object exists by
    construction (objects are only removed when no manifest names them). Hard links inside the
    scanned trees are kept: the second and later names of an inode get ``link`` (the first
    name) instead of content.
    """
    result = Scan()
    seen_inodes: dict[tuple[int, int], str] = {}
    cache = cache or {}
    items = [(p, st) for root in roots for p, st in walk(root, watch)]
    total = len(items)
    for i, (path, st) in enumerate(items, 1):
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = cache.get(path)
        if hit is not None and hit.get("_key") == key and st.st_nlink == 1 and "link" not in hit:
            result.entries.append(hit)
        else:
            try:
                e = describe(path, st)
            except OSError:
                result.skipped.append(path)
                continue
            e["_key"] = key
            if e["type"] == "file":
                ino = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and ino in seen_inodes:
                    e["link"] = seen_inodes[ino]
                else:
                    if st.st_nlink > 1:
                        seen_inodes[ino] = path
                    if hit is not None and hit.get("_key") == key and "sha" in hit:
                        e["sha"] = hit["sha"]
                    else:
                        try:
                            e["sha"] = store_file(path, st)
                        except OSError:
                            result.skipped.append(path)
                            continue
            result.entries.append(e)
        if progress is not None and (i % 200 == 0 or i == total):
            progress(i, total, path)
    return result


def under(entries: Iterable[Entry], top: str) -> list[Entry]:
    """Entries at ``top`` or below it."""
    prefix = top.rstrip("/") + "/"
    return [e for e in entries if e["path"] == top or e["path"].startswith(prefix)]


@attrs.frozen
class Change:
    """One difference between two states of a path."""

    path: str
    kind: str
    """added | removed | modified | metadata."""
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "detail": self.detail}


_META = ("mode", "uid", "gid", "xattrs")


def compare(old: Iterable[Entry], new: Iterable[Entry]) -> list[Change]:
    """What changed from ``old`` to ``new`` (two lists of entries), sorted by path."""
    a = {e["path"]: e for e in old}
    b = {e["path"]: e for e in new}
    out: list[Change] = []
    for path in sorted(a.keys() | b.keys()):
        x, y = a.get(path), b.get(path)
        if x is None:
            assert y is not None
            out.append(Change(path, "added", y["type"]))
        elif y is None:
            out.append(Change(path, "removed", x["type"]))
        elif x["type"] != y["type"]:
            out.append(Change(path, "modified", f"{x['type']} -> {y['type']}"))
        elif x.get("sha") != y.get("sha") or x.get("target") != y.get("target") or x.get("link") != y.get("link"):
            what = "content" if x["type"] == "file" else "target"
            out.append(Change(path, "modified", what))
        else:
            diffs = [k for k in _META if x.get(k) != y.get(k)]
            if diffs:
                detail = ", ".join(
                    f"mode {x['mode']:o} -> {y['mode']:o}" if k == "mode" else f"{k} {x.get(k)} -> {y.get(k)}" if k != "xattrs" else "xattrs"
                    for k in diffs
                )
                out.append(Change(path, "metadata", detail))
    return out

"""What a snapshot holds: one entry per file system object, with its metadata and content hash.

Scanning is pure bookkeeping over ``os.lstat``; contents go to the object store (see
:mod:`aios.recovery._objects`). A previous manifest serves as a cache: a file whose size, mtime,
ctime and inode did not change keeps its hash without being read again, so an hourly snapshot
of an unchanged tree reads no file at all.
"""

from __future__ import annotations

import base64
import json
import operator
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

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


def walk(
    root: Path, watch: Callable[[str], None] | None = None, leave_out: frozenset[str] = frozenset()
) -> Iterator[tuple[str, os.stat_result]]:
    """``root`` and everything under it, parents before children, without following links;
    paths in ``leave_out`` (and what is under them) are not listed.

    ``watch`` (see :class:`aios.recovery._watch.ChangeWatch`) is called with the root and every
    directory before they are stat-ed or listed, and with each multiply-linked file (which is
    stat-ed again afterwards), so that a change is either seen here or reported to the watch.
    """
    if watch is not None:
        watch(str(root))
    try:
        st = os.lstat(root)
    except (FileNotFoundError, NotADirectoryError):
        return  # absent: the snapshot records that, and a restore removes what appears there
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
            if e.path in leave_out:
                continue
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
    leave_out: frozenset[str] = frozenset(),
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
    items: list[tuple[str, os.stat_result]] = []
    for root in roots:
        try:
            if str(root) in leave_out or any(str(root).startswith(x + "/") for x in leave_out):
                continue
            items += walk(root, watch, leave_out)
        except OSError:
            result.skipped.append(str(root))  # not even its metadata is readable by this daemon
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


def _what_changed(x: Entry, y: Entry) -> tuple[bool, list[str]]:
    """(content changed, every difference in words) between two entries of one type."""
    words: list[str] = []
    content = False
    if x.get("sha") != y.get("sha") or x.get("rdev") != y.get("rdev"):
        content = True
        words.append("content")
    if x.get("target") != y.get("target"):
        content = True
        words.append(f"target {x.get('target')} -> {y.get('target')}")
    if x.get("link") != y.get("link"):
        content = True
        words.append("hard link " + (f"to {y['link']}" if y.get("link") else "broken"))
    if x["mode"] != y["mode"] and x["type"] != "symlink":  # a symlink's mode means nothing
        words.append(f"mode {x['mode']:o} -> {y['mode']:o}")
    for k in ("uid", "gid"):
        if x.get(k) != y.get(k):
            words.append(f"{k} {x.get(k)} -> {y.get(k)}")
    if (x.get("xattrs") or {}) != (y.get("xattrs") or {}):
        words.append("xattrs")
    return content, words


def compare(old: Iterable[Entry], new: Iterable[Entry]) -> list[Change]:
    """What changed from ``old`` to ``new`` (two lists of entries), sorted by path.

    Each path appears once with every difference it has (content and mode and owner ...):
    ``modified`` when its type or content changed, ``metadata`` when only its metadata did.
    """
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
        else:
            content, words = _what_changed(x, y)
            if words:
                out.append(Change(path, "modified" if content else "metadata", ", ".join(words)))
    return out


def dumps(entries: list[Entry]) -> bytes:
    """JSON bytes of a manifest; file names that are not UTF-8 (surrogate escapes) need the
    slower standard encoder."""
    try:
        return orjson.dumps(entries)
    except TypeError:
        return json.dumps(entries, separators=(",", ":")).encode("utf-8", "surrogatepass")


def loads(raw: bytes) -> list[Entry]:
    try:
        data: list[Entry] = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = json.loads(raw.decode("utf-8", "surrogatepass"))
    return data

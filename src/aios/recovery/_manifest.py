"""What a snapshot holds: one entry per file system object, with its metadata and content hash.

Scanning is pure bookkeeping over ``os.lstat``; contents go to the object store (see
:mod:`aios.recovery._objects`). A previous manifest serves as a cache: a file whose size, mtime,
ctime and inode did not change keeps its hash without being read again, so an hourly snapshot
of an unchanged tree reads no file at all.
"""

from __future__ import annotations

import base64
import errno
import json
import operator
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from aios.errors import RecoveryError

from ._safepath import DIR_READ, open_dir

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


class Dirs:
    """Directory handles for a scan: each directory is opened relative to its parent's handle
    with ``O_NOFOLLOW`` and must be the inode the listing saw, so a directory swapped for a
    symlink (or another directory) after it was listed is never read through.

    Only the handles on the way to the directory last asked for stay open.
    """

    def __init__(self) -> None:
        self.ids: dict[str, tuple[int, int]] = {}
        self._open: dict[str, int] = {}

    def get(self, path: str) -> int:
        """A read handle on the directory ``path`` (closed by this object).

        Raises:
            OSError: it is gone, is not a directory, or is not the one listed.
            RecoveryError: a parent of a scan root is a symlink.
        """
        for p in [p for p in self._open if not (path == p or path.startswith(p.rstrip("/") + "/"))]:
            os.close(self._open.pop(p))
        return self._get(path)

    def _get(self, path: str) -> int:
        fd = self._open.get(path)
        if fd is not None:
            return fd
        want = self.ids.get(path)
        if want is None:  # above a scan root: reached from / without following a symlink
            fd = open_dir(path)
        else:
            parent, name = path.rsplit("/", 1)
            fd = os.open(name, DIR_READ, dir_fd=self._get(parent or "/"))
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != want:
                os.close(fd)
                raise OSError(errno.ESTALE, "replaced since it was listed", path)
        self._open[path] = fd
        return fd

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _split(path: str) -> tuple[str, str]:
    parent, name = path.rsplit("/", 1)
    return parent or "/", name


def walk(
    root: Path,
    dirs: Dirs,
    watch: Callable[[str], None] | None = None,
    leave_out: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, os.stat_result]]:
    """``root`` and everything under it, parents before children, without following links;
    paths in ``leave_out`` (and what is under them) are not listed. Every directory is listed
    through a handle from ``dirs``, which records each listed directory's inode.

    ``watch`` (see :class:`aios.recovery._watch.ChangeWatch`) is called with the root and every
    directory before they are stat-ed or listed, and with each multiply-linked file (which is
    stat-ed again afterwards), so that a change is either seen here or reported to the watch.
    """
    if watch is not None:
        watch(str(root))
    parent, name = _split(str(root))
    try:
        st = os.stat(name, dir_fd=dirs.get(parent), follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return  # absent: the snapshot records that, and a restore removes what appears there
    except RecoveryError:
        if not os.path.lexists(parent):
            return  # its parent is absent too
        raise  # a parent is a symlink now: not followed
    yield str(root), st
    if not stat.S_ISDIR(st.st_mode):
        return
    dirs.ids[str(root)] = (st.st_dev, st.st_ino)
    stack = [str(root)]
    while stack:
        d = stack.pop()
        if watch is not None and d != str(root):
            watch(d)
        try:
            dfd = dirs.get(d)
            with os.scandir(dfd) as it:
                children = sorted(it, key=_by_name)
        except OSError:
            continue
        for e in children:
            path = d.rstrip("/") + "/" + e.name
            if path in leave_out:
                continue
            try:
                cst = e.stat(follow_symlinks=False)
                if watch is not None and cst.st_nlink > 1 and stat.S_ISREG(cst.st_mode):
                    watch(path)  # a write through another name reaches only the inode's watch
                    cst = os.stat(e.name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            yield path, cst
            if stat.S_ISDIR(cst.st_mode):
                dirs.ids[path] = (cst.st_dev, cst.st_ino)
                stack.append(path)


_by_name = operator.attrgetter("name")


def describe(dir_fd: int, path: str, st: os.stat_result) -> Entry:
    """The metadata of one object (no content hash), read through its directory's handle."""
    name = _split(path)[1]
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
        e["target"] = os.readlink(name, dir_fd=dir_fd)
    elif stat.S_ISFIFO(mode):
        e["node"] = "fifo"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        e["node"] = "char" if stat.S_ISCHR(mode) else "block"
        e["rdev"] = st.st_rdev
    else:
        e["node"] = "socket"  # a listener's rendezvous: meaningless without the listener
    x = _xattrs(f"/proc/self/fd/{dir_fd}/{name}")  # the handle's directory, never a path's
    if x:
        e["xattrs"] = x
    return e


def open_file(dir_fd: int, path: str, st: os.stat_result) -> int:
    """A read handle on the regular file ``path`` listed with ``st``, opened relative to its
    directory without following a symlink and without blocking on a FIFO.

    Raises:
        OSError: it is no longer that regular file.
    """
    fd = os.open(_split(path)[1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    now = os.fstat(fd)
    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise OSError(errno.ESTALE, "replaced since it was listed", path)
    return fd


@attrs.define
class Scan:
    """The result of scanning some roots."""

    entries: list[Entry] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)
    """Paths that could not be read (a user daemon meeting root-only files)."""


def scan(
    roots: Iterable[Path],
    store_file: Callable[[int], str],
    *,
    cache: dict[str, Entry] | None = None,
    progress: Progress | None = None,
    watch: Callable[[str], None] | None = None,
    leave_out: frozenset[str] = frozenset(),
) -> Scan:
    """Describe every object under ``roots``; ``store_file`` stores the content of an open
    file, returns its hash.

    Every object is reached through its directory's handle (see :class:`Dirs`), and only a
    regular file that is still the inode listed is read: a directory or file swapped for a
    symlink, a FIFO or a device while the scan runs is skipped, never read.

    ``cache`` maps paths to the entries of the newest manifest. An object whose size, mtime,
    ctime and inode are unchanged keeps its old entry without being read or asked for its xattrs
    (chmod, chown, xattr changes and writes all move ctime); its content object exists by
    construction (objects are only removed when no manifest names them). Hard links inside the
    scanned trees are kept: the second and later names of an inode get ``link`` (the first
    name) instead of content.
    """
    result = Scan()
    cache = cache or {}
    items: list[tuple[str, os.stat_result]] = []
    dirs = Dirs()
    try:
        for root in roots:
            try:
                if str(root) in leave_out or any(str(root).startswith(x + "/") for x in leave_out):
                    continue
                items += walk(root, dirs, watch, leave_out)
            except (OSError, RecoveryError):
                result.skipped.append(str(root))  # not even its metadata is readable by this daemon
        _describe_all(result, items, dirs, store_file, cache, progress)
    finally:
        dirs.close()
    return result


def _describe_all(
    result: Scan,
    items: list[tuple[str, os.stat_result]],
    dirs: Dirs,
    store_file: Callable[[int], str],
    cache: dict[str, Entry],
    progress: Progress | None,
) -> None:
    seen_inodes: dict[tuple[int, int], str] = {}
    total = len(items)
    for i, (path, st) in enumerate(items, 1):
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = cache.get(path)
        if hit is not None and hit.get("_key") == key and st.st_nlink == 1 and "link" not in hit:
            result.entries.append(hit)
        else:
            try:
                dfd = dirs.get(_split(path)[0])
                e = describe(dfd, path, st)
            except (OSError, RecoveryError):
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
                            fd = open_file(dfd, path, st)
                            try:
                                e["sha"] = store_file(fd)
                            finally:
                                os.close(fd)
                        except OSError:
                            result.skipped.append(path)
                            continue
            result.entries.append(e)
        if progress is not None and (i % 200 == 0 or i == total):
            progress(i, total, path)


_TYPES = ("file", "dir", "symlink", "other")


def _bad_path(p: object) -> bool:
    """Whether ``p`` is not an absolute, normalized path free of '.', '..' and empty parts."""
    if not isinstance(p, str) or not p.startswith("/") or p == "/" or "\0" in p:
        return True
    return any(part in ("", ".", "..") for part in p[1:].split("/"))


def check_entries(entries: object, where: str) -> list[Entry]:
    """A loaded manifest, refused unless every entry is well formed.

    A manifest in a store shared with other containers is untrusted: an entry ``tree/sub/..``
    would make a restore open (and empty) a directory outside the snapshot, a ``sha`` of
    ``../x`` would name a file outside the object store.

    Raises:
        RecoveryError: naming ``where`` and the first bad entry.
    """
    from ._objects import check_sha

    if not isinstance(entries, list):
        raise RecoveryError(f"{where}: the manifest is not a list of entries")
    for e in entries:
        if not isinstance(e, dict) or _bad_path(e.get("path")) or e.get("type") not in _TYPES:
            raise RecoveryError(f"{where}: manifest entry {str(e)[:200]} is refused (paths must be absolute and normalized)")
        if not all(isinstance(e.get(k), int) for k in ("mode", "uid", "gid", "mtime_ns")):
            raise RecoveryError(f"{where}: manifest entry {e['path']!r} lacks its mode, owner or time")
        if "sha" in e:
            check_sha(e["sha"])
        if "link" in e and _bad_path(e["link"]):
            raise RecoveryError(f"{where}: manifest entry {e['path']!r} links to {str(e['link'])[:200]!r}, not a normalized path")
        if e["type"] == "symlink" and not isinstance(e.get("target"), str):
            raise RecoveryError(f"{where}: manifest entry {e['path']!r} is a symlink without a target")
    return entries


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

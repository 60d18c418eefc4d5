"""Putting a path back as a snapshot holds it, on directory handles only.

A directory that still exists is kept, inode and all (a shell whose working directory is inside
it sees the restored files without ``cd``), and its entries are put back one by one: each other
object is built beside its final name under a ``.aios-restore-…`` name and swapped in with one
``renameat2(RENAME_EXCHANGE)`` (two renames where the kernel lacks it), so every entry is the
old one or the new one, never half written. Mount points are directories that stay, so they
need no special case. The store journals each restore and finishes an interrupted one at the
next start.

Nothing here follows a symlink: the parent of a restored path is reached by
:func:`aios.recovery._safepath.open_parent`, everything below it through handles opened with
``O_NOFOLLOW``, and metadata is set on the opened objects (``fchown``, ``fchmod``).
"""

from __future__ import annotations

import base64
import ctypes
import errno
import os
import stat
from collections.abc import Callable

from aios.errors import RecoveryError

from ._manifest import Entry
from ._objects import Objects, copy_into, hash_fd
from ._safepath import (
    DIR_READ,
    STAGE_PREFIX,
    is_mount_point,
    lstat_at,
    open_parent,
    remove_at,
)

_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_NODES = {"fifo": stat.S_IFIFO, "char": stat.S_IFCHR, "block": stat.S_IFBLK}
_NEW_FILE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def exchange_at(dir_fd: int, a: str, b: str) -> bool:
    """Atomically swap two names in one directory; False when the kernel or file system cannot."""
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    if fn(dir_fd, os.fsencode(a), dir_fd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def _base(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):  # the manifest is checked on load; this is the last line
        raise RecoveryError(f"{path!r}: not a name a restore writes ('.', '..' and empty names are refused)")
    return name


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


class Restorer:
    """Puts paths back from one manifest.

    Args:
        objects: where file contents live.
        entries: the snapshot's whole manifest (a hard link's first name may lie outside the
            restored path).
        journal: called with a directory before the first stage is built in it, so that a
            crash leaves nothing a restart cannot find.
        keep: paths left as they are: what the snapshot could not read, the snapshot store and
            the live memory database.
    """

    def __init__(
        self, objects: Objects, entries: list[Entry], journal: Callable[[str], None], keep: frozenset[str] = frozenset()
    ) -> None:
        self.objects = objects
        self._keep = keep
        by_path = {e["path"]: e for e in entries}
        self._heads = {e["link"]: by_path[e["link"]] for e in entries if "link" in e and e["link"] in by_path}
        self._children: dict[str, list[Entry]] = {}
        self._journal = journal
        self._journaled: set[str] = set()
        self._made: dict[str, int] = {}  # first name of a hard-link group -> handle on its new inode
        self._count = 0
        self._euid = os.geteuid()
        self.skipped: list[str] = []

    def close(self) -> None:
        for fd in self._made.values():
            os.close(fd)
        self._made.clear()

    def put_back(self, entries: list[Entry], top: str) -> str:
        """Make ``top`` what ``entries`` (the manifest entries at and below it) say; returns how:
        ``in-place`` (an existing directory kept), ``created`` or ``swapped``."""
        if not entries or entries[0]["path"] != top:
            raise RecoveryError(f"{top}: the snapshot has no entry for it")
        self._children = {}
        for e in entries[1:]:
            self._children.setdefault(_parent(e["path"]), []).append(e)
        pfd, name = open_parent(top)
        try:
            e = entries[0]
            live = lstat_at(pfd, name)
            if e["type"] == "dir" and live is not None and stat.S_ISDIR(live.st_mode):
                fd = os.open(name, DIR_READ, dir_fd=pfd)
                try:
                    self._merge(fd, e)
                finally:
                    os.close(fd)
                return "in-place"
            rfd = os.open(".", DIR_READ, dir_fd=pfd)
            try:
                self._replace(rfd, _parent(top), name, e, live)
            finally:
                os.close(rfd)
            return "created" if live is None else "swapped"
        finally:
            os.close(pfd)

    # -- directories that stay --------------------------------------------------------------
    def _merge(self, fd: int, e: Entry) -> None:
        st = os.fstat(fd)
        if self._euid != 0 and st.st_uid == self._euid and st.st_mode & 0o300 != 0o300:
            # A user daemon's own read-only directory: writable while its entries come back;
            # its mode from the snapshot is set at the end.
            os.fchmod(fd, stat.S_IMODE(st.st_mode) | 0o300)
        want = {_base(k["path"]): k for k in self._children.get(e["path"], [])}
        for name in os.listdir(fd):
            path = e["path"] + "/" + name
            if name in want or path in self._keep:
                continue
            if is_mount_point(fd, name):
                self.skipped.append(path)  # mounted since: never empty another file system
                continue
            self._guarded(path, remove_at, fd, name)
        for name, k in want.items():
            live = lstat_at(fd, name)
            if k["type"] == "dir" and live is not None and stat.S_ISDIR(live.st_mode):
                cfd = os.open(name, DIR_READ, dir_fd=fd)
                try:
                    self._merge(cfd, k)
                finally:
                    os.close(cfd)
            else:
                self._guarded(k["path"], self._replace, fd, e["path"], name, k, live)
        self._apply(fd, e, prune=True)

    def _guarded(self, path: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except OSError as exc:
            # A mount point (or a busy file system object) cannot be removed or swapped: it
            # stays as it is and the report names it; everything else still comes back.
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            self.skipped.append(path)

    # -- everything else: build beside, then swap ------------------------------------------
    def _replace(self, dfd: int, dirpath: str, name: str, k: Entry, live: os.stat_result | None) -> None:
        if k["type"] == "other" and k.get("node") not in _NODES:
            self.skipped.append(k["path"])  # a socket: recorded, not recreated; a live one stays
            return
        stage = self._stage(dirpath)
        try:
            self._build(dfd, stage, k)
            if live is None:
                os.rename(stage, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            elif exchange_at(dfd, stage, name):
                remove_at(dfd, stage)  # now holds the old object
            else:
                old = self._stage(dirpath)
                os.rename(name, old, src_dir_fd=dfd, dst_dir_fd=dfd)
                os.rename(stage, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                remove_at(dfd, old)
        except BaseException:
            remove_at(dfd, stage)
            raise

    def _stage(self, dirpath: str) -> str:
        if dirpath not in self._journaled:
            self._journal(dirpath)
            self._journaled.add(dirpath)
        self._count += 1
        return f"{STAGE_PREFIX}{os.getpid()}-{self._count}"

    def _build(self, dfd: int, name: str, k: Entry) -> None:
        kind = k["type"]
        if kind == "dir":
            os.mkdir(name, 0o700, dir_fd=dfd)
            fd = os.open(name, DIR_READ, dir_fd=dfd)
            try:
                if os.fstat(fd).st_uid != self._euid:
                    raise RecoveryError(f"{k['path']}: the directory being built was replaced by someone else's")
                for kid in self._children.get(k["path"], []):
                    if kid["type"] == "other" and kid.get("node") not in _NODES:
                        self.skipped.append(kid["path"])
                        continue
                    self._build(fd, _base(kid["path"]), kid)
                self._apply(fd, k)
            finally:
                os.close(fd)
        elif kind == "symlink":
            os.symlink(k["target"], name, dir_fd=dfd)
            try:
                os.chown(name, k["uid"], k["gid"], dir_fd=dfd, follow_symlinks=False)
            except PermissionError:
                pass
            os.utime(name, ns=(k["mtime_ns"], k["mtime_ns"]), dir_fd=dfd, follow_symlinks=False)
        elif kind == "file":
            self._file(dfd, name, k)
        else:
            try:
                os.mknod(name, k["mode"] | _NODES[k["node"]], k.get("rdev", 0), dir_fd=dfd)
            except PermissionError:  # device nodes need CAP_MKNOD (a root daemon has it)
                self.skipped.append(k["path"])
                return
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                if stat.S_IFMT(os.fstat(fd).st_mode) != _NODES[k["node"]]:
                    raise RecoveryError(f"{k['path']}: the node being built was replaced")
                self._apply(f"/proc/self/fd/{fd}", k)  # an O_PATH handle: reach its inode by name
            finally:
                os.close(fd)

    def _file(self, dfd: int, name: str, k: Entry) -> None:
        key = k.get("link") or (k["path"] if k["path"] in self._heads else None)
        if key is not None and key in self._made:
            try:
                os.link(f"/proc/self/fd/{self._made[key]}", name, dst_dir_fd=dfd, follow_symlinks=True)
                return
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise  # another file system: the name gets its own copy below
        source = self._heads.get(key, k) if key is not None else k
        sha = source.get("sha")
        if sha is None:
            self.skipped.append(k["path"])
            return
        fd = os.open(name, _NEW_FILE, 0o600, dir_fd=dfd)
        try:
            copy_into(self.objects.open(sha), fd)
            # The store may be shared and written by others: what was staged must be what the
            # manifest names, or it is never swapped in.
            if hash_fd(fd) != sha:
                raise RecoveryError(
                    f"{k['path']}: object {sha} was changed in the store (its content no longer hashes to its name); not restored"
                )
            self._apply(fd, k)
            if key is not None and key not in self._made:
                self._made[key] = os.dup(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _apply(target: int | str, e: Entry, *, prune: bool = False) -> None:
        """Owner, mode, xattrs and mtime, in the order that keeps each: chown clears set-id
        bits and file capabilities, so it comes first."""
        try:
            os.chown(target, e["uid"], e["gid"])
        except PermissionError:
            pass  # a user daemon restores its own files; ownership is already its own
        os.chmod(target, e["mode"])
        xattrs = e.get("xattrs") or {}
        if prune:  # a directory that stayed keeps nothing the snapshot did not have
            for extra in set(os.listxattr(target)) - set(xattrs):
                try:
                    os.removexattr(target, extra)
                except OSError:
                    pass
        for key, value in xattrs.items():
            try:
                os.setxattr(target, key, base64.b64decode(value))
            except OSError:
                pass  # e.g. security.* without the capability: content and owner still come back
        os.utime(target, ns=(e["mtime_ns"], e["mtime_ns"]))


def remove_top(path: str) -> bool:
    """Remove ``path`` (it did not exist when the snapshot was taken); False when it is absent."""
    try:
        pfd, name = open_parent(path)
    except RecoveryError:
        if os.path.lexists(os.path.dirname(path)):
            raise  # a parent is a symlink or not a directory now: refuse, never follow
        return False  # its parent is gone too
    try:
        if lstat_at(pfd, name) is None:
            return False
        rfd = os.open(".", DIR_READ, dir_fd=pfd)
        try:
            remove_at(rfd, name)
        finally:
            os.close(rfd)
        return True
    finally:
        os.close(pfd)

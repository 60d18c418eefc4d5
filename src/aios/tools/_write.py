"""The write tool's work: replace a file atomically, or append to it, beneath descriptors only.

Runs in a worker thread (as the requester when there is one). The path is walked one directory
at a time without following links (:mod:`aios.tools._fs`); every directory on the way is checked
against the daemon's own directories by device and inode, and for bare-repository metadata
(:mod:`aios.tools._guard`). A replacement is a temporary file made in the opened parent, given
the old owner and mode through its descriptor, synced, and renamed over the target.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from ._base import ToolResult
from ._fs import (
    DIR_FLAGS,
    OPENER,
    Opener,
    PathRefused,
    Target,
    components,
    join,
    kind_refusal,
    same_file,
)
from ._guard import bare_refusal, identities, identity_refusal


def linked_write_refusal(st: os.stat_result, shown: str) -> str | None:
    """Why a write must not go *through* a multiply-linked file (an append, an in-place write).

    Another name of it may be git metadata or a file of the daemon's that the guard refuses by
    name, and a jailed command may have made that name for its own file (``git init`` in the
    jail, then a link in the workspace). A whole-file write renames a new file over the name,
    which breaks the link instead, so that one stays allowed.
    """
    if st.st_nlink > 1:
        return (f"{shown} has {st.st_nlink} hard links: writing through it would change every name of it "
                "(one may be a file the tools never write); write it whole (append=false) instead")
    return None


def write_file(t: Target, data: bytes, *, append: bool, protected: Sequence[Path] = (), chown: bool = False,
               opener: Opener = OPENER) -> ToolResult:
    """Write ``data`` to ``t`` (replace atomically, or append), beneath descriptors only.

    Args:
        t: where.
        data: the bytes.
        append: add to the end instead of replacing.
        protected: the daemon's own paths; checked again by device and inode on every directory
            walked through and on the file itself.
        chown: give a new file to the owner of its directory (a root daemon acting for itself).
        opener: how paths are opened (tests force the walk without openat2).
    """
    ids = identities(protected)
    note = ""
    try:
        comps = components(t.rel, t.base)
        if not comps:
            raise PathRefused(f"{t.shown} is a directory")
        parent_rel = "/".join(comps[:-1])
        root = os.open(t.base, DIR_FLAGS)
        try:
            for sub, fd in opener.walk_dirs(root, t.rel, base=t.base):
                shown = join(t.base, sub)
                if (why := identity_refusal(os.fstat(fd), shown, ids)) is not None:
                    raise PathRefused(why)
                last = sub == parent_rel
                if (why := bare_refusal(fd, shown, comps[-1] if last else None)) is not None:
                    raise PathRefused(why)
                if last:
                    note = _write_at(fd, comps[-1], data, append, t.shown, shown, ids, chown, opener)
        finally:
            os.close(root)
    except PathRefused as exc:
        return ToolResult(False, "", f"refused: {exc.message}", {"refused": True})
    except OSError as exc:
        return ToolResult(False, "", f"cannot write {t.shown}: {exc.strerror or exc}")
    verb = "appended" if append else "wrote"
    return ToolResult(True, f"{verb} {len(data)} bytes to {t.shown}{note}", None, {"path": t.shown, "bytes": len(data)})


def _write_at(pfd: int, leaf: str, data: bytes, append: bool, shown: str, parent_shown: str,
              ids: dict[tuple[int, int], str], chown: bool, opener: Opener) -> str:
    try:
        old: os.stat_result | None = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None:
        if (bad := kind_refusal(old, shown, pfd, leaf, parent_shown)) is not None:
            raise bad
        if (why := identity_refusal(old, shown, ids)) is not None:
            raise PathRefused(why)
    if append:
        return _append(pfd, leaf, data, old, shown, chown, opener)
    tmp = f".aios-write-{os.getpid()}-{time.monotonic_ns()}.tmp"
    try:
        fd = opener.open(pfd, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, base=parent_shown)
    except PermissionError:
        if old is None:
            raise
        # No right to create a file beside it (a group-writable file in someone else's
        # directory): write in place, as the user's own shell would.
        return _in_place(pfd, leaf, data, old, shown, opener)
    try:
        if old is not None:
            owner, mode = (old.st_uid, old.st_gid), stat.S_IMODE(old.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)
        else:
            pst = os.fstat(pfd)
            owner, mode = (pst.st_uid, pst.st_gid), 0o644
        if chown or old is not None:
            try:
                os.fchown(fd, *owner)  # before fchmod: a chown clears set-id bits
            except PermissionError:
                pass  # a user replacing a file keeps it as their own, as mv would
        os.fchmod(fd, mode)
        _write_all(fd, data)
        os.fsync(fd)
        os.rename(tmp, leaf, src_dir_fd=pfd, dst_dir_fd=pfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=pfd)
        except OSError:
            pass
        raise
    finally:
        os.close(fd)
    return ""


def _append(pfd: int, leaf: str, data: bytes, old: os.stat_result | None, shown: str, chown: bool, opener: Opener) -> str:
    flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK  # NONBLOCK: a FIFO without reader fails at once
    created = False
    if old is None:
        try:
            fd = opener.open(pfd, leaf, flags | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            raise PathRefused(f"{shown} appeared while it was being created; write again") from None
    else:
        fd = opener.open(pfd, leaf, flags)
    try:
        st = os.fstat(fd)
        if not created:
            assert old is not None
            if not same_file(st, old) or not stat.S_ISREG(st.st_mode):
                raise PathRefused(f"{shown} was replaced while it was opened; write again")
            if (why := linked_write_refusal(st, shown)) is not None:
                raise PathRefused(why)
        elif chown:
            pst = os.fstat(pfd)
            os.fchown(fd, pst.st_uid, pst.st_gid)
        _write_all(fd, data)
    finally:
        os.close(fd)
    return ""


def _in_place(pfd: int, leaf: str, data: bytes, old: os.stat_result, shown: str, opener: Opener) -> str:
    fd = opener.open(pfd, leaf, os.O_WRONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not same_file(st, old) or not stat.S_ISREG(st.st_mode):
            raise PathRefused(f"{shown} was replaced while it was opened; write again")
        if (why := linked_write_refusal(st, shown)) is not None:
            raise PathRefused(why)
        os.ftruncate(fd, 0)
        _write_all(fd, data)
    finally:
        os.close(fd)
    return " (in place: no permission to create a file beside it, so not atomically)"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

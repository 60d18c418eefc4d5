"""What a jailed command changed in the workspace, and undoing the git metadata it planted.

Around every jailed command (modes that keep the workspace: safe, normal) the runner walks the
workspace twice, in a worker thread: before, it keeps the git metadata that can make git run
programs (:mod:`aios.sandbox._gitmeta`); after, it lists what the command created or changed
(inode change time at or after the command's start: ``ctime`` cannot be set back by a
process, unlike ``mtime``) and undoes harmful changes to that metadata: a new entry is removed,
a changed one gets its old content back. What the jail changed is kept per workspace for the
daemon's lifetime (:func:`jail_changes`), so a command approved to run on the host can be told
which files in its working directory came from the jail.

Every access is relative to a directory descriptor opened with ``O_NOFOLLOW``: a concurrent
command swapping a directory for a symlink cannot point a read or a removal (done as root)
outside the workspace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import threading
import time
from collections.abc import Iterator

from attrs import field, frozen

from . import _gitmeta

WALK_LIMIT = 50_000
"""Entries whose changes are listed per pass; past it the changes of a larger workspace are listed
only this far (the result says so), but the search for git metadata goes on."""
GIT_WALK_LIMIT = 5_000_000
"""Entries the search for git metadata lists per pass before it gives up (and says so loudly):
listing costs no stat per entry, so only a workspace made huge on purpose gets there."""
MAX_PATH = 4096
"""Directories whose absolute path is this long or longer are not searched: the kernel's getcwd
fails there, so git cannot run in them (a limit on depth a command could outgrow would not do)."""
READ_LIMIT = 1024 * 1024
"""Git metadata larger than this is not kept (and not restored: removed if changed)."""
LOG_LIMIT = 10_000
"""Paths remembered per workspace as changed by the jail (the oldest go first)."""
CLOCK_REALTIME_COARSE = 5
"""The clock file times come from (Linux): a time read from it before a command is never later
than the ctime of a file that command changes."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@frozen
class _Entry:
    kind: str  # file | link | dir
    data: bytes | None
    mode: int
    uid: int
    gid: int


@frozen
class Before:
    """The git metadata under the workspace before a command, and when the command started."""

    git: dict[str, tuple[str, _Entry]]
    since_ns: int
    complete: bool


@frozen
class After:
    """What a command changed (workspace-relative paths) and what of it was undone, in words."""

    changed: tuple[str, ...] = ()
    undone: tuple[str, ...] = ()
    complete: bool = True
    failed: tuple[str, ...] = field(default=())
    listed_all: bool = True

    def note(self) -> str:
        """The line added to the command's stderr when git metadata was undone (or could not
        be), or when the workspace was too large to check completely ("" when neither)."""
        parts = []
        if self.undone:
            parts.append(
                "[aios: undid git metadata the command wrote, which git outside the jail would run "
                f"programs from: {'; '.join(self.undone)}]"
            )
        if self.failed:
            parts.append(f"[aios: could NOT undo git metadata the command wrote: {'; '.join(self.failed)}]")
        if self.complete and not self.listed_all:
            parts.append(f"[aios: the workspace has more than {WALK_LIMIT} entries; the files the command "
                         "changed were listed only that far]")
        if not self.complete:
            parts.append(
                f"[aios: WARNING: the workspace has more than {GIT_WALK_LIMIT} entries (or a directory "
                "could not be opened); git metadata past that was NOT checked: do not run git in "
                "repositories the command made]"
            )
        return "".join(p + "\n" for p in parts)


def now_ns() -> int:
    """The coarse real-time clock (see :data:`CLOCK_REALTIME_COARSE`)."""
    try:
        return time.clock_gettime_ns(CLOCK_REALTIME_COARSE)
    except OSError:
        return time.time_ns() - 50_000_000  # a margin for the tick file times lag behind


def _open_dir(name: str, dir_fd: int | None) -> int:
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


class _Walk:
    """One pass over the workspace: git metadata (with contents) and, optionally, changes.

    Iterative, holding one directory descriptor per level (every open is relative to its parent,
    O_NOFOLLOW): no recursion limit, and no depth a command could plant metadata beyond."""

    def __init__(self, since_ns: int | None) -> None:
        self.since_ns = since_ns
        self.git: dict[str, tuple[str, _Entry]] = {}
        self.changed: list[str] = []
        self.count = 0
        self.complete = True
        self.listed_all = True  # every change listed (WALK_LIMIT not passed)
        self._root_len = 0

    def run(self, workspace: str) -> None:
        try:
            fd = _open_dir(workspace, None)
        except OSError:
            return
        self._root_len = len(os.fsencode(workspace))
        stack: list[tuple[int, Iterator[tuple[str, str, str]]]] = [(fd, iter(self._dir(fd, "", "tree")))]
        try:
            while stack:
                parent, pending = stack[-1]
                step = next(pending, None)
                if step is None:
                    os.close(parent)
                    stack.pop()
                    continue
                name, path, where = step
                try:
                    sub = _open_dir(name, parent)
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                        self.complete = False
                    continue
                stack.append((sub, iter(self._dir(sub, path, where))))
        finally:
            for open_fd, _ in stack:
                os.close(open_fd)

    def _dir(self, fd: int, rel: str, where: str) -> list[tuple[str, str, str]]:
        """Look at one directory's entries; return the subdirectories to search (name, path, where)."""
        try:
            with os.scandir(fd) as it:
                entries = list(it)
        except OSError:
            return []
        self.count += len(entries)
        if self.count > GIT_WALK_LIMIT:
            self.complete = False
            return []
        if self.count > WALK_LIMIT:
            self.listed_all = False
        base = rel.rsplit("/", 1)[-1]
        if where in ("tree", "other") and rel and _gitmeta.is_git_dir(base, (e.name for e in entries)):
            where = "gitdir"
        track = where == "tree" and self.since_ns is not None and self.listed_all
        subdirs = []
        for e in entries:
            path = f"{rel}/{e.name}" if rel else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=False)  # d_type: no stat for most entries
                kind = _gitmeta.classify(e.name, is_dir, where)
                st = e.stat(follow_symlinks=False) if track or kind is not None else None
            except OSError:
                continue
            if st is not None and track and st.st_ctime_ns >= (self.since_ns or 0):
                self.changed.append(path + ("/" if is_dir else ""))
            if kind is not None and st is not None:
                self.git[path] = (kind, _read(fd, e.name, st))
            below = _below(where, e.name) if is_dir else None
            if below is not None and self._root_len + 1 + len(os.fsencode(path)) < MAX_PATH:
                subdirs.append((e.name, path, below))
        return subdirs


def _below(where: str, name: str) -> str | None:
    """Where a subdirectory ``name`` lies (None: not worth walking)."""
    if where == "tree":
        return "tree"
    if where == "gitdir":
        # modules/* and worktrees/* hold git directories of their own; objects, refs and logs
        # hold no program (and can be huge).
        return {"hooks": "hooks", "info": "info", "modules": "other", "worktrees": "other"}.get(name)
    if where in ("hooks", "other"):
        return where
    return None


def _read(dir_fd: int, name: str, st: os.stat_result) -> _Entry:
    owner = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    if stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(OSError):
            return _Entry("link", os.fsencode(os.readlink(name, dir_fd=dir_fd)), *owner)
        return _Entry("link", None, *owner)
    if stat.S_ISDIR(st.st_mode):
        return _Entry("dir", None, *owner)
    if not stat.S_ISREG(st.st_mode) or st.st_size > READ_LIMIT:
        return _Entry("file", None, *owner)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return _Entry("file", None, *owner)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return _Entry("file", None, *owner)
        data = os.read(fd, READ_LIMIT + 1)
    except OSError:
        return _Entry("file", None, *owner)
    finally:
        os.close(fd)
    return _Entry("file", data if len(data) <= READ_LIMIT else None, *owner)


def before(workspace: str) -> Before:
    """Keep the workspace's git metadata; call right before the command starts."""
    since = now_ns()
    walk = _Walk(None)
    walk.run(workspace)
    return Before(walk.git, since, walk.complete)


def after(workspace: str, prior: Before) -> After:
    """List what the command changed, undo harmful git metadata changes, remember the changes."""
    walk = _Walk(prior.since_ns)
    walk.run(workspace)
    undone: list[str] = []
    failed: list[str] = []
    for rel, (kind, entry) in sorted(walk.git.items()):
        old = prior.git.get(rel, (kind, None))[1]
        if old == entry:
            continue
        why = _gitmeta.harmful(kind, entry.kind, entry.data, old.data if old and old.kind == "file" else None)
        if why is None:
            continue
        restore = old if old is not None and old.kind == "file" and old.data is not None else None
        try:
            _undo(workspace, rel, restore)
        except OSError as exc:
            failed.append(f"{rel} ({why}): {exc.strerror or exc}")
            continue
        undone.append(f"{'restored' if restore else 'removed'} {rel} ({why})")
    changed = tuple(walk.changed)
    _remember(workspace, changed)
    return After(changed, tuple(undone), walk.complete and prior.complete, tuple(failed), walk.listed_all)


def _undo(workspace: str, rel: str, restore: _Entry | None) -> None:
    """Remove ``rel`` (a whole directory too), then write ``restore``'s content back if given."""
    *parents, name = rel.split("/")
    fd = _open_dir(workspace, None)
    try:
        for part in parents:
            sub = _open_dir(part, fd)
            os.close(fd)
            fd = sub
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=fd)  # symlink-safe with a dir_fd
        elif st is not None:
            os.unlink(name, dir_fd=fd)
        if restore is None or restore.data is None:
            return
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
        try:
            os.write(out, restore.data)
            with contextlib.suppress(PermissionError):
                os.fchown(out, restore.uid, restore.gid)
            os.fchmod(out, restore.mode)
        finally:
            os.close(out)
    finally:
        os.close(fd)


_log: dict[str, dict[str, int]] = {}
_log_lock = threading.Lock()


def _remember(workspace: str, changed: tuple[str, ...]) -> None:
    if not changed:
        return
    stamp = time.time_ns()
    with _log_lock:
        log = _log.setdefault(workspace, {})
        for rel in changed:
            log.pop(rel, None)
            log[rel] = stamp  # re-inserted: the dict stays ordered oldest first
        while len(log) > LOG_LIMIT:
            del log[next(iter(log))]


def jail_changes(workspace: str) -> list[str]:
    """Workspace-relative paths jailed commands created or changed since the daemon started,
    that still exist (directories end with ``/``), newest last."""
    with _log_lock:
        paths = list(_log.get(workspace, {}))
    return [p for p in paths if os.path.lexists(os.path.join(workspace, p.rstrip("/")))]


def iter_named(words: list[str], workspace: str, paths: list[str]) -> Iterator[str]:
    """The ``paths`` (from :func:`jail_changes`) that a command's words name: a path relative to
    the workspace or absolute inside it, a prefix of one, or a Python module (``-m pip``)."""
    names: set[str] = set()
    for i, word in enumerate(words):
        w = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if os.path.isabs(w):
            if not (w == workspace or w.startswith(workspace.rstrip("/") + "/")):
                continue
            w = os.path.relpath(w, workspace)
        w = os.path.normpath(w)
        if w not in (".", "..") and not w.startswith("../"):
            names.add(w)
        if i > 0 and words[i - 1] == "-m":
            mod = word.replace(".", "/")
            names.update({mod, mod + ".py", mod.split("/")[0], mod.split("/")[0] + ".py"})
    for p in paths:
        bare = p.rstrip("/")
        if any(bare == n or bare.startswith(n + "/") or n.startswith(bare + "/") for n in names):
            yield p

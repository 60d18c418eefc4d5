"""Reaching a path to restore without following a symlink on the way.

Restore runs as the daemon (root, for the system daemon) and writes where a snapshot says; a
jailed command or another user may have replaced a parent directory with a symlink since the
snapshot was taken. Every directory on the way is therefore opened with
``O_NOFOLLOW | O_DIRECTORY`` relative to the one before it, starting from ``/``, and all later
work happens relative to the handle: a symlink planted before the walk is refused, one planted
after it is never looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import stat

from aios.errors import RecoveryError

_DIR_PATH = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
DIR_READ = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

STAGE_PREFIX = ".aios-restore-"


def split(path: str) -> list[str]:
    """The components of an absolute, normalized path; ``..`` and ``.`` are refused."""
    if not path.startswith("/"):
        raise RecoveryError(f"{path}: not an absolute path")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise RecoveryError(f"{path}: '.' and '..' are not allowed in a restore path")
    return parts


def open_dir(path: str) -> int:
    """An ``O_PATH`` handle on the directory ``path``, reached without following any symlink.

    Raises:
        RecoveryError: a component is a symlink, is not a directory, or does not exist; or the
            handle's real path is not ``path`` (it moved while we walked).
    """
    fd = _walk(path)
    if fd is None:
        raise RecoveryError(f"{path}: {missing_part(path)} does not exist")
    return fd


def missing_part(path: str) -> str:
    """The first component of ``path`` that does not exist (``path`` itself when all do)."""
    walked = ""
    for part in split(path):
        walked += "/" + part
        if not os.path.lexists(walked):
            return walked
    return path


def parents_exist(path: str) -> bool:
    """Whether every parent of ``path`` is a real directory (False: one does not exist).

    Raises:
        RecoveryError: a parent is a symlink or not a directory.
    """
    parts = split(path)
    fd = _walk("/" + "/".join(parts[:-1]))
    if fd is None:
        return False
    os.close(fd)
    return True


def _walk(path: str) -> int | None:
    parts = split(path)
    fd = os.open("/", _DIR_PATH)
    walked = ""
    try:
        for part in parts:
            walked += "/" + part
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                os.close(fd)
                return None
            if stat.S_ISLNK(st.st_mode):
                raise RecoveryError(
                    f"{path}: {walked} is a symlink (to {_target(fd, part)}); restore does not follow "
                    "symlinks in parent directories, so it would not write where the snapshot was taken"
                )
            if not stat.S_ISDIR(st.st_mode):
                raise RecoveryError(f"{path}: {walked} is not a directory")
            try:
                nxt = os.open(part, _DIR_PATH, dir_fd=fd)
            except OSError as exc:  # swapped for a symlink or a file since the stat
                raise RecoveryError(f"{path}: {walked} changed while it was opened ({exc.strerror})") from None
            os.close(fd)
            fd = nxt
        real, want = real_path(fd), "/" + "/".join(parts)
        if real != want:  # a bind mount or a rename under us: not where the snapshot was taken
            raise RecoveryError(f"{path}: the directory reached is {real}, not {want}")
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_parent(path: str) -> tuple[int, str]:
    """The parent of ``path`` opened as :func:`open_dir` does, and the last component."""
    parts = split(path)
    if not parts:
        raise RecoveryError("/ cannot be restored as a whole")
    return open_dir("/" + "/".join(parts[:-1])), parts[-1]


def real_path(fd: int) -> str:
    """Where an open handle really is, as the kernel names it."""
    return os.readlink(f"/proc/self/fd/{fd}")


def _target(dir_fd: int, name: str) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


def real_root(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute with its parents' symlinks resolved (``/lib/x`` is ``/usr/lib/x``
    on a merged-/usr system), the last component kept as it is: a snapshot records where things
    really are, and a restore then refuses any symlink it meets on the way there."""
    ap = os.path.abspath(path)
    parent, name = os.path.split(ap)
    return os.path.join(os.path.realpath(parent), name) if name else ap


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` in ``dir_fd`` (a whole tree for a directory), never following a symlink."""
    st = lstat_at(dir_fd, name)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        # rmtree with dir_fd works on handles all the way down (safe against symlink races).
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _mnt_id(fd: int) -> str | None:
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return line.split()[1]
    except OSError:
        pass
    return None


def is_mount_point(dir_fd: int, name: str) -> bool:
    """Whether the directory ``name`` in ``dir_fd`` is a mount point (bind mounts of the same
    file system included, which a device number comparison misses)."""
    try:
        fd = os.open(name, _DIR_PATH, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        if os.fstat(fd).st_dev != os.fstat(dir_fd).st_dev:
            return True
        mine = _mnt_id(fd)
        return mine is not None and mine != _mnt_id(dir_fd)
    finally:
        os.close(fd)


def remove_stages(path: str, pid: int) -> list[str]:
    """Remove what the interrupted restore of process ``pid`` staged in the directory ``path``
    (names ``.aios-restore-<pid>-<n>``, the only ones it makes; anything else is someone
    else's); returns the names."""
    stage = re.compile(re.escape(f"{STAGE_PREFIX}{pid}-") + "[0-9]+")
    try:
        fd = open_dir(path)
    except RecoveryError:
        return []  # gone, or now a symlink: nothing of ours to clean up there
    try:
        rfd = os.open(".", DIR_READ, dir_fd=fd)
    except OSError:
        os.close(fd)
        return []
    try:
        names = [n for n in os.listdir(rfd) if stage.fullmatch(n)]
        for n in names:
            remove_at(rfd, n)
        return names
    finally:
        os.close(rfd)
        os.close(fd)

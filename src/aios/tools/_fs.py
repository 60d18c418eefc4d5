"""Opening paths beneath a directory handle without following a single symbolic link.

The file tools run outside the jail (as root for a system daemon), on paths a jailed command can
change at any moment. Resolving a path first and opening it later is a race: a directory swapped
for a symlink in between sends a write to ``/usr/local`` or a read to a secret. So nothing here
resolves ahead of use. Every path is opened relative to a directory descriptor (the workspace's,
or ``/``'s) with ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)``, and
everything after that works on descriptors: ``fstat``, ``fchown``, ``fchmod``, and a final
component opened with ``O_NOFOLLOW`` relative to its parent's descriptor.

Kernels without ``openat2`` (before 5.6, or a seccomp profile that refuses it) get the same rule
from a walk: one ``openat(O_PATH | O_DIRECTORY | O_NOFOLLOW)`` per component. A symlink anywhere
on the path is refused with an error that names it and where it points.
"""

from __future__ import annotations

import ctypes
import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from aios.errors import ToolError

_SYS_OPENAT2 = 437  # the same number on every architecture aios runs on (x86_64, aarch64)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS

DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
"""A directory handle for walking through: needs search permission only, not read."""


class PathRefused(ToolError):
    """A path the file tools will not open: a symbolic link on it, ``..``, or the wrong kind of file."""


@attrs.frozen
class Target:
    """A tool's path, normalised: ``shown`` = ``base`` + ``/`` + ``rel``."""

    shown: str
    """The absolute path the policy judges and the person sees."""
    base: str
    """The directory it is opened beneath: the workspace, or ``/``."""
    rel: str


def locate(path: str, workspace: os.PathLike[str] | str) -> Target:
    """Normalise a tool's path by text (only the workspace itself is resolved, as configured).

    ``~`` is the daemon's home, a relative path starts in the workspace, ``.``, ``..`` and
    repeated slashes are folded. Folding ``..`` by text is exact here because nothing on the
    path is followed if it is a link: what is opened is what was judged.
    """
    p = os.path.expanduser(path)
    ws = posixpath.normpath(os.fspath(workspace))
    norm = posixpath.normpath(p if p.startswith("/") else posixpath.join(ws, p))
    if norm.startswith("//"):  # POSIX lets normpath keep two leading slashes
        norm = "/" + norm.lstrip("/")
    for base in (ws, os.path.realpath(ws)):
        if base != "/" and (norm == base or norm.startswith(base + "/")):
            return Target(norm, base, norm[len(base) + 1:])
    return Target(norm, "/", norm[1:])


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _openat2(dirfd: int, path: str, flags: int, mode: int) -> int:
    creates = bool(flags & os.O_CREAT) or (flags & os.O_TMPFILE) == os.O_TMPFILE
    how = _OpenHow(flags, mode if creates else 0, RESOLVE)  # openat2 refuses a mode it would not use
    fd = _syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_int(dirfd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def _probe() -> bool:
    """Whether this kernel (and any seccomp filter around us) lets openat2 through."""
    try:
        fd = _openat2(-100, "/", DIR_FLAGS, 0)  # AT_FDCWD; an absolute path is fine for a probe
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # RESOLVE_BENEATH refused the absolute path: it exists
            return True
        return False
    os.close(fd)
    return True


HAVE_OPENAT2 = _probe()


class Opener:
    """Opens paths beneath a directory descriptor, refusing symbolic links.

    Args:
        use_openat2: None (the default) uses openat2 when the kernel has it; False forces the
            component-by-component walk (tests run every attack against both).
    """

    def __init__(self, use_openat2: bool | None = None) -> None:
        self.openat2 = HAVE_OPENAT2 if use_openat2 is None else (use_openat2 and HAVE_OPENAT2)

    def open(self, root: int, rel: str, flags: int, mode: int = 0, *, base: str = "") -> int:
        """Open ``rel`` (relative, no ``..``) beneath the directory ``root``.

        Args:
            root: a directory descriptor; nothing outside it can be reached.
            rel: the path below it; "" or "." is ``root`` itself.
            flags: os.open flags; O_NOFOLLOW and O_CLOEXEC are always added.
            mode: the mode of a file O_CREAT makes.
            base: how ``root`` reads for a person (``/``, the workspace), for errors.

        Raises:
            PathRefused: a symlink (named in the message) or ``..`` on the path.
            OSError: the kernel's own answer (ENOENT, EACCES …).
        """
        comps = components(rel, base)
        flags |= os.O_CLOEXEC
        if not comps:
            return os.open(".", flags, mode, dir_fd=root)
        flags |= os.O_NOFOLLOW
        try:
            if self.openat2:
                return _openat2(root, "/".join(comps), flags, mode)
            return self._walk(root, comps, flags, mode)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV):
                raise
            link = find_symlink(root, comps)
            if link is not None:
                raise PathRefused(symlink_message(root, link, base)) from None
            shown = join(base, "/".join(comps))
            if exc.errno == errno.EXDEV:
                raise PathRefused(f"{shown}: the path leaves the directory it is opened beneath") from None
            if exc.errno == errno.ELOOP:
                raise PathRefused(f"{shown}: a symbolic link appeared on the path while it was opened; refused") from None
            raise

    def _walk(self, root: int, comps: list[str], flags: int, mode: int) -> int:
        fd = os.dup(root)
        try:
            for comp in comps[:-1]:
                nxt = os.open(comp, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nxt
            return os.open(comps[-1], flags, mode, dir_fd=fd)
        finally:
            os.close(fd)

    @contextmanager
    def parent(self, root: int, rel: str, *, base: str = "") -> Iterator[tuple[int, str]]:
        """The parent directory of ``rel`` as a descriptor, and the last component's name.

        The name is "" when ``rel`` is ``root`` itself. The descriptor is closed on exit.
        """
        comps = components(rel, base)
        fd = os.dup(root) if not comps else self.open(root, "/".join(comps[:-1]), DIR_FLAGS, base=base)
        try:
            yield fd, comps[-1] if comps else ""
        finally:
            os.close(fd)

    def walk_dirs(self, root: int, rel: str, *, base: str = "") -> Iterator[tuple[str, int]]:
        """Every directory from ``root`` down to the parent of ``rel``'s last component.

        Yields (path below root, descriptor); each descriptor is open only until the next step.
        """
        comps = components(rel, base)
        fd = os.dup(root)
        try:
            yield "", fd
            for i, comp in enumerate(comps[:-1]):
                nxt = self.open(fd, comp, DIR_FLAGS, base=join(base, "/".join(comps[:i])))
                os.close(fd)
                fd = nxt
                yield "/".join(comps[: i + 1]), fd
        finally:
            os.close(fd)


def join(base: str, rel: str) -> str:
    """``base/rel`` for messages ("/" + "etc" is "/etc", not "//etc")."""
    if not rel:
        return base or "."
    return f"{base.rstrip('/')}/{rel}" if base else rel


def components(rel: str, base: str = "") -> list[str]:
    """The names on a relative path; ``.`` and empty ones dropped, ``..`` refused."""
    comps = [c for c in rel.split("/") if c not in ("", ".")]
    if ".." in comps:
        # Callers normalise paths first; a ".." here means a caller skipped that step.
        raise PathRefused(f"{join(base, rel)}: '..' in a path is not followed by the file tools")
    return comps


def find_symlink(root: int, comps: list[str]) -> str | None:
    """The first prefix of ``comps`` below ``root`` that is a symbolic link (for messages only)."""
    for i in range(len(comps)):
        sub = "/".join(comps[: i + 1])
        try:
            st = os.stat(sub, dir_fd=root, follow_symlinks=False)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return sub
    return None


def symlink_message(root: int, link: str, base: str) -> str:
    """The refusal for a symbolic link at ``link`` below ``root``, naming where it points."""
    shown = join(base, link)
    try:
        target = os.readlink(link, dir_fd=root)
    except OSError:
        target = "?"
    points = target
    if target != "?" and not target.startswith("/") and shown.startswith("/"):
        # A hint for the model, folded by text: the real path is judged again when it is used.
        points = f"{target}, i.e. {posixpath.normpath(posixpath.join(posixpath.dirname(shown), target))}"
    return (f"{shown} is a symbolic link (to {points}); the file tools never follow symbolic links "
            "(one can be swapped while a path is in use): use the path it points to")


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def kind_refusal(st: os.stat_result, shown: str, pfd: int, leaf: str, parent_shown: str) -> PathRefused | None:
    """A refusal for anything but a regular file (None for one)."""
    if stat.S_ISLNK(st.st_mode):
        return PathRefused(symlink_message(pfd, leaf, parent_shown))
    if stat.S_ISDIR(st.st_mode):
        return PathRefused(f"{shown} is a directory: use the list tool")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the call, a device never end
        return PathRefused(f"{shown} is not a regular file (a FIFO, socket or device); use bash to inspect it")
    return None


def protected_hardlinks() -> bool:
    """Whether the kernel stops users from hard-linking files they could not read and write."""
    try:
        with open("/proc/sys/fs/protected_hardlinks") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def hardlink_refusal(st: os.stat_result, shown: str, *, protected: bool) -> str | None:
    """Why a multiply-linked file is not read, or None when it may be.

    Another name of the same file may be a secret the policy would refuse. With
    ``fs.protected_hardlinks = 1`` only someone who could already read and write the file (or
    owns it) can have made the extra name, so reading it through that name gives away nothing.
    Without that protection, such a file is refused. (Writes: see ``_write.linked_write_refusal``.)
    """
    if st.st_nlink > 1 and stat.S_ISREG(st.st_mode) and not protected:
        return (f"{shown} has {st.st_nlink} hard links and fs.protected_hardlinks is off: another name of "
                f"it may be a protected file, so the file tools do not read it")
    return None


OPENER = Opener()
"""The opener the tools use: openat2 when the kernel has it."""

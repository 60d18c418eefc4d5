"""Content-addressed file contents shared by every snapshot (``objects/ab/abcdef…``).

An object is written once, read-only, and never changed: a snapshot of an unchanged file costs
a manifest line, not a copy. Objects no manifest names are removed by :meth:`Objects.collect`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from aios.errors import RecoveryError

CHUNK = 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{64}")
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_sha(sha: object) -> str:
    """``sha`` if it is a sha256 in hex (64 lower-case hex digits), the only name an object has.

    Raises:
        RecoveryError: anything else (a manifest in a shared store is untrusted: ``../x`` would
            name a file outside the object store).
    """
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise RecoveryError(f"{str(sha)[:80]!r} is not an object name (a sha256 in hex)")
    return sha


HOLE = 64 * 1024
_ZEROS = bytes(HOLE)


def write_sparse(out: BinaryIO, chunk: bytes) -> int:
    """Write ``chunk``, leaving each all-zero 64 KiB block as a hole; returns the bytes written.

    A sparse file (a VM image, /var/log/lastlog) then costs in the store and after a restore
    what it costs where it lives, not its apparent size. The caller truncates at the end.
    """
    written = 0
    view = memoryview(chunk)
    for off in range(0, len(view), HOLE):
        block = view[off : off + HOLE]
        if block == _ZEROS[: len(block)]:
            out.seek(len(block), os.SEEK_CUR)
        else:
            out.write(block)
            written += len(block)
    return written


def hash_fd(fd: int) -> str:
    """The sha256 of what the open file ``fd`` holds, read from its start."""
    h = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, CHUNK, offset):
        h.update(chunk)
        offset += len(chunk)
    return h.hexdigest()


def copy_into(src_fd: int, out_fd: int) -> None:
    """Copy an object (the open file ``src_fd``, which this closes) into the open file
    ``out_fd``, keeping its holes (a plain copy would fill them)."""
    st = os.fstat(src_fd)
    with os.fdopen(src_fd, "rb") as f:
        if st.st_blocks * 512 >= st.st_size:  # no holes: the kernel's copy is fastest
            offset = 0
            while offset < st.st_size:
                sent = os.sendfile(out_fd, f.fileno(), offset, st.st_size - offset)
                if sent == 0:
                    break
                offset += sent
            return
        with os.fdopen(out_fd, "wb", closefd=False) as out:
            while chunk := f.read(CHUNK):
                write_sparse(out, chunk)
            out.truncate()  # the final hole, if any


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha: str) -> Path:
        check_sha(sha)
        return Path(f"{self.root}/{sha[:2]}/{sha}")

    def open(self, sha: str) -> int:
        """A read handle on object ``sha``, reached from a handle on the object directory without
        following any symlink; only a regular file is opened (a FIFO or device is never read).

        Raises:
            RecoveryError: ``sha`` is not a sha256, or the object is missing, a symlink or not a
                regular file.
        """
        check_sha(sha)
        try:
            top = os.open(self.root, _DIR)
        except OSError as exc:
            raise RecoveryError(f"the object store {self.root} cannot be opened ({exc.strerror})") from None
        try:
            sub = os.open(sha[:2], _DIR, dir_fd=top)
            try:
                fd = os.open(sha, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=sub)
            finally:
                os.close(sub)
        except OSError as exc:
            raise RecoveryError(f"object {sha} cannot be opened ({exc.strerror}): the store is damaged") from None
        finally:
            os.close(top)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RecoveryError(f"object {sha} is not a regular file: the store is damaged")
        return fd

    def has(self, sha: str) -> bool:
        return self.path(sha).exists()

    def _subdir(self, name: str) -> int:
        """A handle on ``objects/<name>`` (made when missing), neither it nor ``objects``
        followed if a symlink: the store may be shared, and a planted ``objects/tmp`` symlink
        must not make the daemon write elsewhere."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            top = os.open(self.root, _DIR)
        except OSError as exc:
            raise RecoveryError(f"the object store {self.root} is not a directory ({exc.strerror})") from None
        try:
            try:
                os.mkdir(name, 0o700, dir_fd=top)
            except FileExistsError:
                pass
            return os.open(name, _DIR, dir_fd=top)
        except OSError as exc:  # a symlink (ELOOP), or a file, planted in a shared store
            raise RecoveryError(f"{self.root}/{name} is not a directory ({exc.strerror}): the store is damaged") from None
        finally:
            os.close(top)

    def _place(self, tmp_fd: int, tmp: str, sha: str, written: int) -> tuple[str, int, int]:
        """Move the finished ``tmp`` (in the handle ``tmp_fd``) to object ``sha``."""
        sub = self._subdir(sha[:2])
        try:
            if os.path.lexists(f"/proc/self/fd/{sub}/{sha}"):
                return sha, 0, 0
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=tmp_fd)
            try:
                os.fchmod(fd, 0o400)
                disk = os.fstat(fd).st_blocks * 512
            finally:
                os.close(fd)
            os.replace(tmp, sha, src_dir_fd=tmp_fd, dst_dir_fd=sub)
            return sha, written, disk
        finally:
            os.close(sub)

    def put_file(self, src_fd: int) -> tuple[str, int, int]:
        """Store the content of the open regular file ``src_fd`` (read from its start, left
        open); returns its sha256, the bytes newly written and the disk space they take (both 0
        when the content was already stored)."""
        tmp_fd = self._subdir("tmp")
        h = hashlib.sha256()
        tmp = f"{os.getpid()}-{os.urandom(6).hex()}"
        size = 0
        try:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=tmp_fd)
            with os.fdopen(src_fd, "rb", closefd=False) as f, os.fdopen(out_fd, "wb") as out:
                f.seek(0)
                read = 0
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    read += len(chunk)
                    size += write_sparse(out, chunk)
                if size < read:
                    out.truncate()  # a file that ends in a hole still has its full length
            return self._place(tmp_fd, tmp, h.hexdigest(), size)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=tmp_fd)
            os.close(tmp_fd)

    def put_bytes(self, data: bytes) -> tuple[str, int, int]:
        """Store bytes (a manifest); returns their sha256, the bytes newly written and the disk
        space they take."""
        sha = hashlib.sha256(data).hexdigest()
        tmp_fd = self._subdir(sha[:2])
        tmp = f".{sha}.{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=tmp_fd)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return self._place(tmp_fd, tmp, sha, len(data))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=tmp_fd)
            os.close(tmp_fd)

    def get_bytes(self, sha: str) -> bytes:
        """Object ``sha``'s bytes, checked against its name.

        Raises:
            RecoveryError: as :meth:`open`, or the content does not hash to ``sha``.
        """
        with os.fdopen(self.open(sha), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise RecoveryError(f"object {sha} was changed in the store (its content no longer hashes to its name)")
        return data

    def collect(self, referenced: Iterable[str]) -> int:
        """Delete objects nobody references; returns the bytes freed."""
        keep = set(referenced)
        freed = 0
        if not self.root.exists():
            return 0
        for sub in self.root.iterdir():
            if not sub.is_dir() or sub.name == "tmp":
                continue
            for obj in sub.iterdir():
                if obj.name not in keep:
                    try:
                        freed += obj.stat().st_size
                        obj.unlink()
                    except FileNotFoundError:
                        pass
        tmp = self.root / "tmp"
        if tmp.exists():
            for leftover in tmp.iterdir():
                leftover.unlink(missing_ok=True)
        return freed

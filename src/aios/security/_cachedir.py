"""A directory of cache files that only this user can have written.

A cache file is input the next run trusts, so it is read only when nobody else can have put it
there: the directory is owned by this user and not writable by group or others, the file is a
regular file (not a link) owned by this user and not writable by group or others, and its
checksum holds. Anything else — missing, truncated, damaged, planted, foreign — reads as "no
entry", and the caller rebuilds. Files are written atomically (a private temporary file renamed
into place, mode 0600), so runs at the same time see the old entry or the new one.

Where it lives: ``security.cache_dir`` (its environment spelling ``AIOS_SECURITY__CACHE_DIR``),
else ``$XDG_CACHE_HOME/aios``, else ``~/.cache/aios``; an empty value turns caching off.
"""

from __future__ import annotations

import functools
import os
import stat
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

ENV = "AIOS_SECURITY__CACHE_DIR"
"""The environment spelling of ``security.cache_dir`` (read before the config is)."""
MAX_BYTES = 32 * 1024 * 1024
"""A cache file larger than this is not read (the rules take about 0.2 MB)."""
KEEP = {"regex": 128}
"""Entries kept per kind (16 when not named); the oldest go when a new one is written. Compiled
regexes are many and small (the judge's own patterns), the rest few per config and workspace."""
_CHECK = 12

if TYPE_CHECKING:
    from hashlib import sha256 as sha256
else:
    try:
        from _sha256 import sha256  # hashlib loads OpenSSL: ~6 ms of a command that aims at a few
    except ImportError:  # pragma: no cover - a Python without the built-in module
        from hashlib import sha256


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the cache lives before the config is read: ``$AIOS_SECURITY__CACHE_DIR``, else
    ``$XDG_CACHE_HOME/aios``, else ``~/.cache/aios``; None when the variable is set empty (off)."""
    env = os.environ if environ is None else environ
    if ENV in env:
        value = env[ENV]
        return Path(os.path.expanduser(value)) if value else None
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(base) / "aios"


def source_stamp(*dirs: Path) -> str:
    """Name, size and modification time of every ``.py`` file in ``dirs``: a change to the code
    that reads or holds the rules makes older entries unreachable."""
    parts = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.endswith(".py") or e.name.endswith(".toml"):
                        st = e.stat()
                        parts.append(f"{d}/{e.name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{d}:?")
    return "\n".join(sorted(parts))


@functools.cache
def package_stamp() -> str:
    """:func:`source_stamp` of this package, taken once per process: the code in memory is the
    code of that moment, whatever happens to the files later."""
    return source_stamp(Path(__file__).parent)


def digest(data: bytes) -> str:
    """The sha256 of ``data`` in hex (what cache keys and stored inputs are made of)."""
    return sha256(data).hexdigest()


def configured_cache_dir(value: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache directory for the config value ``security.cache_dir`` (None: the default place;
    "": off)."""
    if value is None:
        return default_cache_dir(environ)
    return Path(os.path.expanduser(value)) if value else None


class CacheDir:
    """Cache files of one kind (``rules-…``, ``settings-…``) in a private directory.

    Args:
        path: the directory; created (mode 0700) on the first write when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, kind: str, key: str) -> bytes | None:
        """The payload stored under ``key``, or None when there is none this user can trust."""
        try:
            dfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (OSError, ValueError):
            return None
        try:
            if not _private(os.fstat(dfd), directory=True):
                return None
            try:
                fd = os.open(_name(kind, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
            except OSError:
                return None
            try:
                st = os.fstat(fd)
                if not _private(st, directory=False) or st.st_size > MAX_BYTES:
                    return None
                with os.fdopen(fd, "rb", closefd=False) as f:
                    blob = f.read(MAX_BYTES + 1)
            finally:
                os.close(fd)
        except OSError:
            return None
        finally:
            os.close(dfd)
        head, body = blob[: len(key) + 1 + _CHECK], blob[len(key) + 1 + _CHECK :]
        if head != key.encode() + b"\n" + _check(body):
            return None  # truncated, damaged, or stored under another key
        return body

    def write(self, kind: str, key: str, payload: bytes, *, create: bool = True) -> bool:
        """Store ``payload`` under ``key`` (atomically, mode 0600); False when the directory is
        not private to this user or cannot be written (the cache is then simply not used), or
        is missing and ``create`` is false."""
        name = _name(kind, key)
        tmp = f".{name}.{os.getpid()}.tmp"
        try:
            if create:
                self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            dfd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (OSError, ValueError):
            return False
        try:
            if not _private(os.fstat(dfd), directory=True):
                return False
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
            try:
                with os.fdopen(fd, "wb", closefd=False) as f:
                    f.write(key.encode() + b"\n" + _check(payload) + payload)
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            self._prune(dfd, kind)
            return True
        except OSError:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            return False
        finally:
            os.close(dfd)

    def _prune(self, dfd: int, kind: str) -> None:
        """Keep the newest entries of ``kind`` (:data:`KEEP`)."""
        entries = []
        with os.scandir(dfd) as it:
            for e in it:
                if e.name.startswith(kind + "-") and e.name.endswith(".cache"):
                    try:
                        entries.append((e.stat(follow_symlinks=False).st_mtime_ns, e.name))
                    except OSError:
                        continue
        for _, name in sorted(entries)[: -KEEP.get(kind, 16)]:
            try:
                os.unlink(name, dir_fd=dfd)
            except OSError:
                pass


def _check(body: bytes) -> bytes:
    """Length and CRC-32 of a payload: catches a truncated or damaged file. (Who can have written
    it is settled by owner and mode, not by this check; a CRC costs a tenth of a sha256.)"""
    return len(body).to_bytes(8, "big") + zlib.crc32(body).to_bytes(4, "big")


def _name(kind: str, key: str) -> str:
    return f"{kind}-{key[:32]}.cache"


def _private(st: os.stat_result, *, directory: bool) -> bool:
    """Owned by this user, not writable by group or others, and of the expected type."""
    kind_ok = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    return kind_ok and st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)

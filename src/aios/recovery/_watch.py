"""A change watch over the snapshotted trees (inotify), so an unchanged tree skips its stat scan.

Stat-ing every file is the whole cost of an unchanged snapshot (about 2.5 µs a file even in C on
these machines). A long-lived store arms an inotify watch on every directory it scans — before
listing it, so a change is either seen by the scan or reported afterwards — and on each root and
each multiply-linked file. When the next snapshot of the same roots finds no event queued, the
tree is the one the previous manifest describes, and that manifest is reused as it is.

Any event at all, a queue overflow, a root that does not exist or a watch that cannot be added
(``fs.inotify.max_user_watches``, or more than :data:`MAX_WATCHES` directories) means "changed": the next snapshot scans everything. inotify
does not report writes through a shared writable ``mmap``; to bound how long such a change can go
unseen, a full scan runs anyway when the last one is older than :data:`FULL_SCAN_AFTER`.
"""

from __future__ import annotations

import ctypes
import os
import time

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_DONT_FOLLOW = 0x02000000
MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
) | IN_DONT_FOLLOW

MAX_WATCHES = 8192
"""Beyond this many directories the watch gives up (each costs the kernel about 1 KiB)."""

FULL_SCAN_AFTER = 6 * 3600.0
"""Seconds after which a snapshot scans everything even when no event came (mmap writes)."""

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.inotify_init1.argtypes = [ctypes.c_int]
            _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        except (OSError, AttributeError):
            return None
    return _libc


class ChangeWatch:
    """Says whether anything under the last fully scanned roots may have changed since that scan."""

    def __init__(self) -> None:
        self._fd = -1
        self._ok = False
        self._count = 0
        self._armed_for: object = None
        self._scan_started = 0.0

    def begin(self) -> None:
        """Start a full scan: forget the old watches, open a fresh inotify instance."""
        self.close()
        self._scan_started = time.monotonic()
        lib = _lib()
        if lib is None:
            return
        fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd >= 0:
            self._fd, self._ok, self._count = fd, True, 0

    def add(self, path: str) -> None:
        """Watch ``path`` (called before the scan lists or stats it). A failure disarms the watch."""
        if not self._ok:
            return
        self._count += 1
        lib = _lib()
        if self._count > MAX_WATCHES or lib is None or lib.inotify_add_watch(self._fd, os.fsencode(path), MASK) < 0:
            self.close()

    def commit(self, key: object) -> None:
        """The full scan of ``key`` (roots and resulting manifest) finished and was stored."""
        self._armed_for = key if self._ok else None

    def unchanged(self, key: object) -> bool:
        """True when ``key`` was the last full scan, it is recent, and no event came since."""
        if not self._ok or self._armed_for is None or self._armed_for != key:
            return False
        if time.monotonic() - self._scan_started > FULL_SCAN_AFTER:
            return False
        try:
            pending = os.read(self._fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            pending = b"error"
        if pending:
            self._armed_for = None  # stays "changed" until the next full scan re-arms it
        return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._ok, self._armed_for = -1, False, None

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass

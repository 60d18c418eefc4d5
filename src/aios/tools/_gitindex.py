"""Whether a workspace repository's index flags files for git not to look at, read by the daemon.

``git status``/``diff`` skip tracked files flagged ``assume-unchanged`` (the entry's assume-valid
bit) or ``skip-worktree`` (an extended flag), so a jailed command that sets a flag and rewrites
the file gets them reported clean. The git tool clears the flags in a copy of the index when there
are any (a shell pipeline in the jail, a few milliseconds); this reads the index to skip that when
there are none, which is nearly always. The index is hostile input: it is opened without following
links beneath a ``.git`` that must be a plain directory, its size is bounded, and anything this
does not fully understand answers "cannot tell" (the caller then takes the careful path).
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from pathlib import Path

MAX_INDEX = 64 * 1024 * 1024
ASSUME_VALID = 0x8000
EXTENDED = 0x4000
NAME_MASK = 0x0FFF
FIXED = 62
"""Bytes of a version 2 entry before its name (times, ids, mode, sizes, a SHA-1, flags)."""


def _read_index(repo: Path) -> bytes | None:
    """The bytes of ``repo/.git/index`` (b"" when there is none), or None when it cannot be read
    safely (``.git`` a file or a link, the index a link or too large)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        top = os.open(repo, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        try:
            gitdir = os.open(".git", flags | os.O_DIRECTORY, dir_fd=top)
        except OSError:
            return None  # a .git file, a link, a subdirectory of a repository: cannot tell here
        try:
            try:
                fd = os.open("index", flags | os.O_NONBLOCK, dir_fd=gitdir)
            except FileNotFoundError:
                return b""
            except OSError:
                return None
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INDEX:
                    return None
                return f.read(MAX_INDEX + 1)
        finally:
            os.close(gitdir)
    finally:
        os.close(top)


def flagged(repo: Path) -> bool | None:
    """True when some entry of the index is flagged assume-unchanged or skip-worktree, False when
    none is, None when this cannot tell (treat as True)."""
    data = _read_index(repo)
    if data is None:
        return None
    if not data:
        return False
    with contextlib.suppress(struct.error, ValueError, IndexError):
        sig, version, count = struct.unpack_from(">4sII", data, 0)
        if sig != b"DIRC":
            return None
        if version != 2:
            # version 3 exists only when some entry has extended flags (skip-worktree or
            # intent-to-add); version 4 compresses names. Let git answer.
            return None
        pos, end = 12, len(data) - 20  # the index ends with a SHA-1 of what precedes it
        for _ in range(count):
            if pos + FIXED > end:
                return None
            high = data[pos + FIXED - 2]  # the entry's 16-bit flags, big-endian: byte by byte
            if high & (ASSUME_VALID >> 8):
                return True
            if high & (EXTENDED >> 8):
                return None  # not allowed in version 2
            length = ((high << 8) | data[pos + FIXED - 1]) & NAME_MASK
            if length == NAME_MASK:
                length = data.index(b"\0", pos + FIXED) - pos - FIXED
            pos += (FIXED + length + 8) & ~7
        return None if pos > end else False
    return None

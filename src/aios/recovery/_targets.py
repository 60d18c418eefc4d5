"""What a pre-exec snapshot holds (the paths the command will change, as the policy tells
them), and what a restore of a snapshot writes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from aios.errors import RecoveryError

from ._info import SnapshotInfo
from ._safepath import real_root

# Kernel interfaces, not files: nothing there can be snapshotted or put back.
_PSEUDO = ("/proc", "/sys", "/dev")


def snapshot_roots(targets: Iterable[object]) -> list[Path]:
    """The roots a snapshot needs so that restoring it undoes writes to ``targets``.

    Each target is taken at its real location (parents' symlinks resolved); a target that is a
    symlink is held together with its final target. A target that does
    not exist yet is replaced by its highest missing ancestor, which the snapshot then records
    as absent, so that undo removes whatever the command created there (``mkdir -p /opt/a/b``
    is undone by removing ``/opt/a``). Paths inside others are dropped; ``/`` and kernel
    interfaces (/proc, /sys, /dev) are left out. Empty when nothing usable remains: the caller
    falls back to ``recovery.paths``.
    """
    found: set[str] = set()
    for t in targets:
        if not isinstance(t, str) or not t.startswith("/") or "\0" in t:
            continue
        p = real_root(os.path.normpath(t))
        # A write through a symlink (`echo x > link`, `rm -rf link/`) lands on its target: the
        # link is held, and so is where it leads (a chain of links resolved to its end).
        for q in {p, os.path.realpath(p)} if os.path.islink(p) else {p}:
            if q == "/" or any(q == x or q.startswith(x + "/") for x in _PSEUDO):
                continue
            parent = os.path.dirname(q)
            while parent != "/" and not os.path.lexists(parent):
                q, parent = parent, os.path.dirname(parent)
            found.add(q)
    kept: list[str] = []
    for p in sorted(found):  # a parent sorts before everything inside it
        if not any(p.startswith(k + "/") for k in kept):
            kept.append(p)
    return [Path(p) for p in kept]


def restore_tops(
    info: SnapshotInfo, paths: Sequence[Path] | None, memory_db: Path | None
) -> tuple[list[str], list[str], bool]:
    """What a restore of ``info`` puts back: (paths to put back, paths left alone because they
    were unreadable, memory wanted).

    A requested path is taken at its real place and must lie in one of the snapshot's paths;
    errors name the path as it was requested, never where the daemon resolved it to.

    Raises:
        RecoveryError: a requested path is not in the snapshot, or was not readable when it
            was taken; or the snapshot's own paths are not absolute and normalized.
    """
    tops: list[str] = []
    unread: list[str] = []
    want_memory = False
    bad = [x for x in info.paths if not isinstance(x, str) or x != os.path.normpath(x) or not x.startswith("/")]
    if bad:  # metadata.json may come from a shared store: its paths are checked like the manifest's
        raise RecoveryError(f"snapshot {info.id} is damaged: its paths are not absolute and normalized ({str(bad)[:200]})")
    for p in paths or [Path(x) for x in info.paths]:
        if memory_db is not None and os.path.abspath(p) == os.path.abspath(memory_db):
            if not info.memory:
                raise RecoveryError(f"snapshot {info.id} holds no memory database copy")
            want_memory = True
            continue
        # A requested path is taken at its real place; the snapshot's own paths are real
        # already (resolving them again would follow a symlink planted since).
        ap = real_root(p) if paths else os.path.abspath(p)
        if not any(ap == r or ap.startswith(r.rstrip("/") + "/") for r in info.paths):
            raise RecoveryError(f"{p} is not in snapshot {info.id} (it holds {', '.join(info.paths)})")
        if any(ap == s or ap.startswith(s.rstrip("/") + "/") for s in info.skipped):
            if paths:
                raise RecoveryError(f"{p} could not be read when snapshot {info.id} was taken; it holds no copy of it")
            unread.append(ap)  # left as it is, and reported
            continue
        tops.append(ap)
    return tops, unread, want_memory

"""What a pre-exec snapshot holds: the paths the command will change, as the policy tells them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ._safepath import real_root

# Kernel interfaces, not files: nothing there can be snapshotted or put back.
_PSEUDO = ("/proc", "/sys", "/dev")


def snapshot_roots(targets: Iterable[object]) -> list[Path]:
    """The roots a snapshot needs so that restoring it undoes writes to ``targets``.

    Each target is taken at its real location (parents' symlinks resolved). A target that does
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
        if p == "/" or any(p == x or p.startswith(x + "/") for x in _PSEUDO):
            continue
        parent = os.path.dirname(p)
        while parent != "/" and not os.path.lexists(parent):
            p, parent = parent, os.path.dirname(parent)
        found.add(p)
    kept: list[str] = []
    for p in sorted(found):  # a parent sorts before everything inside it
        if not any(p.startswith(k + "/") for k in kept):
            kept.append(p)
    return [Path(p) for p in kept]

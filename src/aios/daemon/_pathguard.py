"""Belt and braces for the isolated start: no import path others can write, no ``PYTHON*``.

Every launcher starts the daemon with ``python -I`` in ``/`` (see :mod:`aios.client._spawn`).
A daemon started some other way (``aios-runtime`` by hand, an old unit file) still must not
import code from a directory another user can write: at start it drops such ``sys.path``
entries, leaves the caller's directory, and removes ``PYTHON*`` variables so that the processes
it starts (the model server, host-profile commands) do not inherit them.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


def unsafe_reason(entry: str, *, euid: int | None = None, egid: int | None = None) -> str | None:
    """Why ``entry`` (a ``sys.path`` item) is a place others could plant code, or None.

    Unsafe: the current directory (``''`` or any relative entry); a path (or one of its parent
    directories) owned by a user other than root and the daemon's; writable by everybody
    (a sticky parent such as /tmp is fine: others cannot rename what is in it); group-writable by
    a group other than root's and the daemon's. A path that does not exist yet is judged by
    the directories that would hold it.
    """
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    if not entry or not os.path.isabs(entry):
        return "the current directory"
    path = Path(os.path.abspath(entry))
    first = True
    for p in (path, *path.parents):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"cannot be checked ({exc.strerror})"
        if stat.S_ISLNK(st.st_mode):
            # The link itself cannot be changed by others unless its directory can (checked
            # next); its target is judged too.
            target = os.path.realpath(p)
            if target != str(p):
                why = unsafe_reason(target, euid=euid, egid=egid)
                if why is not None:
                    return f"{p} points to {target}, which is {why}"
            first = False
            continue
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid not in (0, euid):
            return f"{p} is owned by uid {st.st_uid}"
        sticky_dir = stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX and not first
        if mode & stat.S_IWOTH and not sticky_dir:
            return f"{p} is writable by everybody"
        if mode & stat.S_IWGRP and st.st_gid not in (0, egid) and not sticky_dir:
            return f"{p} is writable by group {st.st_gid}"
        first = False
    return None


def clean_sys_path() -> list[tuple[str, str]]:
    """Remove unsafe entries from ``sys.path``; return (entry, reason) for each one removed."""
    removed: list[tuple[str, str]] = []
    kept: list[str] = []
    for entry in sys.path:
        why = unsafe_reason(entry)
        if why is None:
            kept.append(entry)
        else:
            removed.append((entry, why))
    sys.path[:] = kept
    return removed


def clean_environment() -> list[str]:
    """Drop ``PYTHON*`` variables from this process's environment; return their names."""
    names = sorted(k for k in os.environ if k.startswith("PYTHON"))
    for name in names:
        del os.environ[name]
    return names

"""The restore journal: what an interrupted restore left, and what start-up may do about it.

Each origin (daemon) journals its own restores in its own file in the store
(``.restore-journal-<hash of origin>``): first ``{"restore": id, "origin": …, "paths": […],
"pid": …}``,
then ``{"dir": …}`` for each directory before anything is staged in it. The store may be
shared and written by others, so a journal is evidence, not an order: start-up finishes a
restore only when the record names this origin and one of its own sealed snapshots, with
paths inside that snapshot's paths, and removes staged entries only in directories at, under
or just above those paths, and only names of the form a restore makes
(``.aios-restore-<pid>-<n>``, with the pid the record names).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._safepath import remove_stages

log = logging.getLogger("aios.recovery")


def journal_path(root: Path, origin: str) -> Path:
    """The journal file of ``origin``'s restores in the store ``root``."""
    return root / f".restore-journal-{hashlib.sha256(origin.encode()).hexdigest()[:16]}"


def _normal(p: object) -> bool:
    return isinstance(p, str) and p.startswith("/") and p != "/" and all(x not in ("", ".", "..") for x in p[1:].split("/"))


def _inside(p: str, roots: list[str]) -> bool:
    return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)


def read_journal(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """(the restore record, the directories journaled after it) of a journal's text; lines
    that are not JSON objects (a line cut short by the crash) are left out."""
    record: dict[str, Any] | None = None
    dirs: list[str] = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if record is None and "restore" in item:
            record = item
        elif record is not None and isinstance(item.get("dir"), str):
            dirs.append(item["dir"])
    return record, dirs


def recover(
    text: str, origin: str, snapshot_paths: Callable[[str], list[str] | None]
) -> tuple[str, list[str]] | None:
    """Remove what the interrupted restore journaled in ``text`` staged, and return (snapshot
    id, paths) to restore again; None when the journal is not this origin's to act on.

    Args:
        text: the journal's contents.
        origin: this store's origin.
        snapshot_paths: a snapshot id -> its paths when it is one this origin took and sealed,
            else None.
    """
    record, dirs = read_journal(text)
    if record is None:
        if text.strip():
            log.warning("restore journal without a restore record ignored")
        return None
    sid, paths = record.get("restore"), record.get("paths")
    if record.get("origin") != origin or not isinstance(sid, str):
        log.warning("restore journal of origin %r ignored (this is %r)", record.get("origin"), origin)
        return None
    own = snapshot_paths(sid)
    if own is None:
        log.warning("restore journal names snapshot %s, which this daemon did not take and seal: ignored", sid)
        return None
    pid = record.get("pid")
    if type(pid) is not int or pid <= 0:
        log.warning("restore journal of snapshot %s names no process: ignored", sid)
        return None
    if not isinstance(paths, list) or not paths or not all(_normal(p) and _inside(p, own) for p in paths):
        log.warning("restore journal of snapshot %s names no paths or paths outside it (%s): ignored", sid, str(paths)[:200])
        return None
    # Stages go in the directory being restored, below it, or (for a restored path that is
    # not a directory kept in place) in its parent.
    allowed = [*paths, *(os.path.dirname(p) for p in paths)]
    for d in dirs:
        if _normal(d) and (_inside(d, paths) or d in allowed):
            remove_stages(d, pid)
        else:
            log.warning("restore journal names %s, outside the restored paths: left alone", d[:200])
    return sid, [str(p) for p in paths]

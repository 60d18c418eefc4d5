"""What the red-team tests of the snapshot store share: a tree beside a neighbour it
must never touch, and rewriting a snapshot's manifest as anyone who can write a shared store can."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from aios.recovery import SnapshotStore
from aios.recovery._manifest import Entry, dumps


def make(base: Path) -> tuple[Path, Path]:
    """``base/area/tree`` (the snapshot's path) and ``base/area/neighbour`` (outside it)."""
    t = base / "area" / "tree"
    (t / "sub").mkdir(parents=True)
    (t / "a.conf").write_text("original\n")
    (t / "sub" / "b.conf").write_text("sub original\n")
    n = base / "area" / "neighbour"
    n.mkdir()
    (n / "precious").write_text("not yours\n")
    return t, n


def rewrite_manifest(store: SnapshotStore, sid: str, entries: list[Entry]) -> None:
    """What anyone who can write a shared store can do: a new manifest object for a snapshot."""
    sha, _, _ = store.objects.put_bytes(zlib.compress(dumps(entries), 1))
    mf = store.root / sid / "metadata.json"
    meta = json.loads(mf.read_text())
    meta["manifest"] = sha
    mf.write_text(json.dumps(meta))



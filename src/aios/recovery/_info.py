"""What the store reports: one snapshot's metadata, and what a restore did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from ._manifest import Change


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

@attrs.frozen
class SnapshotInfo:
    """One snapshot's metadata (``aios snapshots --json`` prints these)."""

    id: str
    created_at: float
    trigger: str
    description: str
    size_bytes: int
    """Bytes this snapshot added to the store (new contents, manifest, memory copy), counted
    as file lengths (holes left out); what it meant before ``disk_bytes`` existed."""
    origin: str
    paths: list[str]
    files: int
    logical_bytes: int
    """Total size of the files it captured."""
    memory: bool
    packages: int | None
    link: dict[str, Any] | None
    skipped: list[str]
    disk_bytes: int | None = None
    """Disk space this snapshot added: the blocks of its new objects and manifest, and of its
    own directory (metadata.json, memory.db copy, packages.txt). None for snapshots taken
    before it was measured."""
    absent: list[str] = attrs.field(factory=list)
    """Paths that did not exist when it was taken (a restore removes them)."""
    excluded: list[str] = attrs.field(factory=list)
    """The store and the live memory database, where they lie inside its paths: never captured
    as files, and left alone by a restore."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "trigger": self.trigger,
            "description": self.description,
            "size_bytes": self.size_bytes,
            "disk_bytes": self.disk_bytes,
            "origin": self.origin,
            "paths": self.paths,
            "files": self.files,
            "logical_bytes": self.logical_bytes,
            "memory": self.memory,
            "packages": self.packages,
            "link": self.link,
            "skipped": self.skipped[:50],
            "absent": self.absent,
            "excluded": self.excluded,
        }

def info_of(meta: dict[str, Any]) -> SnapshotInfo:
    """A snapshot's metadata.json as a :class:`SnapshotInfo`."""
    return SnapshotInfo(
        id=meta["id"], created_at=meta["created_at"], trigger=meta["trigger"], description=meta.get("description", ""),
        size_bytes=meta.get("size_bytes", 0), origin=meta.get("origin", ""), paths=meta.get("paths", []),
        files=meta.get("files", 0), logical_bytes=meta.get("logical_bytes", 0), memory=meta.get("memory", False),
        packages=meta.get("packages"), link=meta.get("link"), skipped=meta.get("skipped", []),
        disk_bytes=meta.get("disk_bytes"), absent=meta.get("absent", []), excluded=meta.get("excluded", []),
    )


@attrs.frozen
class RestoreReport:
    id: str
    dry_run: bool
    changes: list[Change]
    restored: list[dict[str, str]]
    skipped: list[str]
    disk_bytes: int | None = None
    """Disk space this snapshot added: the blocks of its new objects and manifest, and of its
    own directory (metadata.json, memory.db copy, packages.txt). None for snapshots taken
    before it was measured."""
    absent: list[str] = attrs.field(factory=list)
    """Paths that did not exist when it was taken (a restore removes them)."""
    excluded: list[str] = attrs.field(factory=list)
    """The store and the live memory database, where they lie inside its paths: never captured
    as files, and left alone by a restore."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dry_run": self.dry_run,
            "changes": [c.to_json() for c in self.changes],
            "restored": self.restored,
            "skipped": self.skipped,
        }

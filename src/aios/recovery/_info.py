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
    """Bytes this snapshot added to the store (new contents, manifest, memory copy)."""
    origin: str
    paths: list[str]
    files: int
    logical_bytes: int
    """Total size of the files it captured."""
    memory: bool
    packages: int | None
    link: dict[str, Any] | None
    skipped: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "trigger": self.trigger,
            "description": self.description,
            "size_bytes": self.size_bytes,
            "origin": self.origin,
            "paths": self.paths,
            "files": self.files,
            "logical_bytes": self.logical_bytes,
            "memory": self.memory,
            "packages": self.packages,
            "link": self.link,
            "skipped": self.skipped[:50],
        }

@attrs.frozen
class RestoreReport:
    id: str
    dry_run: bool
    changes: list[Change]
    restored: list[dict[str, str]]
    skipped: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dry_run": self.dry_run,
            "changes": [c.to_json() for c in self.changes],
            "restored": self.restored,
            "skipped": self.skipped,
        }

"""Recovery: snapshots of configured paths and of memory, retention, diff and atomic restore."""

from ._manifest import Change
from ._store import RestoreReport, SnapshotInfo, SnapshotStore, default_paths, installed_packages

__all__ = ["Change", "RestoreReport", "SnapshotInfo", "SnapshotStore", "default_paths", "installed_packages"]

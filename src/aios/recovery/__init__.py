"""Recovery: snapshots of configured paths and of memory, retention, diff and atomic restore."""

from ._info import RestoreReport, SnapshotInfo
from ._manifest import Change
from ._store import SnapshotStore, default_paths, installed_packages

__all__ = ["Change", "RestoreReport", "SnapshotInfo", "SnapshotStore", "default_paths", "installed_packages"]

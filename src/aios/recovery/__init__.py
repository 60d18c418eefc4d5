"""Recovery: snapshots of configured paths and of memory, retention, diff and atomic restore."""

from ._extras import installed_packages
from ._info import RestoreReport, SnapshotInfo
from ._manifest import Change
from ._safepath import real_root
from ._store import SnapshotStore, default_paths
from ._targets import snapshot_roots

__all__ = [
    "Change",
    "RestoreReport",
    "SnapshotInfo",
    "SnapshotStore",
    "default_paths",
    "installed_packages",
    "real_root",
    "snapshot_roots",
]

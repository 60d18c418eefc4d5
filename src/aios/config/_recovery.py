"""``[recovery]`` config section (owned by aios.recovery)."""

from __future__ import annotations

from attrs import field, frozen, validators

from ._types import Seconds


@frozen
class RecoveryConfig:
    """``[recovery]``: snapshots and rollback."""

    enabled: bool = True
    paths: list[str] | None = None
    """Paths captured by a snapshot; None: the aios config dir, plus /etc for a root daemon."""
    max_snapshots: int = field(default=24, validator=validators.ge(1))
    """Hourly snapshots kept. Manual snapshots never expire."""
    max_pre_exec: int = field(default=50, validator=validators.ge(1))
    """pre-exec (and pre-restore) snapshots kept."""
    interval: Seconds = field(default=Seconds(3600.0))
    """Scheduler interval for automatic snapshots ("hourly", "30m"); 0 turns them off."""
    auto_rollback: bool = False
    """Restore the pre-exec snapshot when a snapshot-wrapped command fails."""
    packages: bool = True
    """Record the installed package list in each snapshot's metadata."""

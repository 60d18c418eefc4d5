"""Periodic work: memory cleanup, automatic snapshots and their retention, audit cleanup.

Each job runs on its own interval, read from the services in force: a reload that changes an
interval takes effect at once (the next run is due one new interval after the last run). A
failing job is logged and retried at its next tick, it never stops the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from ._methods_audit import prune_job
from ._methods_snapshot import hourly_job, snapshot_memory_ids
from ._services import Services, ServicesSlot

log = logging.getLogger("aios.daemon")

Job = Callable[[Services], Awaitable[object]]
Interval = Callable[[Services], float | None]
"""A job's interval under a config, or None when the config turns the job off."""


async def cleanup_memory(services: Services) -> object:
    keep = await snapshot_memory_ids(services)
    deleted = await services.memory.cleanup(services.config.memory.retention, keep_ids=keep)
    if any(deleted.values()):
        log.info("memory cleanup deleted %s", deleted)
    return deleted


def _cleanup_interval(services: Services) -> float | None:
    interval = float(services.config.memory.cleanup_interval)
    return interval if interval > 0 else None


def _snapshot_interval(services: Services) -> float | None:
    cfg = services.config.recovery
    return float(cfg.interval) if cfg.enabled and float(cfg.interval) > 0 else None


JOBS: tuple[tuple[str, Interval, Job], ...] = (
    ("memory cleanup", _cleanup_interval, cleanup_memory),
    ("snapshots", _snapshot_interval, hourly_job),
    ("audit cleanup", _cleanup_interval, prune_job),
)


async def _every(slot: ServicesSlot, name: str, interval_of: Interval, job: Job) -> None:
    last = trio.current_time()
    while True:
        swapped = slot.swapped
        interval = interval_of(slot.current)
        if interval is None:
            await swapped.wait()
            continue
        with trio.move_on_at(last + interval) as waiting:
            await swapped.wait()
        if not waiting.cancelled_caught:
            continue  # a reload: the interval may have changed, the last run has not
        last = trio.current_time()
        try:
            # A running job is never cut short by a reload; it finishes with the services it began with.
            await job(slot.current)
        except Exception:
            log.exception("scheduled job %r failed; retrying in %.0f s", name, interval)


async def run_scheduler(slot: ServicesSlot) -> None:
    """Run every job on its interval until cancelled."""
    async with trio.open_nursery() as nursery:
        for name, interval_of, job in JOBS:
            nursery.start_soon(_every, slot, name, interval_of, job)

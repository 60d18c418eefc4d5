"""Periodic work: memory cleanup, automatic snapshots and their retention.

Each job runs on its own interval; a failing job is logged and retried at its next tick, it
never stops the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from ._app import Daemon

log = logging.getLogger("aios.daemon")

Job = Callable[["Daemon"], Awaitable[object]]


async def cleanup_memory(daemon: Daemon) -> object:
    keep = await daemon_snapshot_ids(daemon)
    deleted = await daemon.memory.cleanup(daemon.config.memory.retention, keep_ids=keep)
    if any(deleted.values()):
        log.info("memory cleanup deleted %s", deleted)
    return deleted


async def daemon_snapshot_ids(daemon: Daemon) -> set[str]:
    """Ids of Snapshot memories whose snapshot still exists (cleanup never touches them)."""
    hook = daemon.extensions.get("snapshot_memory_ids")
    if hook is None:
        return set()
    ids: set[str] = await hook()
    return ids


def jobs(daemon: Daemon) -> list[tuple[str, float, Job]]:
    """(name, interval seconds, job) for every periodic job the config turns on."""
    out: list[tuple[str, float, Job]] = []
    interval = float(daemon.config.memory.cleanup_interval)
    if interval > 0:
        out.append(("memory cleanup", interval, cleanup_memory))
    out.extend(daemon.extensions.get("scheduled_jobs", []))
    return out


async def _every(daemon: Daemon, name: str, interval: float, job: Job) -> None:
    while True:
        await trio.sleep(interval)
        try:
            await job(daemon)
        except Exception:
            log.exception("scheduled job %r failed; retrying in %.0f s", name, interval)


async def run_scheduler(daemon: Daemon) -> None:
    """Run every job on its interval until cancelled."""
    async with trio.open_nursery() as nursery:
        for name, interval, job in jobs(daemon):
            nursery.start_soon(_every, daemon, name, interval, job)

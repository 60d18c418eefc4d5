"""Snapshot methods: snapshot.create|list|show|diff|restore|delete, and the hourly job."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import attrs
import trio

from aios.errors import InvalidParams, RecoveryError
from aios.memory import MemoryType
from aios.recovery import SnapshotInfo, default_paths, real_root, snapshot_roots

from ._registry import Registry, RequestContext
from ._services import Services

log = logging.getLogger("aios.daemon")

# Snapshot work is file I/O in threads; one at a time per daemon keeps the disk sane.
_LIMIT = trio.CapacityLimiter(1)


def configured_paths(services: Services) -> list[Path]:
    cfg = services.config.recovery
    if cfg.paths is not None:
        return [Path(os.path.expanduser(p)) for p in cfg.paths]
    return list(default_paths(services.loaded.paths, os.geteuid()))


class _Progress:
    """Forwards progress callbacks (called in a worker thread) as notifications."""

    def __init__(self, ctx: RequestContext | None, what: str) -> None:
        self.ctx = ctx
        self.what = what
        self.last = -1.0
        self.token = trio.lowlevel.current_trio_token()

    def __call__(self, done: int, total: int, current: str) -> None:
        if self.ctx is None:
            return
        pct = (100.0 * done / total) if total else 100.0
        if pct - self.last < 2 and done != total:
            return
        self.last = pct
        params = {"what": self.what, "done": done, "total": total, "current": current}
        try:
            trio.from_thread.run(self.ctx.notify, "progress", params, trio_token=self.token)
        except trio.RunFinishedError:
            pass


async def take_snapshot(
    services: Services,
    *,
    trigger: str,
    description: str = "",
    paths: list[Path] | None = None,
    ctx: RequestContext | None = None,
    link: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Take a snapshot in a worker thread, record it in memory, and return its JSON."""
    cfg = services.config.recovery
    targets = paths if paths is not None else configured_paths(services)
    fn = functools.partial(
        services.snapshots.create,
        targets,
        trigger=trigger,
        description=description,
        memory_db=services.loaded.paths.memory_db,
        packages=cfg.packages,
        progress=_Progress(ctx, "snapshot"),
        link=link,
    )
    info = await trio.to_thread.run_sync(fn, limiter=_LIMIT)
    data = info.to_json()
    await services.memory.add(
        MemoryType.SNAPSHOT,
        f"snapshot {data['id']} ({trigger}) {description}".strip(),
        {"snapshot_id": data["id"], "trigger": trigger, "paths": [str(p) for p in targets]},
        origin=services.origin,
    )
    if ctx is not None:
        await ctx.notify("snapshot.created", {"id": data["id"], "trigger": trigger})
    return data


@attrs.frozen
class CreateParams:
    description: str = ""
    paths: list[str] | None = None


def _absolute(raw: list[str]) -> list[Path]:
    """Paths sent by a client: absolute only. The daemon runs in ``/`` for everyone, so a
    relative path or ``~`` would name the daemon's place, not the caller's (the aios CLI
    resolves them from the caller's directory before sending)."""
    bad = [x for x in raw if not x.startswith("/") or "\0" in x]
    if bad:
        raise InvalidParams(
            f"paths must be absolute (the aios CLI resolves relative ones from your working directory): {', '.join(bad)}"
        )
    return [Path(os.path.normpath(x)) for x in raw]


def _existing(raw: list[str]) -> list[Path]:
    paths = _absolute(raw)
    missing = [str(x) for x in paths if not x.exists() and not x.is_symlink()]
    if missing:
        raise InvalidParams(f"no such path: {', '.join(missing)}")
    return paths


async def snapshot_create(ctx: RequestContext, p: CreateParams) -> dict[str, Any]:
    # A manual snapshot is never retired by retention: anyone else could fill the disk.
    _owner_only(ctx, "take a snapshot: manual snapshots are kept until deleted, and --path reads as the daemon")
    paths = await trio.to_thread.run_sync(_existing, p.paths) if p.paths else None
    return await take_snapshot(ctx.services, trigger="manual", description=p.description, paths=paths, ctx=ctx)


@attrs.frozen
class ListParams:
    origin: str | None = None
    trigger: str | None = None


async def snapshot_list(ctx: RequestContext, p: ListParams) -> list[dict[str, Any]]:
    fn = functools.partial(ctx.services.snapshots.list, origin=p.origin, trigger=p.trigger)
    infos = await trio.to_thread.run_sync(fn)
    return [i.to_json() for i in infos]


@attrs.frozen
class IdParams:
    id: str


async def snapshot_show(ctx: RequestContext, p: IdParams) -> dict[str, Any]:
    info = await trio.to_thread.run_sync(ctx.services.snapshots.get, p.id)
    return info.to_json()


@attrs.frozen
class DiffParams:
    id: str
    id2: str | None = None


async def snapshot_diff(ctx: RequestContext, p: DiffParams) -> list[dict[str, Any]]:
    # A diff lists file names the daemon read as itself (root-only directories included).
    _owner_only(ctx, "diff snapshots: a diff lists what the daemon read as itself")
    changes = await trio.to_thread.run_sync(ctx.services.snapshots.diff, p.id, p.id2)
    return [c.to_json() for c in changes]


@attrs.frozen
class RestoreParams:
    id: str
    dry_run: bool = False
    paths: list[str] | None = None


def _own(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def restorable(services: Services, info: SnapshotInfo, requested: list[str] | None) -> list[Path] | None:
    """What this daemon may restore of a snapshot; None means every path it holds.

    A snapshot this daemon took and sealed holds the paths it was asked to hold (``--path``,
    a command's targets, ``recovery.paths``) and may restore them all; the store checks that
    requested paths lie inside it, at their real location. Any other snapshot (another
    container's on a shared store, or one whose metadata.json no longer matches this daemon's
    seal) may name paths this one never configured: only those under this daemon's own
    ``recovery.paths`` (or memory.db) are restored, compared at their real location (a symlink
    under recovery.paths does not lead elsewhere).
    """
    wanted = _absolute(requested) if requested else None
    if info.origin == services.origin and services.snapshots.trusted(info.id):
        return wanted
    roots = [real_root(r) for r in configured_paths(services)]
    memory = services.loaded.paths.memory_db
    if wanted:
        foreign = [str(w) for w in wanted if w != memory and not _own(real_root(w), roots)]
        if foreign:
            raise RecoveryError(
                f"not restoring {', '.join(foreign)}: snapshot {info.id} was taken by {info.origin or 'another daemon'}, "
                f"and this daemon restores another's snapshots only under its recovery.paths ({', '.join(map(str, roots)) or 'none'})"
            )
        return wanted
    mine = [Path(x) for x in info.paths if _own(x, roots)]
    if not mine:
        raise RecoveryError(
            f"snapshot {info.id} was taken by {info.origin or 'another daemon'} and holds {', '.join(info.paths) or 'no paths'}, "
            f"none under this daemon's recovery.paths ({', '.join(map(str, roots)) or 'none'}); restore it where it was taken, or pass --path"
        )
    return mine


def _owner_only(ctx: RequestContext, what: str) -> None:
    """Restores write, and snapshots of chosen paths read, as the daemon (root, for the system
    daemon): only its owner or root may ask; anyone else would get more than they could do alone."""
    owner = os.geteuid()
    if ctx.peer.uid not in (0, owner):
        raise RecoveryError(f"only the daemon's owner (uid {owner}) or root may {what} (you are uid {ctx.peer.uid})")


async def snapshot_restore(ctx: RequestContext, p: RestoreParams) -> dict[str, Any]:
    # Even a dry run lists names the daemon read as itself, and its errors name paths resolved
    # as the daemon: only its owner or root may ask, before anything is resolved.
    _owner_only(ctx, "restore a snapshot, or preview one (--dry-run): both read and resolve paths as the daemon")
    d = ctx.services
    st = d.snapshots
    info = await trio.to_thread.run_sync(st.get, p.id)  # refuse unknown ids before anything else
    targets = await trio.to_thread.run_sync(restorable, d, info, p.paths)
    pre: dict[str, Any] | None = None
    if not p.dry_run:
        # Refuse bad paths before anything is taken or written; the pre-restore snapshot then
        # holds exactly what the restore will write (memory.db is always copied).
        fn0 = functools.partial(st.targets, p.id, targets, d.loaded.paths.memory_db)
        writes = [t for t in await trio.to_thread.run_sync(fn0) if t != d.loaded.paths.memory_db]
        pre = await take_snapshot(
            d, trigger="pre-restore", description=f"before restoring {p.id}", paths=writes or configured_paths(d), ctx=ctx
        )
    fn = functools.partial(
        st.restore,
        p.id,
        paths=targets,
        dry_run=p.dry_run,
        memory_db=d.loaded.paths.memory_db,
        progress=_Progress(ctx, "restore"),
    )
    report = await trio.to_thread.run_sync(fn, limiter=_LIMIT)
    data = report.to_json()
    data["pre_restore"] = pre["id"] if pre else None
    if not p.dry_run:
        await d.memory.add(
            MemoryType.SYSTEM,
            f"restored snapshot {p.id}",
            {"snapshot_id": p.id, "pre_restore": data["pre_restore"], "paths": p.paths},
            origin=d.origin,
        )
    return data


async def snapshot_delete(ctx: RequestContext, p: IdParams) -> dict[str, Any]:
    _owner_only(ctx, "delete a snapshot: it may be the owner's only way back")
    await trio.to_thread.run_sync(ctx.services.snapshots.delete, p.id, limiter=_LIMIT)
    return {"deleted": p.id}


async def hourly_job(services: Services) -> object:
    if not services.config.recovery.enabled:
        return None
    data = await take_snapshot(services, trigger="hourly", description="scheduled")
    cfg = services.config.recovery
    removed = await trio.to_thread.run_sync(
        services.snapshots.apply_retention, cfg.max_snapshots, cfg.max_pre_exec, limiter=_LIMIT
    )
    log.info("hourly snapshot %s; retention removed %d", data["id"], len(removed))
    return data


async def snapshot_memory_ids(services: Services) -> set[str]:
    """Ids of Snapshot memories whose snapshot still exists (memory cleanup keeps them)."""
    existing = {i.id for i in await trio.to_thread.run_sync(services.snapshots.list)}
    records = await services.memory.recent(types=[MemoryType.SNAPSHOT], limit=100_000)
    return {m.id for m in records if m.metadata.get("snapshot_id") in existing}


async def pre_exec_hook(services: Services, ctx: RequestContext, description: str, link: dict[str, Any]) -> str | None:
    """``safe_execute``'s first step: a pre-exec snapshot before a system-changing action.

    It holds the paths the action will change (``link["targets"]``, from the policy's
    ``Decision.targets``), so that undo puts back those and nothing else; paths that do not
    exist yet are recorded as absent, so undo removes them. When the policy could not tell,
    it holds ``recovery.paths``.
    """
    if not services.config.recovery.enabled:
        return None
    roots = snapshot_roots(link.get("targets") or [])
    data = await take_snapshot(services, trigger="pre-exec", description=description, paths=roots or None, ctx=ctx, link=link)
    return str(data["id"])


async def rollback_hook(services: Services, ctx: RequestContext, snapshot_id: str) -> dict[str, Any]:
    """``recovery.auto_rollback``: put the files back after a snapshot-wrapped action failed."""
    fn = functools.partial(services.snapshots.restore, snapshot_id, progress=_Progress(ctx, "rollback"))
    report = await trio.to_thread.run_sync(fn, limiter=_LIMIT)
    await services.memory.add(
        MemoryType.SYSTEM, f"rolled back to snapshot {snapshot_id} after a failed command",
        {"snapshot_id": snapshot_id, "restored": report.restored}, origin=services.origin,
    )
    return report.to_json()


async def finish_interrupted(services: Services) -> None:
    """Remove snapshots (and finish restores) that a crash interrupted (run at start)."""
    try:
        removed = await trio.to_thread.run_sync(services.snapshots.cleanup_incomplete, limiter=_LIMIT)
    except RecoveryError as exc:
        log.error("snapshot store check failed: %s", exc)
        return
    if removed:
        log.warning("removed %d interrupted snapshot(s): %s", len(removed), ", ".join(removed))


def register(reg: Registry) -> None:
    reg.add("snapshot.create", snapshot_create, CreateParams, "Take a manual snapshot.")
    reg.add("snapshot.list", snapshot_list, ListParams, "List snapshots (newest first).")
    reg.add("snapshot.show", snapshot_show, IdParams, "One snapshot's metadata.")
    reg.add("snapshot.diff", snapshot_diff, DiffParams, "Changes between two snapshots or one and now.")
    reg.add("snapshot.restore", snapshot_restore, RestoreParams, "Restore a snapshot (pre-restore snapshot first).")
    reg.add("snapshot.delete", snapshot_delete, IdParams, "Delete a snapshot.")


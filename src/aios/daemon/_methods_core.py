"""Core methods: ping, status, info, shutdown, memory.*."""

from __future__ import annotations

import os
import platform
from typing import Any

import attrs

from aios import __version__
from aios.errors import InvalidParams, MemoryStoreError
from aios.memory import MemoryType, Progress, parse_since

from ._approvals import is_owner
from ._methods_tools import info_sections
from ._registry import NoParams, Registry, RequestContext


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def host_facts() -> dict[str, str]:
    """OS, kernel and host name, for ``info`` and the agent's prompt."""
    uname = os.uname()
    return {"os": _os_name(), "kernel": f"{uname.sysname} {uname.release}", "machine": uname.machine, "hostname": uname.nodename}


async def ping(ctx: RequestContext, p: NoParams) -> str:
    return "pong"


async def status(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    s = ctx.services
    facts = ctx.daemon.facts()
    return {
        "version": __version__,
        "pid": os.getpid(),
        "uptime_s": facts["uptime_s"],
        "mode": s.config.security.mode,
        "scope": facts["scope"],
        "socket": facts["socket"],
        "clients": facts["clients"],
        "origin": s.origin,
        "memory": await s.memory.counts(),
        "embedding": _progress(await s.memory.progress()),
        "config": facts["config"],
    }


def _progress(progress: Progress | None) -> dict[str, Any] | None:
    return None if progress is None else progress.to_json()


async def info(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    s = ctx.services
    return {
        "version": __version__,
        **host_facts(),
        "origin": s.origin,
        "python": platform.python_version(),
        "euid": os.geteuid(),
        "mode": s.config.security.mode,
        "paths": s.loaded.paths.to_json(),
        "config_files": list(s.loaded.files),
        **await info_sections(s),
    }


async def shutdown(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    """Stop the daemon (approvers only: see _approvals.APPROVERS_ONLY)."""
    ctx.daemon.stop()
    return {"stopping": True, "pid": os.getpid()}


def _types(value: str | list[str] | None) -> list[MemoryType] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    try:
        return [MemoryType.parse(n) for n in names]
    except ValueError as exc:
        raise InvalidParams(str(exc)) from exc


def _time(value: str | float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return parse_since(value)
    except ValueError as exc:
        raise InvalidParams(f"{name}: {exc}") from exc


@attrs.frozen
class SearchParams:
    query: str = ""
    type: str | list[str] | None = None
    since: str | float | None = None
    until: str | float | None = None
    origin: str | None = None
    limit: int = attrs.field(default=20, validator=attrs.validators.and_(attrs.validators.ge(1), attrs.validators.le(1000)))
    mode: str | None = None


async def memory_search(ctx: RequestContext, p: SearchParams) -> list[dict[str, Any]]:
    types = _types(p.type)
    since = _time(p.since, "since")
    until = _time(p.until, "until")
    mem = ctx.services.memory
    try:
        mode, notice = mem.mode(p.mode)
    except ValueError as exc:
        raise InvalidParams(f"mode: {exc}") from exc
    if p.query.strip():
        if notice is not None and p.mode is not None:
            # Only to callers that chose a mode: a plain call stays one request, one response.
            await ctx.notify("memory.notice", {"text": notice})
        cfg = ctx.services.config.memory
        hits = await mem.search(
            p.query, mode=mode, types=types, since=since, until=until, origin=p.origin, limit=_fetch(ctx, p.limit),
            window=cfg.search_window, fts_weight=cfg.fts_weight, vec_weight=cfg.vec_weight, min_cosine=cfg.min_similarity,
        )
        return [dict(h.to_json(), mode=mode.value) for h in hits if _may_see(ctx, h.memory.metadata)][:p.limit]
    recent = await mem.recent(types=types, since=since, origin=p.origin, limit=_fetch(ctx, p.limit))
    return [dict(m.to_json(), snippet=m.content[:200], score=0.0) for m in recent
            if (until is None or m.created_at <= until) and _may_see(ctx, m.metadata)][:p.limit]


def _fetch(ctx: RequestContext, limit: int) -> int:
    """How many to fetch: more for another user, whose results are then filtered."""
    return limit if is_owner(ctx.peer.uid) else min(1000, limit * 5)


def _may_see(ctx: RequestContext, metadata: dict[str, Any]) -> bool:
    """The owner and root see every memory; another local user sees what was done or added for
    them and the owner's notes added as shared — never the owner's commands and their output."""
    if is_owner(ctx.peer.uid):
        return True
    from aios.agent import author_uid

    author = author_uid(metadata)
    return author == ctx.peer.uid or (metadata.get("shared") is True and author == os.geteuid())


@attrs.frozen
class AddParams:
    content: str
    type: str = "System"
    metadata: dict[str, Any] = attrs.field(factory=dict)


async def memory_add(ctx: RequestContext, p: AddParams) -> dict[str, Any]:
    (mtype,) = _types(p.type) or [MemoryType.SYSTEM]
    if not p.content:
        raise InvalidParams("content must not be empty")
    if mtype is not MemoryType.SYSTEM and not is_owner(ctx.peer.uid):
        # Chat, Command and Snapshot records are the daemon's own: a forged turn would reach the
        # owner's model as the owner's history, a forged command as something that ran.
        raise InvalidParams(f"only the daemon's owner may add {mtype.value} memories; add a System note")
    meta = dict(p.metadata)
    # Set from the peer's credentials, never from what the client sent: recall trusts it.
    meta["added_by_uid"] = ctx.peer.uid
    meta.pop("uid", None)
    if meta.get("shared") in (True, "true", "1", "yes"):
        if ctx.peer.uid != os.geteuid():
            raise InvalidParams("only the daemon's owner may add a shared memory (metadata.shared)")
        meta["shared"] = True
    else:
        meta.pop("shared", None)
    memory = await ctx.services.memory.add(mtype, p.content, meta, origin=ctx.services.origin)
    return memory.to_json()


@attrs.frozen
class ReindexParams:
    model: str | None = None


async def memory_reindex(ctx: RequestContext, p: ReindexParams) -> dict[str, Any]:
    progress = await ctx.services.memory.reindex(p.model)
    return _progress(progress) or {}


async def memory_progress(ctx: RequestContext, p: NoParams) -> dict[str, Any] | None:
    return _progress(await ctx.services.memory.progress())


@attrs.frozen
class GetParams:
    id: str


async def memory_get(ctx: RequestContext, p: GetParams) -> dict[str, Any]:
    memory = await ctx.services.memory.get(p.id)
    if memory is None or not _may_see(ctx, memory.metadata):
        raise MemoryStoreError(f"no memory with id {p.id!r}", data={"id": p.id})
    return memory.to_json()


async def methods(ctx: RequestContext, p: NoParams) -> list[dict[str, str]]:
    return ctx.daemon.registry.describe()


def register(reg: Registry) -> None:
    reg.add("ping", ping, summary="Answer \"pong\".", inline=True)
    reg.add("status", status, summary="Version, pid, uptime, mode, clients, memory counts.")
    reg.add("info", info, summary="OS, kernel, paths, sandbox state, configured provider.")
    reg.add("shutdown", shutdown, summary="Stop the daemon cleanly after answering.")
    reg.add("rpc.methods", methods, summary="List every method with a one-line summary.", inline=True)
    reg.add("memory.search", memory_search, SearchParams, "Search memories: keyword, semantic or hybrid (default when vectors are ready), filters.")
    reg.add("memory.add", memory_add, AddParams, "Add a memory.")
    reg.add("memory.get", memory_get, GetParams, "Get one memory by id.")
    reg.add("memory.reindex", memory_reindex, ReindexParams, "Embed what is missing now, or switch the store to another embedding model.")
    reg.add("memory.progress", memory_progress, summary="Embedding progress: model, embedded, total, ready, notice.")


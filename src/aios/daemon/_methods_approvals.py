"""Approval methods: approvals.list, approvals.approve, approvals.deny (see _approvals.py)."""

from __future__ import annotations

from typing import Any

import attrs

from aios.memory import MemoryType

from ._registry import NoParams, Registry, RequestContext


async def approvals_list(ctx: RequestContext, p: NoParams) -> list[dict[str, Any]]:
    """Pending approvals: every one for an approver, the caller's own for anyone else."""
    return ctx.services.approvals.list(ctx.peer, ctx.services.config.daemon.approver_gids)


@attrs.frozen
class DecideParams:
    id: str


async def _decide(ctx: RequestContext, p: DecideParams, approve: bool) -> dict[str, Any]:
    pending = ctx.services.approvals.decide(p.id, approve, ctx.peer, ctx.services.config.daemon.approver_gids)
    verb = "approved" if approve else "denied"
    item = pending.to_json()
    # Every decision is an audit record: who decided what for whom.
    await ctx.services.memory.add(
        MemoryType.SYSTEM,
        f"approval {pending.id} {verb} by uid {ctx.peer.uid} for uid {pending.requester_uid}: {item['command']}",
        {"approval": item, "approved": approve, "by_uid": ctx.peer.uid},
    )
    return {**item, "approved": approve, "by_uid": ctx.peer.uid}


async def approvals_approve(ctx: RequestContext, p: DecideParams) -> dict[str, Any]:
    return await _decide(ctx, p, True)


async def approvals_deny(ctx: RequestContext, p: DecideParams) -> dict[str, Any]:
    return await _decide(ctx, p, False)


def register(reg: Registry) -> None:
    reg.add("approvals.list", approvals_list, summary="Other users' requests waiting for an approver.")
    reg.add("approvals.approve", approvals_approve, DecideParams,
            "Grant a pending request (the owner, root or daemon.approver_gids; never its requester).")
    reg.add("approvals.deny", approvals_deny, DecideParams, "Refuse a pending request (an approver, or its requester).")

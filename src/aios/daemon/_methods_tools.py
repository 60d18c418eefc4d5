"""Tool and policy methods: tools.list, tools.call, policy.check, policy.rules."""

from __future__ import annotations

from typing import Any

import attrs

from aios.config import is_mode
from aios.errors import InvalidParams
from aios.memory import MemoryType

from ._registry import NoParams, Registry, RequestContext
from ._services import Services
from ._tooling import effective_mode, tool_context, workspace_for


async def tools_list(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    reg = ctx.services.tools
    return {"tools": reg.to_json(), "load_errors": reg.load_errors}


@attrs.frozen
class CallParams:
    tool: str
    arguments: dict[str, Any] = attrs.field(factory=dict)
    mode: str | None = None
    cwd: str | None = None
    session: str | None = None


async def tools_call(ctx: RequestContext, p: CallParams) -> dict[str, Any]:
    """Run one tool through the whole pipeline, as a person asked it (no model)."""
    reg = ctx.services.tools
    problem = reg.validate(p.tool, p.arguments)
    if problem is not None:
        raise InvalidParams(problem, data={"tool": p.tool})
    mode = effective_mode(ctx, p.mode)
    tctx = tool_context(ctx, mode=mode, workspace=workspace_for(ctx, p.cwd), origin="cli", session=p.session)
    result = await reg.call(p.tool, p.arguments, tctx)
    return {"tool": p.tool, "mode": mode, "workspace": str(tctx.workspace), **result.to_json()}


@attrs.frozen
class CheckParams:
    command: str | None = None
    path: str | None = None
    op: str = "read"
    mode: str | None = None
    cwd: str | None = None


async def policy_check(ctx: RequestContext, p: CheckParams) -> dict[str, Any]:
    """Judge a command line (or a path operation) without running anything."""
    if (p.command is None) == (p.path is None):
        raise InvalidParams("give exactly one of command or path")
    mode = p.mode or ctx.services.config.security.mode
    if not is_mode(mode):
        raise InvalidParams(f"unknown mode {mode!r}: use one of safe, normal, paranoid, trusted")
    policy = ctx.services.policy(workspace_for(ctx, p.cwd))
    if p.command is not None:
        decision = policy.check_command(p.command, mode=mode)
    else:
        if p.op not in ("read", "write", "list"):
            raise InvalidParams(f"unknown op {p.op!r}: use read, write or list")
        decision = policy.check_path(p.op, p.path or "", mode=mode)  # type: ignore[arg-type]
    return {"mode": mode, **decision.to_json()}


async def policy_rules(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    policy = ctx.services.policy(workspace_for(ctx, None))
    return {"mode": ctx.services.config.security.mode, "rules": policy.rules()}


@attrs.frozen
class GrantParams:
    prefix: list[str]
    note: str = ""


async def policy_grant(ctx: RequestContext, p: GrantParams) -> dict[str, Any]:
    """Add a prefix grant: commands starting with these words are allowed instead of confirmed.

    Approvers only (a grant changes what everyone is asked): see _approvals.APPROVERS_ONLY.
    """
    grant = ctx.services.grants.add_prefix(p.prefix, uid=ctx.peer.uid, note=p.note)
    await ctx.services.memory.add(MemoryType.SYSTEM, f"granted prefix: {' '.join(p.prefix)}", {"grant": grant})
    return grant


async def policy_grants(ctx: RequestContext, p: NoParams) -> list[dict[str, Any]]:
    return ctx.services.grants.list()


@attrs.frozen
class RevokeParams:
    id: str


async def policy_revoke(ctx: RequestContext, p: RevokeParams) -> dict[str, Any]:
    grant = ctx.services.grants.revoke(p.id, ctx.services.session_grants)
    await ctx.services.memory.add(MemoryType.SYSTEM, f"revoked grant {p.id}", {"grant": grant, "by_uid": ctx.peer.uid})
    return {"revoked": grant}


async def info_sections(services: Services) -> dict[str, Any]:
    """The ``sandbox``, ``tools`` and ``provider`` sections of ``info``."""
    import functools

    import trio

    from aios.errors import ConfigError
    from aios.sandbox import probe

    cfg = services.config
    status = await trio.to_thread.run_sync(functools.partial(probe, cfg.sandbox))
    chosen = services.provider
    provider = {"error": str(chosen)} if isinstance(chosen, ConfigError) else chosen.describe()
    return {
        "sandbox": {**status.to_json(), "mode": cfg.security.mode, "user": cfg.sandbox.user},
        "tools": services.tools.names(),
        "provider": provider,
    }


def register(reg: Registry) -> None:
    reg.add("tools.list", tools_list, summary="List the tools with their schemas and origins.")
    reg.add("tools.call", tools_call, CallParams, "Run one tool call through policy, confirmation, snapshot, jail and memory.")
    reg.add("policy.check", policy_check, CheckParams, "Judge a command line or a path without running it.")
    reg.add("policy.grant", policy_grant, GrantParams, "Allow commands starting with these words (never overrides a block).")
    reg.add("policy.grants", policy_grants, summary="Remembered approvals: prefix grants and this daemon's session grants.")
    reg.add("policy.revoke", policy_revoke, RevokeParams, "Revoke a grant by id.")
    reg.add("policy.rules", policy_rules, summary="The policy rules in force and where each came from.")

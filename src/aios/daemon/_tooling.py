"""Building a tool call's context from a request: mode, workspace, policy, jail, callbacks.

Shared by ``tools.call`` / ``run`` (a person through the CLI) and ``chat`` (the model).
"""

from __future__ import annotations

import logging
import os
import pwd
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from aios.config import STRICTNESS
from aios.errors import InvalidParams, PolicyBlocked
from aios.memory import MemoryType

from ._approvals import is_owner
from ._confirm import ask
from ._methods_audit import audit_call, prefix_grant_id
from ._methods_snapshot import pre_exec_hook, rollback_hook
from ._registry import RequestContext

log = logging.getLogger("aios.daemon")

if TYPE_CHECKING:
    from aios.sandbox import Identity
    from aios.tools import ToolContext


# A request's directory is a fine workspace, except the root or a system tree: the jail makes the
# workspace writable, and the policy treats writes there as ordinary.
_NOT_WORKSPACES = ("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run",
                   "/sbin", "/sys", "/usr", "/var")


def effective_mode(ctx: RequestContext, requested: str | None) -> str:
    """The mode for this request: the daemon's, or a requested one.

    Anyone may ask for a stricter mode. Only the daemon's own user may ask for a looser one,
    and never looser than a mode pinned in the system config. Another user's request never runs
    in ``trusted`` mode (no jail, on the host as the daemon): for them it is ``normal``.

    Raises:
        InvalidParams: unknown mode.
        PolicyBlocked: a looser mode that this caller may not have.
    """
    current = ctx.services.config.security.mode
    if not is_owner(ctx.peer.uid) and current == "trusted":
        # trusted runs everything on the host as the daemon: never on another user's say-so.
        current = "normal"
    if requested is None or requested == current:
        return current
    if requested not in STRICTNESS:
        raise InvalidParams(f"unknown mode {requested!r}: use one of safe, normal, paranoid, trusted")
    if STRICTNESS[requested] >= STRICTNESS[current]:
        return requested
    pinned = ctx.services.loaded.pins.get("mode")
    if pinned is not None and STRICTNESS[requested] < STRICTNESS[pinned]:
        raise PolicyBlocked(f"mode {requested!r} is looser than the mode {pinned!r} pinned in the system config (pin.security.mode)")
    if not is_owner(ctx.peer.uid):
        raise PolicyBlocked(f"only the daemon's own user may loosen the mode from {current!r} to {requested!r}")
    return requested


def workspace_for(ctx: RequestContext, cwd: str | None) -> Path:
    """The writable directory for this request's tools.

    ``paths.workspace`` when configured; else the caller's directory when it is a real directory
    the caller owns (or the caller is root) outside the system trees; else ``~/aios-workspace``.
    """
    d = ctx.services
    if d.config.paths.workspace:
        ws = d.loaded.paths.workspace
    else:
        ws = d.loaded.paths.workspace
        if cwd:
            cand = Path(os.path.realpath(cwd))
            try:
                st = cand.stat()
                owned = ctx.peer.uid == 0 or st.st_uid == ctx.peer.uid
            except OSError:
                owned = False
            system = any(str(cand) == p or str(cand).startswith(p + "/") for p in _NOT_WORKSPACES[1:]) or str(cand) == "/"
            state = (cand == d.loaded.paths.state_dir or d.loaded.paths.state_dir in cand.parents)
            if owned and cand.is_dir() and not system and not state and not _is_home(cand, ctx.peer.uid):
                ws = cand
    ws.mkdir(parents=True, exist_ok=True)
    return ws


def _is_home(path: Path, uid: int) -> bool:
    """A home directory (the caller's or the daemon's), a directory above one, or one inside a
    home's hidden directories (``~/.config``, ``~/.local/bin``, ``~/.ssh`` …) or its ``~/bin``.
    Never a workspace: the jail could write ~/.bashrc, ~/.config/autostart, ~/.config/git/config
    or a program on the person's PATH there, which their own shell, desktop and git run later,
    unjailed."""
    homes = {Path(os.path.realpath(os.path.expanduser("~")))}
    try:
        homes.add(Path(os.path.realpath(pwd.getpwuid(uid).pw_dir)))
    except KeyError:
        pass
    for h in homes:
        if path == h or path in h.parents:
            return True
        if h in path.parents:
            first = path.relative_to(h).parts[0]
            if first.startswith(".") or first == "bin":
                return True
    return False


def requester_of(ctx: RequestContext) -> Identity | None:
    """Who asked, when it is not the daemon's owner (or root): tools act as them, never more."""
    from aios.sandbox import Identity

    if is_owner(ctx.peer.uid):
        return None
    return Identity.for_uid(ctx.peer.uid, ctx.peer.gid)


def tool_context(
    ctx: RequestContext,
    *,
    mode: str,
    workspace: Path,
    origin: str,
    session: str | None = None,
    grants: set[str] | None = None,
    call_id: str | None = None,
) -> ToolContext:
    """A :class:`ToolContext` whose callbacks talk to this request's caller and to memory."""
    from aios.tools import Approval, ToolContext

    services = ctx.services
    requester = requester_of(ctx)
    if requester is not None:
        # Remembered approvals belong to the owner's sessions; another user (who could name the
        # owner's session) gets none, and nothing is remembered for them.
        grants = set()

    async def emit(method: str, params: dict[str, Any]) -> None:
        await ctx.notify(method, params)

    async def confirm(params: dict[str, Any]) -> Approval:
        return await ask(ctx, params, mode=mode)

    # Decided actions whose record is not written yet (see ToolContext.decided): a call cut short
    # between the decision and its record (cancelled, the client gone, the store locked) is
    # audited by finished() with what was known, instead of leaving no trace.
    pending: list[tuple[str, dict[str, Any]]] = []

    grant_ids: dict[str, str] = {}

    def decided(subject: str, fields: dict[str, Any]) -> None:
        pending.append((subject, {**fields, "decided_at": time.time()}))
        rule = str(fields.get("rule") or "")
        if rule.startswith("grant["):  # named now: the grant list may change while the call runs
            grant_ids[subject] = prefix_grant_id(services, rule)

    async def audit_now(subject: str, fields: dict[str, Any]) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            try:
                await audit_call(ctx, services, mode, subject, fields)
            except Exception:  # logged: the call's own outcome must still reach its caller
                log.exception("writing the audit record of %r failed", subject)

    async def finished() -> None:
        while pending:
            subject, fields = pending.pop(0)
            fields.setdefault("outcome", "interrupted")
            fields["error"] = "the call ended before its result was recorded (cancelled, client gone, or a store error)"
            fields["duration_s"] = round(time.time() - fields.pop("decided_at"), 4)
            await audit_now(subject, fields)

    async def record(type_: str, content: str, metadata: dict[str, Any]) -> str | None:
        audited = type_ == "Command" and "decision" in metadata  # every decided call passes here
        if audited:
            for i, (subject, _f) in enumerate(pending):
                if subject == content:
                    del pending[i]
                    break
        memory_id: str | None = None
        try:
            # Who asked, so recall never shows one person's commands to another (aios.agent._recall).
            mem = await services.memory.add(MemoryType.parse(type_), content, {**metadata, "uid": ctx.peer.uid})
            memory_id = mem.id
        finally:
            if audited:  # also when the memory write failed or was cancelled
                extra = {"grant_id": grant_ids.pop(content)} if content in grant_ids else {}
                await audit_now(content, {**metadata, **extra, "memory_id": memory_id})
        return memory_id

    async def take_snapshot(description: str, meta: dict[str, Any]) -> str | None:
        return await pre_exec_hook(services, ctx, description, meta)

    async def do_rollback(snapshot_id: str) -> dict[str, Any]:
        return await rollback_hook(services, ctx, snapshot_id)

    return ToolContext(
        config=services.config,
        mode=mode,
        workspace=workspace,
        policy=services.policy(workspace),
        jail=services.jail(mode, workspace, requester),
        emit=emit,
        confirm=confirm,
        record=record,
        snapshot=take_snapshot,
        rollback=do_rollback,
        session=session,
        origin=origin,
        grants=grants if grants is not None else set(),
        call_id=call_id,
        on_grant=lambda tool, command: services.grants.note_session(session=session, tool=tool, command=command, uid=ctx.peer.uid),
        requester=requester,
        protected=services.protected,
        decided=decided,
        finished=finished,
    )

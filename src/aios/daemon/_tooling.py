"""Building a tool call's context from a request: mode, workspace, policy, jail, callbacks.

Shared by ``tools.call`` / ``run`` (a person through the CLI) and ``chat`` (the model).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aios.config import STRICTNESS
from aios.errors import InvalidParams, PolicyBlocked
from aios.memory import MemoryType

from ._approvals import is_owner
from ._confirm import ask
from ._grants import GrantStore
from ._methods_audit import audit_call
from ._registry import RequestContext

if TYPE_CHECKING:
    from aios.sandbox import Identity, Jail
    from aios.security import Policy
    from aios.tools import ToolContext, ToolRegistry

    from ._app import Daemon


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
    current = ctx.daemon.config.security.mode
    if not is_owner(ctx.peer.uid) and current == "trusted":
        # trusted runs everything on the host as the daemon: never on another user's say-so.
        current = "normal"
    if requested is None or requested == current:
        return current
    if requested not in STRICTNESS:
        raise InvalidParams(f"unknown mode {requested!r}: use one of safe, normal, paranoid, trusted")
    if STRICTNESS[requested] >= STRICTNESS[current]:
        return requested
    pinned = ctx.daemon.loaded.pins.get("mode")
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
    d = ctx.daemon
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
    """A home directory (the caller's or the daemon's) or a directory above one. Never a
    workspace: the jail could write ~/.bashrc, ~/.profile or ~/.config/autostart there, which
    the person's own shell and desktop run later, unjailed."""
    homes = {Path(os.path.realpath(os.path.expanduser("~")))}
    try:
        homes.add(Path(os.path.realpath(pwd.getpwuid(uid).pw_dir)))
    except KeyError:
        pass
    return any(path == h or path in h.parents for h in homes)


def grant_store(daemon: Daemon) -> GrantStore:
    store: GrantStore | None = daemon.extensions.get("grants")
    if store is None:
        store = GrantStore(daemon.loaded.paths.state_dir / "grants.json")
        daemon.extensions["grants"] = store
    return store


def policy_for(daemon: Daemon, workspace: Path) -> Policy:
    """The policy for a workspace, with the person's prefix grants (cached until they change)."""
    from aios.security import Policy, daemon_files

    prefixes = tuple(grant_store(daemon).prefixes())
    cache: dict[tuple[Path, tuple[tuple[str, ...], ...]], Policy] = daemon.extensions.setdefault("policies", {})
    policy = cache.get((workspace, prefixes))
    if policy is None:
        paths = daemon.loaded.paths
        policy = Policy(
            daemon.config.security,
            workspace=workspace,
            protected_paths=[Path(p) for p in daemon_files(
                state_dir=paths.state_dir, runtime_dir=paths.runtime_dir, socket=paths.socket,
                config_files=daemon.loaded.files, rules_file=daemon.config.security.rules_file, home=Path.home())],
            home=Path.home(),
        )
        if prefixes:
            policy = policy.with_prefix_grants(prefixes)
        if len(cache) > 64:
            cache.clear()
        cache[(workspace, prefixes)] = policy
    return policy


def requester_of(ctx: RequestContext) -> Identity | None:
    """Who asked, when it is not the daemon's owner (or root): tools act as them, never more."""
    from aios.sandbox import Identity

    if is_owner(ctx.peer.uid):
        return None
    return Identity.for_uid(ctx.peer.uid, ctx.peer.gid)


def jail_for(daemon: Daemon, mode: str, workspace: Path, requester: Identity | None = None) -> Jail:
    """The jail for a request; another user's commands run in it as that user."""
    from aios.sandbox import Jail

    paths = daemon.loaded.paths
    return Jail(daemon.config.sandbox, mode=mode, workspace=workspace,
                hidden=[paths.state_dir, paths.runtime_dir], home=Path.home(), run_as=requester)


def registry(daemon: Daemon) -> ToolRegistry:
    from aios.tools import ToolRegistry

    reg: ToolRegistry | None = daemon.extensions.get("tool_registry")
    if reg is None:
        cfg = daemon.config.tools
        reg = ToolRegistry.load(disabled=cfg.disabled, plugins=cfg.plugins)
        daemon.extensions["tool_registry"] = reg
    return reg


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
    from aios.tools import Approval, ToolContext, protected_paths

    daemon = ctx.daemon
    requester = requester_of(ctx)
    if requester is not None:
        # Remembered approvals belong to the owner's sessions; another user (who could name the
        # owner's session) gets none, and nothing is remembered for them.
        grants = set()

    async def emit(method: str, params: dict[str, Any]) -> None:
        await ctx.notify(method, params)

    async def confirm(params: dict[str, Any]) -> Approval:
        return await ask(ctx, params, mode=mode)

    async def record(type_: str, content: str, metadata: dict[str, Any]) -> str | None:
        # Who asked, so recall never shows one person's commands to another (aios.agent._recall).
        mem = await daemon.memory.add(MemoryType.parse(type_), content, {**metadata, "uid": ctx.peer.uid})
        if type_ == "Command" and "decision" in metadata:  # every decided call passes here: audit it
            await audit_call(ctx, mode, content, {**metadata, "memory_id": mem.id})
        return mem.id

    snapshot = daemon.extensions.get("snapshot_hook")

    async def take_snapshot(description: str, meta: dict[str, Any]) -> str | None:
        assert snapshot is not None
        sid: str | None = await snapshot(daemon, ctx, description, meta)
        return sid

    rollback = daemon.extensions.get("rollback_hook")

    async def do_rollback(snapshot_id: str) -> dict[str, Any]:
        assert rollback is not None
        report: dict[str, Any] = await rollback(daemon, ctx, snapshot_id)
        return report

    return ToolContext(
        config=daemon.config,
        mode=mode,
        workspace=workspace,
        policy=policy_for(daemon, workspace),
        jail=jail_for(daemon, mode, workspace, requester),
        emit=emit,
        confirm=confirm,
        record=record,
        snapshot=take_snapshot if snapshot is not None else None,
        rollback=do_rollback if rollback is not None else None,
        session=session,
        origin=origin,
        grants=grants if grants is not None else set(),
        call_id=call_id,
        on_grant=lambda tool, command: grant_store(daemon).note_session(session=session, tool=tool, command=command, uid=ctx.peer.uid),
        requester=requester,
        protected=protected_paths(daemon.loaded),
    )

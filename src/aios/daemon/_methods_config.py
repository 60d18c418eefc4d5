"""Config methods: config.show (the config in force) and config.reload."""

from __future__ import annotations

import os
from typing import Any

from aios.errors import PermissionDenied

from ._registry import NoParams, Registry, RequestContext


async def config_show(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    return ctx.services.loaded.to_json()


async def config_reload(ctx: RequestContext, p: NoParams) -> dict[str, Any]:
    """Reload the config from its files (all-or-nothing; see aios.daemon._reload).

    Only the daemon's owner and root: another user allowed on the socket must not make the
    daemon pick up a config at a moment of their choosing (and approver_gids is no exception:
    approving one request is not administering the daemon).
    """
    if ctx.peer.uid not in (0, os.geteuid()):
        raise PermissionDenied(f"uid {ctx.peer.uid} may not reload the config: only the daemon's owner "
                               f"(uid {os.geteuid()}) and root may")
    result = await ctx.daemon.reload(f"config.reload by uid {ctx.peer.uid}")
    return result.to_json()


def register(reg: Registry) -> None:
    reg.add("config.show", config_show, summary="The merged config and where each value came from.")
    reg.add("config.reload", config_reload,
            summary="Reload the config files (owner and root only): changed sections, needs_restart, pinned, errors.")

"""Giving the sandbox user what it lacks to use a workspace: POSIX ACLs, once, never recursive."""

from __future__ import annotations

import subprocess
from pathlib import Path

import trio

from ..errors import SandboxError
from ._access import Identity, allowed, reachable
from ._profile import check_workspace

_granted: set[tuple[str, int, bool]] = set()
"""(workspace, uid, write) already granted or checked in this process."""


async def _setfacl(args: list[str]) -> None:
    try:
        await trio.run_process(["setfacl", *args], capture_stdout=True, capture_stderr=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SandboxError(
            f"cannot give the sandbox user access with `setfacl {' '.join(args)}`: "
            f"{detail.decode(errors='replace').strip() or exc} (install it with `apt-get install acl`, "
            "or make the workspace readable and writable by the sandbox user)",
            data={"args": args},
        ) from exc


def _usable_by(ws: Path, ident: Identity, need_write: bool) -> bool:
    return reachable(ws, ident) and (not need_write or allowed(ws, ident, 7))


def _acl_plan(workspace: Path, ident: Identity, need_write: bool) -> list[list[str]]:
    """setfacl argument lists that give ``ident`` what it lacks: search (only) on the parents,
    read/write on the workspace directory itself and, as a default ACL, on what is created in it.

    Never recursive: files that already exist keep their permissions. The workspace is checked
    first (real path, not a system directory), so a grant can never land on / or /etc.
    """
    ws = Path(check_workspace(workspace))
    plan = [
        ["-m", f"u:{ident.uid}:x", str(p)] for p in reversed(ws.parents) if not allowed(p, ident, 1)
    ]
    if need_write and not allowed(ws, ident, 7):
        plan.append(["-m", f"u:{ident.uid}:rwx,d:u:{ident.uid}:rwx", str(ws)])
    return plan

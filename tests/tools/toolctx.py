"""In-process tool calls: a real ToolContext (real config, policy and jail) without a daemon.

The daemon's callbacks (notify the client, ask the person, write memory) are replaced by small
recorders: a call's events and records are kept in lists, and every confirmation is answered
"no", the way a client without a terminal answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from aios.config import Config
from aios.sandbox import Identity, Jail
from aios.security import Policy
from aios.tools import Approval, ToolContext


@attrs.define
class Calls:
    """What the callbacks saw."""

    events: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    records: list[tuple[str, str, dict[str, Any]]] = attrs.field(factory=list)
    asked: list[dict[str, Any]] = attrs.field(factory=list)


def make_context(workspace: Path, *, home: Path, mode: str = "normal", requester: Identity | None = None,
                 protected: tuple[Path, ...] = (), calls: Calls | None = None) -> ToolContext:
    config = Config()
    seen = calls if calls is not None else Calls()

    async def emit(method: str, params: dict[str, Any]) -> None:
        seen.events.append((method, params))

    async def confirm(params: dict[str, Any]) -> Approval:
        seen.asked.append(params)
        return Approval(False, "no-tty")

    async def record(type_: str, content: str, metadata: dict[str, Any]) -> str | None:
        seen.records.append((type_, content, metadata))
        return None

    return ToolContext(
        config=config,
        mode=mode,
        workspace=workspace,
        policy=Policy(config.security, workspace=workspace, home=home, protected_paths=list(protected)),
        jail=Jail(config.sandbox, mode=mode, workspace=workspace, home=home),
        emit=emit,
        confirm=confirm,
        record=record,
        requester=requester,
        protected=protected,
    )


@attrs.frozen
class User:
    name: str
    uid: int
    gid: int
    group: str
    """A supplementary group the user is a member of."""
    group_gid: int


FLIPPER = r"""
import os, sys
os.mkdir("d")
with open("d/" + sys.argv[2], "w") as f:
    f.write("decoy")
os.symlink(sys.argv[1], "d.link")
print("ready", flush=True)
while True:
    os.rename("d", "d.real")
    os.rename("d.link", "d")
    os.rename("d", "d.link")
    os.rename("d.real", "d")
"""



async def with_flipper(ws: Path, jail: Jail, target: Path, leaf: str, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` while a jailed process swaps ``ws/d`` with a symlink to ``target``."""
    ready = trio.Event()

    async def on_output(stream: str, chunk: bytes) -> None:
        if b"ready" in chunk:
            ready.set()

    async with trio.open_nursery() as nursery:
        argv = ["/usr/bin/python3", "-c", FLIPPER, str(target), leaf]
        nursery.start_soon(partial(jail.run, argv, timeout=300, on_output=on_output))
        with trio.fail_after(60):
            await ready.wait()
        await body()
        nursery.cancel_scope.cancel()

"""File tools against a jailed process that swaps directories for symlinks while they work.

The flipper runs in the real jail (bwrap, the sandbox user) in the workspace, and keeps
renaming ``d`` between a real directory and a symlink to a place the policy keeps the model out
of. Whatever the timing, a write never lands there and a read never returns what is there.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from toolctx import make_context, with_flipper

from aios.tools import ToolResult
from aios.tools._builtin import ListTool, ReadTool, WriteTool

ROUNDS = 300


async def test_a_swapped_parent_never_sends_a_write_outside(scratch: Path, outside: Path) -> None:
    ws = scratch / "ws"
    ws.mkdir()
    ctx = make_context(ws, home=scratch / "home")
    results: list[ToolResult] = []

    async def body() -> None:
        for i in range(ROUNDS):
            results.append(await WriteTool().execute({"path": "d/f", "content": f"round {i}"}, ctx))

    await with_flipper(ws, ctx.jail, outside, "seed", body)
    assert os.listdir(outside) == [], "a write followed the swapped symlink out of the workspace"
    assert any(r.ok for r in results), "no write ever ran: the race was not exercised"
    refused = [r.error for r in results if not r.ok and r.error and "symbolic link" in r.error]
    assert all(str(ws / "d") in e for e in refused)  # the error names the link


async def test_a_swapped_parent_never_returns_a_blocked_secret(scratch: Path) -> None:
    ws, home = scratch / "ws", scratch / "home"
    ws.mkdir()
    (home / ".ssh").mkdir(parents=True)
    secret = f"PRIVATE-{uuid.uuid4().hex}"
    (home / ".ssh" / "config").write_text(secret)  # (a file named id_rsa is refused by its name alone)
    ctx = make_context(ws, home=home)
    results: list[ToolResult] = []

    async def body() -> None:
        for _ in range(ROUNDS):
            results.append(await ReadTool().execute({"path": "d/config"}, ctx))

    await with_flipper(ws, ctx.jail, home / ".ssh", "config", body)
    assert not any(secret in r.output for r in results), "a read returned the secret through the swapped link"
    assert any(r.ok and r.output == "decoy" for r in results), "no read ever ran: the race was not exercised"


async def test_symlinked_parents_and_leaves_are_refused_by_name(scratch: Path, outside: Path) -> None:
    ws = scratch / "ws"
    (ws / "real").mkdir(parents=True)
    (outside / "target.txt").write_text("outside")
    os.symlink(outside, ws / "link")
    os.symlink(outside / "target.txt", ws / "real" / "leaf.txt")
    os.symlink("/proc/self/root" + str(outside), ws / "magic")
    (outside / "real").mkdir()
    os.symlink("real", outside / "alias")  # outside the workspace: opened beneath / by the same rule
    ctx = make_context(ws, home=scratch / "home", mode="trusted")  # no policy in the way
    for args, tool in [
        ({"path": "link/new.txt", "content": "x"}, WriteTool()),
        ({"path": "real/leaf.txt", "content": "x"}, WriteTool()),
        ({"path": "real/leaf.txt", "content": "x", "append": True}, WriteTool()),
        ({"path": "magic/target.txt", "content": "x"}, WriteTool()),
        ({"path": "link/target.txt"}, ReadTool()),
        ({"path": "real/leaf.txt"}, ReadTool()),
        ({"path": "magic/target.txt"}, ReadTool()),
        ({"path": f"/proc/self/root{outside}/target.txt"}, ReadTool()),
        ({"path": f"{outside}/alias/new.txt", "content": "x"}, WriteTool()),
        ({"path": f"{outside}/alias"}, ListTool()),
    ]:
        result = await tool.execute(args, ctx)  # type: ignore[attr-defined]
        assert not result.ok and "is a symbolic link" in (result.error or ""), (args, result)
    assert sorted(os.listdir(outside)) == ["alias", "real", "target.txt"] and os.listdir(outside / "real") == []
    assert (outside / "target.txt").read_text() == "outside"
    # `..` is folded by text before anything is opened: what is opened is what the policy judged.
    up = await ReadTool().execute({"path": "real/../../ws/real/../link/target.txt"}, ctx)
    assert not up.ok and str(ws / "link") in (up.error or "")

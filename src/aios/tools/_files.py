"""The file tools ``read``, ``write`` and ``list``: no shell, no jail, so no path is trusted.

They run in the daemon (as root for a system daemon) on paths that the model chose and that a
jailed command may be changing at the same moment. So:

- A path is normalised lexically (``~``, relative to the workspace, ``..`` folded) and judged by
  the policy in that form; it is then opened exactly in that form, beneath the workspace's
  descriptor (or ``/``'s for a path outside it), never following a symbolic link anywhere on it
  (:mod:`aios.tools._fs`). A symlink is refused with an error naming it and where it points.
- Writes never land on git metadata or the daemon's own files, in any mode
  (:mod:`aios.tools._guard`), and replace files atomically: a temporary file made in the opened
  parent directory, ``fchown``/``fchmod`` on its descriptor, then ``renameat`` over the target.
- A request from another uid (:attr:`ToolContext.requester`) runs its file operation in a worker
  thread that has taken that user's file-system identity (:mod:`aios.tools._ident`), so it can
  read and write only what that user could.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio

from aios.errors import ToolError

from ._base import ToolContext, ToolResult
from ._fs import (
    DIR_FLAGS,
    OPENER,
    Opener,
    PathRefused,
    Target,
    hardlink_refusal,
    kind_refusal,
    locate,
    protected_hardlinks,
    same_file,
)
from ._gate import Gate, acting_for, gate
from ._guard import write_block
from ._ident import acting_as
from ._write import write_file

if TYPE_CHECKING:
    from aios.security import Decision


async def _in_thread(g: Gate, ctx: ToolContext, work: Callable[[], ToolResult], *, abandon: bool) -> ToolResult:
    """Run ``work`` in a worker thread as the requester (or the daemon: an approver granted it, or
    no one else asked), errors as results."""
    who = acting_for(ctx, g)

    def run() -> ToolResult:
        try:
            with acting_as(who):
                return work()
        except ToolError as exc:
            return ToolResult(False, "", exc.message)

    # Abandoned on cancel (read, list): a call stuck on a dead network mount must not hold up the
    # turn or a shutdown; the thread puts its identity back whenever it ends.
    return await trio.to_thread.run_sync(run, abandon_on_cancel=abandon)


def _refused(exc: PathRefused) -> ToolResult:
    return ToolResult(False, "", f"refused: {exc.message}", {"refused": True})


async def _file_gate(
    ctx: ToolContext, tool: str, t: Target, extra: dict[str, Any], decision: Decision | None = None
) -> tuple[Gate, ToolResult | None]:
    op = tool  # the tools are named after the policy's operations: read, write, list
    if decision is None:
        try:
            decision = ctx.policy.check_path(op, t.shown, mode=ctx.mode)  # type: ignore[arg-type]
        except OSError as exc:
            # The policy resolves links to judge them; a jailed process renaming a link at that
            # moment makes the resolution fail. Nothing was judged, so nothing may run.
            from aios.security import Decision

            decision = Decision("block", "tools.path-changed", f"blocks: {t.shown} changed while the policy "
                                f"judged it ({exc.strerror or exc}); try again")
    subject = f"{tool} {t.shown}"
    await ctx.emit("tool.started", {"call_id": ctx.call_id, "tool": tool, "command": subject, "path": t.shown, **decision.to_json()})
    g = await gate(ctx, decision, tool=tool, subject=subject, what={"path": t.shown, **extra})
    if not g.go:
        assert g.refusal is not None
        await ctx.emit("tool.finished", g.refusal.event(tool, ctx.call_id))
        return g, g.refusal
    return g, None


async def _finish(ctx: ToolContext, tool: str, subject: str, g: Gate, result: ToolResult) -> ToolResult:
    meta = {**g.metadata(), **result.metadata, "tool": tool, "session": ctx.session, "origin": ctx.origin,
            "output_bytes": len(result.output.encode("utf-8", "replace"))}
    if ctx.requester is not None:
        meta["as_user"] = ctx.requester.name
    meta["memory_id"] = await ctx.record("Command", subject, {**meta, "error": result.error})
    result = ToolResult(result.ok, result.output, result.error, meta)
    await ctx.emit("tool.finished", result.event(tool, ctx.call_id))
    return result


def _looks_binary(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return True
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(data[:8192]) - 4  # a character cut at the end is not binary
    return False


class ReadTool:
    name = "read"
    description = ("Read a text file (no shell). Large files are cut; binary files are described, not dumped. "
                   "Symbolic links are not followed: use the real path the error names.")
    parameters: dict[str, Any] = {  # noqa: RUF012 - the Tool protocol reads it as an attribute
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "File path; relative paths start in the workspace."},
            "offset": {"type": "integer", "minimum": 0, "description": "Byte offset to start at."},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    async def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        t = locate(args["path"], ctx.workspace)
        g, refused = await _file_gate(ctx, self.name, t, {})
        if refused:
            return refused
        limit = int(ctx.config.tools.read_max)
        offset = int(args.get("offset", 0))
        result = await _in_thread(g, ctx, lambda: read_file(t, offset, limit), abandon=True)
        return await _finish(ctx, self.name, f"read {t.shown}", g, result)


def read_file(t: Target, offset: int, limit: int, opener: Opener = OPENER) -> ToolResult:
    """Read up to ``limit`` bytes of ``t`` from ``offset``: text, or a note that it is binary."""
    try:
        root = os.open(t.base, DIR_FLAGS)
        try:
            with opener.parent(root, t.rel, base=t.base) as (pfd, leaf):
                parent_shown = posixpath.dirname(t.shown)
                if not leaf:
                    raise PathRefused(f"{t.shown} is a directory: use the list tool")
                before = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
                if (bad := kind_refusal(before, t.shown, pfd, leaf, parent_shown)) is not None:
                    raise bad
                fd = opener.open(pfd, leaf, os.O_RDONLY | os.O_NONBLOCK, base=parent_shown)
        finally:
            os.close(root)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            if not same_file(st, before) or not stat.S_ISREG(st.st_mode):
                raise PathRefused(f"{t.shown} was replaced while it was opened; read it again")
            if (why := hardlink_refusal(st, t.shown, protected=protected_hardlinks())) is not None:
                raise PathRefused(why)
            f.seek(offset)
            data = f.read(limit + 1)
    except PathRefused as exc:
        return _refused(exc)
    except OSError as exc:
        return ToolResult(False, "", f"cannot read {t.shown}: {exc.strerror or exc}")
    meta: dict[str, Any] = {"path": t.shown, "size_bytes": st.st_size}
    if _looks_binary(data):
        meta["binary"] = True
        return ToolResult(True, f"{t.shown} is a binary file of {st.st_size} bytes; not shown.", None, meta)
    text = data[:limit].decode("utf-8", "replace")
    if len(data) > limit:
        meta["truncated"] = True
        rest = st.st_size - offset - limit
        text += f"\n[aios: file cut at {limit} bytes (tools.read_max); {rest} more bytes; read again with offset={offset + limit}]"
    return ToolResult(True, text, None, meta)


class WriteTool:
    name = "write"
    description = (
        "Write a text file (no shell), replacing it or appending to it. Files in the workspace are "
        "written directly; anywhere else needs the person's approval or is refused by the mode. "
        "Symbolic links are never followed, and git metadata (.git/, .gitmodules, .gitattributes) "
        "and aios's own files are never written."
    )
    parameters: dict[str, Any] = {  # noqa: RUF012 - the Tool protocol reads it as an attribute
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "content": {"type": "string"},
            "append": {"type": "boolean", "default": False},
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    }

    async def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        t = locate(args["path"], ctx.workspace)
        data = args["content"].encode("utf-8")
        limit = int(ctx.config.tools.write_max)
        if len(data) > limit:
            return ToolResult(False, "", f"content is {len(data)} bytes, over tools.write_max ({limit}); write it in parts with append=true")
        append = bool(args.get("append", False))
        # The guard's block replaces the policy's verdict: no mode and no approval gets past it.
        decision = write_block(t.shown, ctx.protected)
        g, refused = await _file_gate(ctx, self.name, t, {"bytes": len(data), "append": append}, decision)
        if refused:
            return refused
        chown = os.geteuid() == 0 and acting_for(ctx, g) is None
        result = await _in_thread(g, ctx, lambda: write_file(t, data, append=append, protected=ctx.protected, chown=chown), abandon=False)
        return await _finish(ctx, self.name, f"write {t.shown}", g, result)


class ListTool:
    name = "list"
    description = "List a directory (no shell): names, types, sizes and modification times."
    parameters: dict[str, Any] = {  # noqa: RUF012 - the Tool protocol reads it as an attribute
        "type": "object",
        "properties": {
            "path": {"type": "string", "default": ".", "description": "Directory; relative paths start in the workspace."},
            "hidden": {"type": "boolean", "default": False, "description": "Include names starting with a dot."},
        },
        "additionalProperties": False,
    }
    MAX_ENTRIES = 1000

    async def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        t = locate(args.get("path") or ".", ctx.workspace)
        g, refused = await _file_gate(ctx, self.name, t, {})
        if refused:
            return refused
        hidden = bool(args.get("hidden", False))
        result = await _in_thread(g, ctx, lambda: list_dir(t, hidden, self.MAX_ENTRIES), abandon=True)
        return await _finish(ctx, self.name, f"list {t.shown}", g, result)


def list_dir(t: Target, hidden: bool, max_entries: int, opener: Opener = OPENER) -> ToolResult:
    """The entries of the directory ``t``, one line each (links shown, never followed)."""
    try:
        root = os.open(t.base, DIR_FLAGS)
        try:
            fd = opener.open(root, t.rel, os.O_RDONLY | os.O_DIRECTORY, base=t.base)
        finally:
            os.close(root)
        try:
            with os.scandir(fd) as it:
                entries = sorted(it, key=lambda e: e.name)
            lines: list[str] = []
            shown_entries = [e for e in entries if hidden or not e.name.startswith(".")]
            for e in shown_entries[:max_entries]:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
                mtime = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M")
                name = e.name + ("/" if kind == "dir" else "")
                if kind == "link":
                    try:
                        name += f" -> {os.readlink(e.name, dir_fd=fd)}"
                    except OSError:
                        pass
                lines.append(f"{kind:4} {st.st_size:>10} {mtime} {name}")
        finally:
            os.close(fd)
    except PathRefused as exc:
        return _refused(exc)
    except OSError as exc:
        return ToolResult(False, "", f"cannot list {t.shown}: {exc.strerror or exc}")
    if len(shown_entries) > max_entries:
        lines.append(f"[aios: {len(shown_entries) - max_entries} more entries not shown]")
    text = "\n".join(lines) if lines else "(empty directory)"
    return ToolResult(True, text, None, {"path": t.shown, "entries": len(shown_entries)})

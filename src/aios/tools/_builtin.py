"""The built-in tools: ``bash`` (in the jail), ``read``, ``write`` and ``list`` (no shell).

Every one goes through :func:`aios.tools._gate.gate`: the policy judges the command line or the
path, the person is asked when the decision says so, a snapshot is taken before a system change,
and the call is recorded in memory as a Command memory, whatever its outcome.
"""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from ._base import ToolContext, ToolResult
from ._gate import gate, host_notes
from ._jailreport import ask_host, jail_report

EXCERPT = 2000
"""Characters of output kept in the memory record of a command."""


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + f"\n[… {len(text) - EXCERPT} more characters]"


def resolve(path: str, workspace: Path) -> Path:
    """An absolute, normalised path: ``~`` expanded, relative paths taken from the workspace,
    symlinks resolved (so a link in the workspace cannot point the policy at the wrong file)."""
    p = Path(os.path.expanduser(path))
    if not p.is_absolute():
        p = workspace / p
    return Path(os.path.realpath(p))


class BashTool:
    name = "bash"
    description = (
        "Run one bash command line on this machine and get its exit code and output. The command "
        "runs in a jail: the workspace directory is writable, the rest of the system is read-only "
        "unless the person approves a system change."
    )
    parameters: dict[str, Any] = {  # noqa: RUF012 - the Tool protocol reads it as an attribute
        "type": "object",
        "properties": {
            "command": {"type": "string", "minLength": 1, "description": "The command line, e.g. 'ls -la'."},
            "timeout": {"type": "number", "minimum": 1, "maximum": 3600, "description": "Seconds before it is killed."},
            "host": {
                "type": "boolean",
                "description": "Run it on the host, outside the jail, inside a snapshot (normal mode; the person "
                "is always asked). For a command that failed in the jail for lack of access.",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    async def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command: str = args["command"]
        decision = ask_host(ctx, ctx.policy.check_command(command, mode=ctx.mode), bool(args.get("host")))
        await ctx.emit(
            "tool.started",
            {"call_id": ctx.call_id, "tool": self.name, "command": command, **decision.to_json()},
        )
        host_bound = decision.action == "confirm" and decision.changes_system and ctx.mode == "normal"
        what = host_notes(ctx, decision, command) if host_bound else {}
        g = await gate(ctx, decision, tool=self.name, subject=command, what=what)
        if not g.go:
            assert g.refusal is not None
            await ctx.emit("tool.finished", g.refusal.event(self.name, ctx.call_id))
            return g.refusal

        async def on_output(stream: str, chunk: bytes) -> None:
            await ctx.emit(
                "tool.output",
                {"call_id": ctx.call_id, "stream": stream, "text": chunk.decode("utf-8", "replace")},
            )

        timeout = float(args.get("timeout") or ctx.config.sandbox.timeout)
        res = await ctx.jail.run(["/bin/bash", "-c", command], profile=g.profile, timeout=timeout, on_output=on_output)
        output = res.stdout
        if res.stderr:
            output = f"{output}\n[stderr]\n{res.stderr}" if output else res.stderr
        jail_meta, jail_words = jail_report(ctx, decision, res, g.profile)
        if jail_words.get("output"):
            output = f"{output}\n{jail_words['output']}" if output else jail_words["output"]
        meta: dict[str, Any] = {
            **jail_meta,
            **g.metadata(),
            "tool": self.name,
            "exit_code": res.exit_code,
            "timed_out": res.timed_out,
            "duration_s": round(res.duration_s, 4),
            "session": ctx.session,
            "origin": ctx.origin,
        }
        if res.stdout_truncated or res.stderr_truncated:
            meta["truncated"] = True
        if g.snapshot_id:
            meta["undo"] = f"aios restore {g.snapshot_id}"
        error = f"timed out after {timeout:g} s (the whole process group was killed)" if res.timed_out else jail_words.get("error")
        if g.snapshot_id and res.exit_code != 0 and ctx.rollback is not None and ctx.config.recovery.auto_rollback:
            report = await ctx.rollback(g.snapshot_id)
            meta["rolled_back"] = [r["path"] for r in report.get("restored", [])]
            error = (error + "; " if error else "") + f"the command failed, so snapshot {g.snapshot_id} was restored (recovery.auto_rollback)"
        meta["memory_id"] = await ctx.record("Command", command, {**meta, "output": _excerpt(output)})
        result = ToolResult(res.exit_code == 0, output, error, meta)
        await ctx.emit("tool.finished", result.event(self.name, ctx.call_id))
        return result


async def _file_gate(ctx: ToolContext, tool: str, op: str, path: Path, extra: dict[str, Any]) -> tuple[Any, ToolResult | None]:
    decision = ctx.policy.check_path(op, str(path), mode=ctx.mode)  # type: ignore[arg-type]
    subject = f"{tool} {path}"
    await ctx.emit("tool.started", {"call_id": ctx.call_id, "tool": tool, "command": subject, "path": str(path), **decision.to_json()})
    g = await gate(ctx, decision, tool=tool, subject=subject, what={"path": str(path), **extra})
    if not g.go:
        assert g.refusal is not None
        await ctx.emit("tool.finished", g.refusal.event(tool, ctx.call_id))
        return g, g.refusal
    return g, None


async def _finish(ctx: ToolContext, tool: str, subject: str, g: Any, result: ToolResult) -> ToolResult:
    meta = {**g.metadata(), **result.metadata, "tool": tool, "session": ctx.session, "origin": ctx.origin}
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
    description = "Read a text file (no shell). Large files are cut; binary files are described, not dumped."
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
        path = resolve(args["path"], ctx.workspace)
        g, refused = await _file_gate(ctx, self.name, "read", path, {})
        if refused:
            return refused
        limit = int(ctx.config.tools.read_max)
        offset = int(args.get("offset", 0))

        def read() -> ToolResult:
            try:
                st = path.stat()
                if stat.S_ISDIR(st.st_mode):
                    return ToolResult(False, "", f"{path} is a directory: use the list tool")
                if not stat.S_ISREG(st.st_mode):  # a FIFO would block the call, a device never end
                    return ToolResult(False, "", f"{path} is not a regular file (a FIFO, socket or device); use bash to inspect it")
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # see write
                with os.fdopen(os.open(path, flags), "rb") as f:
                    f.seek(offset)
                    data = f.read(limit + 1)
            except OSError as exc:
                return ToolResult(False, "", f"cannot read {path}: {exc.strerror or exc}")
            meta: dict[str, Any] = {"path": str(path), "size_bytes": st.st_size}
            if _looks_binary(data):
                meta["binary"] = True
                return ToolResult(True, f"{path} is a binary file of {st.st_size} bytes; not shown.", None, meta)
            text = data[:limit].decode("utf-8", "replace")
            if len(data) > limit:
                meta["truncated"] = True
                rest = st.st_size - offset - limit
                text += f"\n[aios: file cut at {limit} bytes (tools.read_max); {rest} more bytes; read again with offset={offset + limit}]"
            return ToolResult(True, text, None, meta)

        # Abandoned on cancel: a read stuck on a dead network mount must not hold up the turn or a shutdown.
        result = await trio.to_thread.run_sync(read, abandon_on_cancel=True)
        return await _finish(ctx, self.name, f"read {path}", g, result)


class WriteTool:
    name = "write"
    description = (
        "Write a text file (no shell), replacing it or appending to it. Files in the workspace are "
        "written directly; anywhere else needs the person's approval or is refused by the mode."
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
        path = resolve(args["path"], ctx.workspace)
        content: str = args["content"]
        data = content.encode("utf-8")
        limit = int(ctx.config.tools.write_max)
        if len(data) > limit:
            return ToolResult(False, "", f"content is {len(data)} bytes, over tools.write_max ({limit}); write it in parts with append=true")
        append = bool(args.get("append", False))
        g, refused = await _file_gate(ctx, self.name, "write", path, {"bytes": len(data), "append": append})
        if refused:
            return refused

        def write() -> ToolResult:
            try:
                existed = path.exists()
                if append:
                    # NOFOLLOW: the path was resolved for the policy; a symlink put there since
                    # (a race) is refused rather than followed somewhere the policy never saw.
                    # NONBLOCK: a FIFO without a reader fails at once instead of hanging the call.
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
                    with os.fdopen(fd, "ab") as f:
                        f.write(data)
                else:
                    _atomic_write(path, data)
                if not existed and os.geteuid() == 0:
                    st = path.parent.stat()  # a root daemon leaves new files to the directory's owner
                    os.chown(path, st.st_uid, st.st_gid)
            except OSError as exc:
                return ToolResult(False, "", f"cannot write {path}: {exc.strerror or exc}")
            verb = "appended" if append else "wrote"
            return ToolResult(True, f"{verb} {len(data)} bytes to {path}", None, {"path": str(path), "bytes": len(data)})

        result = await trio.to_thread.run_sync(write)
        return await _finish(ctx, self.name, f"write {path}", g, result)


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by a file written beside it and renamed over it, keeping its mode."""
    mode = None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.aios-{os.getpid()}-{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            st = path.stat()
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
        path = resolve(args.get("path") or ".", ctx.workspace)
        g, refused = await _file_gate(ctx, self.name, "list", path, {})
        if refused:
            return refused
        hidden = bool(args.get("hidden", False))

        def listing() -> ToolResult:
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError as exc:
                return ToolResult(False, "", f"cannot list {path}: {exc.strerror or exc}")
            lines = []
            items = []
            shown = [e for e in entries if hidden or not e.name.startswith(".")]
            for e in shown[: self.MAX_ENTRIES]:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
                mtime = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%d %H:%M")
                lines.append(f"{kind:4} {st.st_size:>10} {mtime} {e.name}{'/' if kind == 'dir' else ''}")
                items.append({"name": e.name, "type": kind, "size": st.st_size})
            if len(shown) > self.MAX_ENTRIES:
                lines.append(f"[aios: {len(shown) - self.MAX_ENTRIES} more entries not shown]")
            text = "\n".join(lines) if lines else "(empty directory)"
            return ToolResult(True, text, None, {"path": str(path), "entries": len(shown)})

        result = await trio.to_thread.run_sync(listing, abandon_on_cancel=True)  # as in read
        return await _finish(ctx, self.name, f"list {path}", g, result)


BUILTINS = (BashTool, ReadTool, WriteTool, ListTool)

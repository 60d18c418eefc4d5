"""The built-in tools: ``bash`` (in the jail), and ``read``, ``write``, ``list`` (no shell, in
:mod:`aios.tools._files`).

Every one goes through :func:`aios.tools._gate.gate`: the policy judges the command line or the
path, the person is asked when the decision says so, a snapshot is taken before a system change,
and the call is recorded in memory as a Command memory, whatever its outcome.
"""

from __future__ import annotations

from typing import Any

from ._base import ToolContext, ToolResult
from ._files import ListTool, ReadTool, WriteTool
from ._gate import gate, host_notes, jail_for_gate
from ._jailreport import ask_host, jail_report

EXCERPT = 2000
"""Characters of output kept in the memory record of a command."""


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + f"\n[… {len(text) - EXCERPT} more characters]"


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
        jail = jail_for_gate(ctx, g)
        res = await jail.run(["/bin/bash", "-c", command], profile=g.profile, timeout=timeout, on_output=on_output)
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
            "output_bytes": len(output.encode("utf-8", "replace")),
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


BUILTINS = (BashTool, ReadTool, WriteTool, ListTool)

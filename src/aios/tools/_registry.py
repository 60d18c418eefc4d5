"""The tool registry: built-ins plus plugins from the ``aios.tools`` entry-point group.

A plugin is trusted code the administrator installed, but its calls still take the one path:
arguments are validated against its schema before it runs, the policy gate asks the person in
safe mode and refuses plugins in paranoid mode (unless ``security.allow`` names ``tool:NAME``),
and every call is recorded. A plugin that raises, hangs past ``tools.plugin_timeout`` or returns
garbage fails that call alone.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import attrs
import trio
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from aios.security import plugin_decision

from ._base import Tool, ToolContext, ToolResult
from ._builtin import BUILTINS
from ._containers import ContainersTool
from ._gate import gate
from ._git import GitTool
from ._packages import PackagesTool
from ._services import ServicesTool

if TYPE_CHECKING:
    from aios.config import ToolsConfig

    from ._admin import AdminTool

ADMIN_TOOLS = (PackagesTool, ServicesTool, ContainersTool, GitTool)
"""The typed admin tools (docs/tools.md): built-in, through the same gate as bash."""


def _admin_tool(cls: type[AdminTool], tools: ToolsConfig | None) -> AdminTool:
    return PackagesTool(tools.packages.backend) if cls is PackagesTool and tools is not None else cls()


def admin_tools_status(tools: ToolsConfig | None = None) -> dict[str, str | None]:
    """Each typed admin tool's name and why it cannot work on this host (None: it can), with
    ``[tools]`` settings that choose a backend (defaults when None)."""
    return {cls.name: _admin_tool(cls, tools).problem() for cls in ADMIN_TOOLS}


def admin_tools_report(tools: ToolsConfig | None = None) -> dict[str, str]:
    """Each typed admin tool's name and ``usable`` (``usable (dnf)`` where a setting picks its
    backend) or why it cannot work on this host: what ``aios doctor`` shows."""
    out: dict[str, str] = {}
    for cls in ADMIN_TOOLS:
        tool = _admin_tool(cls, tools)
        why = tool.problem()
        backend = tool.backend_name() if isinstance(tool, PackagesTool) else None
        out[cls.name] = why if why is not None else f"usable ({backend})" if backend else "usable"
    return out

log = logging.getLogger("aios.tools")

GROUP = "aios.tools"


@attrs.frozen
class Entry:
    """One registered tool and where it came from."""

    tool: Any
    origin: str
    """built-in, or plugin:<distribution> (<entry point value>)."""
    framework: str
    validator: Draft202012Validator

    @property
    def builtin(self) -> bool:
        return self.origin == "built-in"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.tool.name,
            "description": self.tool.description,
            "parameters": self.tool.parameters,
            "origin": self.origin,
            "framework": self.framework,
        }


class ToolRegistry:
    """Tools by name. Build with :meth:`load`."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.load_errors: list[dict[str, str]] = []

    @classmethod
    def load(cls, *, disabled: Iterable[str] = (), plugins: bool = True) -> ToolRegistry:
        reg = cls()
        off = set(disabled)
        for factory in (*BUILTINS, *ADMIN_TOOLS):
            tool = factory()
            if tool.name not in off:
                reg.add(tool, "built-in")
        if plugins:
            for ep in entry_points(group=GROUP):
                dist = ep.dist.name if ep.dist is not None else "?"
                origin = f"plugin:{dist} ({ep.value})"
                try:
                    obj = ep.load()
                    tool = obj() if inspect.isclass(obj) or (callable(obj) and not hasattr(obj, "execute")) else obj
                    if tool.name in off:
                        continue
                    reg.add(tool, origin)
                except Exception as exc:  # a broken plugin must not take the daemon down
                    log.warning("tool plugin %s failed to load: %s", ep.value, exc)
                    reg.load_errors.append({"entry_point": f"{ep.name} = {ep.value}", "error": f"{type(exc).__name__}: {exc}"})
        return reg

    def add(self, tool: Any, origin: str) -> None:
        """Register a tool object; raises ValueError naming what is wrong with it."""
        if not isinstance(tool, Tool):
            raise ValueError(f"{tool!r} is not a tool: it needs name, description, parameters and async execute()")
        if not isinstance(tool.name, str) or not tool.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"tool name {tool.name!r} must be letters, digits, '_' or '-'")
        if tool.name in self.entries:
            raise ValueError(f"tool {tool.name!r} from {origin} clashes with the one from {self.entries[tool.name].origin}")
        try:
            Draft202012Validator.check_schema(tool.parameters)
        except SchemaError as exc:
            raise ValueError(f"tool {tool.name!r} has an invalid parameters schema: {exc.message}") from exc
        framework = getattr(tool, "framework", "trio")
        if framework not in ("trio", "anyio", "asyncio"):
            raise ValueError(f"tool {tool.name!r}: framework must be trio, anyio or asyncio, not {framework!r}")
        if not inspect.iscoroutinefunction(tool.execute):
            raise ValueError(f"tool {tool.name!r}: execute must be an async function")
        self.entries[tool.name] = Entry(tool, origin, framework, Draft202012Validator(tool.parameters))

    def names(self) -> list[str]:
        return sorted(self.entries)

    def to_json(self) -> list[dict[str, Any]]:
        return [self.entries[n].to_json() for n in self.names()]

    def validate(self, name: str, args: Any) -> str | None:
        """None when ``args`` suit the tool, else an error the model (or person) can act on."""
        entry = self.entries.get(name)
        if entry is None:
            return f"there is no tool named {name!r}; the tools are: {', '.join(self.names())}"
        if not isinstance(args, dict):
            return f"the arguments of {name} must be a JSON object"
        problems = [
            f"{'/'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message}"
            for e in entry.validator.iter_errors(args)
        ]
        if not problems and (where := _nul_at(args)) is not None:
            # No path, command line or name can hold one; the OS would fail later, less clearly.
            problems.append(f"{where or 'arguments'}: must not contain a NUL character")
        return f"invalid arguments for {name}: " + "; ".join(problems) if problems else None

    async def call(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate and run one call. Errors become a failed :class:`ToolResult`, never an exception
        (cancellation excepted).

        Cancellation: cancelling the caller cancels the tool; a jailed command's process group is killed.
        """
        problem = self.validate(name, args)
        if problem is not None:
            return ToolResult(False, "", problem, {"tool": name, "invalid_arguments": True})
        entry = self.entries[name]
        try:
            if entry.builtin:
                result: ToolResult = await entry.tool.execute(args, ctx)
                return result
            return await self._call_plugin(entry, args, ctx)
        finally:
            if ctx.finished is not None:
                with trio.CancelScope(shield=True):  # a cut-short call still leaves its record
                    await ctx.finished()

    async def _call_plugin(self, entry: Entry, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        tool = entry.tool
        subject = f"{tool.name} {_short(args)}"
        decision = plugin_decision(tool.name, mode=ctx.mode, allow=ctx.config.security.allow)
        await ctx.emit("tool.started", {"call_id": ctx.call_id, "tool": tool.name, "command": subject, **decision.to_json()})
        g = await gate(ctx, decision, tool=tool.name, subject=subject, what={"plugin": entry.origin})
        if not g.go:
            assert g.refusal is not None
            await ctx.emit("tool.finished", g.refusal.event(tool.name, ctx.call_id))
            return g.refusal
        timeout = float(ctx.config.tools.plugin_timeout)
        start = trio.current_time()
        with trio.move_on_after(timeout) as scope:
            try:
                raw = await _run(entry, args, ctx)
                result = _coerce(raw, tool.name)
            except Exception as exc:  # the plugin's failure is this call's failure only
                log.warning("tool %s raised: %r", tool.name, exc)
                leaf = _leaf(exc)
                result = ToolResult(False, "", f"the {tool.name} tool failed: {type(leaf).__name__}: {leaf}")
        if scope.cancelled_caught:
            result = ToolResult(False, "", f"the {tool.name} tool did not finish within {timeout:g} s (tools.plugin_timeout) and was cancelled")
        # The gate's fields win: a plugin's own metadata must not restate its decision or approver.
        meta = {**result.metadata, **g.metadata(), "tool": tool.name, "plugin": entry.origin,
                "duration_s": round(trio.current_time() - start, 4), "session": ctx.session, "origin": ctx.origin,
                "output_bytes": len(result.output.encode("utf-8", "replace"))}
        meta["memory_id"] = await ctx.record("Command", subject, {**meta, "error": result.error, "output": result.output[:2000]})
        result = ToolResult(result.ok, result.output, result.error, meta)
        await ctx.emit("tool.finished", result.event(tool.name, ctx.call_id))
        return result


async def _run(entry: Entry, args: dict[str, Any], ctx: ToolContext) -> Any:
    if entry.framework == "asyncio":
        import trio_asyncio

        async with trio_asyncio.open_loop():
            return await trio_asyncio.aio_as_trio(entry.tool.execute)(args, ctx)
    return await entry.tool.execute(args, ctx)


def _nul_at(value: Any, where: str = "") -> str | None:
    """The JSON path of the first string holding a NUL character, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{where}/{key!r}".lstrip("/")
        found = _nul_at(item, f"{where}/{key}".lstrip("/"))
        if found is not None:
            return found
    return None


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups: what a person needs to read."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _coerce(raw: Any, name: str) -> ToolResult:
    """A plugin's return value as a ToolResult; anything else is a failure that says so."""
    if isinstance(raw, ToolResult):
        return raw
    if isinstance(raw, str):
        return ToolResult(True, raw)
    if isinstance(raw, dict) and isinstance(raw.get("ok"), bool):
        output, error, meta = raw.get("output", ""), raw.get("error"), raw.get("metadata", {})
        if isinstance(output, str) and (error is None or isinstance(error, str)) and isinstance(meta, dict):
            return ToolResult(raw["ok"], output, error, meta)
    return ToolResult(False, "", f"the {name} tool returned something that is not a result ({type(raw).__name__}); expected ToolResult, str or {{'ok': bool, 'output': str}}")


def _short(args: dict[str, Any]) -> str:
    import json

    text = json.dumps(args, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."

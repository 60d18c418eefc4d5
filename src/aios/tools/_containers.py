"""The ``containers`` tool: list, inspect, logs, start, stop, restart, remove (podman or docker).

Everything goes through the engine's JSON output (``ps --format json``, ``inspect``), never its
tables. A container is removed with its volumes kept (``rm`` without ``--volumes``): the plan says
which volumes stay; there is no way to ask this tool to delete volumes.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ._admin import AdminError, AdminTool, Change, action_schema, need
from ._base import ToolContext
from ._host import HostResult, which

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
AFTER = {"start": "running", "stop": "exited", "restart": "running", "remove": "removed"}


def engine() -> str | None:
    """podman when installed, else docker, else None."""
    for name in ("podman", "docker"):
        if which(name):
            return name
    return None


class ContainersTool(AdminTool):
    name = "containers"
    description = (
        "Containers (podman, or docker): list, inspect, logs (read); start, stop, restart, remove "
        "(confirmed; remove keeps volumes). Give the container's name or id in 'name'."
    )
    parameters: ClassVar[dict[str, Any]] = action_schema(
        ["list", "inspect", "logs", "start", "stop", "restart", "remove"],
        {
            "name": {"type": "string", "pattern": NAME, "description": "Container name or id."},
            "lines": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "Log lines (default 100)."},
        },
        essential=("name",),
    )
    read_actions = frozenset({"list", "inspect", "logs"})
    change_actions = frozenset({"start", "stop", "restart", "remove"})

    def problem(self) -> str | None:
        return None if engine() else "neither podman nor docker is installed on this host"

    def _words(self, action: str, args: dict[str, Any]) -> list[str]:
        if action == "list":
            return ["ps", "--all", "--format", "json"]
        name = need(args, "name", action)
        if action == "inspect":
            return ["inspect", "--type", "container", name]
        if action == "logs":
            return ["logs", "--tail", str(int(args.get("lines") or 100)), name]
        return ["rm", name] if action == "remove" else [action, name]

    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        return [engine() or "podman", *self._words(action, args)]

    async def _run(self, words: list[str], ctx: ToolContext) -> HostResult:
        # As the requester when another local user asked: their own (rootless) containers,
        # never the daemon's.
        return await self.host(ctx, [engine() or "podman", *words])

    async def _inspect(self, name: str, ctx: ToolContext) -> dict[str, Any] | None:
        res = await self._run(["inspect", "--type", "container", name], ctx)
        if not res.ok:
            return None
        data = _json(res.stdout)
        return data[0] if isinstance(data, list) and data else None

    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        res = await self._run(self._words(action, args), ctx)
        if not res.ok:
            raise AdminError(res.error_line())
        if action == "logs":
            return res.stdout + res.stderr, {"name": args["name"], "lines": (res.stdout + res.stderr).splitlines()}
        data = _json(res.stdout)
        if action == "inspect":
            item = data[0] if isinstance(data, list) and data else data
            return json.dumps(_summary(item), indent=2), item
        rows = [_row(c) for c in (data or [])]
        text = "\n".join(f"{r['name']:<30} {r['state']:<10} {r['image']}" for r in rows) or "no containers"
        return text, rows

    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        name = need(args, "name", action)
        info = await self._inspect(name, ctx)
        if info is None:
            raise AdminError(f"there is no container named {name!r} ({engine()} inspect found none)")
        state = _state(info)
        volumes = [m.get("Name") or m.get("Source") for m in info.get("Mounts") or [] if m.get("Type") == "volume"]
        if action == "remove" and state == "running":
            raise AdminError(f"{name} is running: stop it first (the containers tool never removes a running container)")
        plan: dict[str, Any] = {"engine": engine(), "container": name, "from": state, "to": AFTER[action]}
        text = f"{engine()} container {name}: {state} -> {AFTER[action]}"
        if action == "remove":
            plan["volumes_kept"] = volumes
            text += "; volumes kept: " + (", ".join(map(str, volumes)) or "none")
        argv = (engine() or "podman", *self._words(action, args))
        return Change(argv, plan, text, state={"name": name, "before": state, "action": action})

    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        res = await self._run(list(change.argv[1:]), ctx)
        return res.ok, res.stdout.strip() if res.ok else res.error_line()

    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        info = await self._inspect(change.state["name"], ctx)
        want = change.plan["to"]
        now = "removed" if info is None else _state(info)
        if now == want or (want == "exited" and now in ("exited", "stopped", "created")):
            return []
        return [f"{change.state['name']} is {now}, not {want}"]

    async def rollback(self, change: Change, ctx: ToolContext) -> tuple[list[str], list[str]]:
        name, before = change.state["name"], change.state["before"]
        if change.state["action"] == "remove":
            return [], [f"{name} was removed; a removed container cannot be brought back (its volumes were kept)"]
        info = await self._inspect(name, ctx)
        now = None if info is None else _state(info)
        if now == before:
            return [], []
        words = ["start", name] if before == "running" else ["stop", name]
        res = await self._run(words, ctx)
        return ([f"{name} back to {before}"], []) if res.ok else ([], [f"{name}: {res.error_line()}"])


def _json(text: str) -> Any:
    text = text.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # docker prints one JSON object per line for --format json
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise AdminError(f"the container engine printed something that is not JSON: {exc}") from None


def _state(info: dict[str, Any]) -> str:
    st = info.get("State")
    if isinstance(st, dict):
        return str(st.get("Status") or ("running" if st.get("Running") else "exited"))
    return str(st or "unknown")


def _row(c: dict[str, Any]) -> dict[str, Any]:
    names = c.get("Names")
    name = names[0] if isinstance(names, list) and names else names or c.get("Name") or c.get("Id", "")[:12]
    return {"name": str(name), "id": str(c.get("Id") or c.get("ID") or ""), "image": str(c.get("Image") or ""),
            "state": str(c.get("State") or ""), "status": str(c.get("Status") or "")}


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    cfg = info.get("Config") or {}
    return {"name": str(info.get("Name", "")).lstrip("/"), "id": info.get("Id"), "image": cfg.get("Image") or info.get("ImageName"),
            "state": _state(info), "created": info.get("Created"),
            "mounts": [{"type": m.get("Type"), "source": m.get("Source"), "destination": m.get("Destination")}
                       for m in info.get("Mounts") or []]}

"""The ``services`` tool (systemd): list, status, logs, start, stop, restart, reload, enable, disable.

State comes from systemd's machine-readable forms: ``systemctl show -p …`` (key=value) and
``journalctl -o json``. A change's plan names the unit's state before and after; its snapshot
covers the unit file and drop-ins (and ``/etc/systemd/system`` for enable/disable, where the
symlinks change); afterwards the unit's real state is compared with the plan.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any, ClassVar

import trio

from ._admin import AdminError, AdminTool, Change, action_schema, need
from ._base import ToolContext
from ._host import which

UNIT = r"^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,199}$"
SINCE = r"^[A-Za-z0-9][A-Za-z0-9 :.+-]{0,63}$"
PROPS = ("Id", "Description", "LoadState", "ActiveState", "SubState", "UnitFileState",
         "FragmentPath", "DropInPaths", "CanReload", "MainPID", "ExecMainStatus")
WANT = {"start": ("ActiveState", "active"), "restart": ("ActiveState", "active"),
        "reload": ("ActiveState", "active"), "stop": ("ActiveState", "inactive"),
        "enable": ("UnitFileState", "enabled"), "disable": ("UnitFileState", "disabled")}
EFFECTS = {"start": ("Conflicts", "ConflictedBy"), "restart": ("Conflicts", "ConflictedBy", "RequiredBy", "BoundBy", "ConsistsOf"),
           "stop": ("RequiredBy", "BoundBy", "ConsistsOf")}
"""Dependencies through which systemd stops other units with the job: starting a unit stops the
units it conflicts with (either side's ``Conflicts=``), stopping one stops those that require it,
are bound to it or are part of it. Active ones among them are judged as stopped by this action."""
UNDO = {("ActiveState", "active"): "start", ("ActiveState", "inactive"): "stop",
        ("UnitFileState", "enabled"): "enable", ("UnitFileState", "disabled"): "disable"}


def unit_name(raw: str) -> str:
    """``nginx`` -> ``nginx.service``; names with a unit suffix stay as they are."""
    return raw if "." in raw.rsplit("@", 1)[-1] else raw + ".service"


def systemd_problem() -> str | None:
    """Why the services tool cannot work here, or None."""
    if not which("systemctl"):
        return "systemd is not installed on this host (no systemctl)"
    if not os.path.isdir("/run/systemd/system"):
        return "systemd is not PID 1 here (no /run/systemd/system): services cannot be managed on this host"
    return None


class ServicesTool(AdminTool):
    name = "services"
    description = (
        "systemd services: list, status, logs (read; 'since' like '1 hour ago', 'lines'); start, "
        "stop, restart, reload, enable, disable (confirmed). 'unit' is the service name, e.g. nginx."
    )
    parameters: ClassVar[dict[str, Any]] = action_schema(
        ["list", "status", "logs", "start", "stop", "restart", "reload", "enable", "disable"],
        {
            "unit": {"type": "string", "pattern": UNIT, "description": "Unit name, e.g. nginx or nginx.service."},
            "since": {"type": "string", "pattern": SINCE, "description": "Logs since, e.g. '2 hours ago' or '2026-01-01'."},
            "lines": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "Log lines (default 100)."},
        },
        essential=("unit",),
    )
    read_actions = frozenset({"list", "status", "logs"})
    change_actions = frozenset(WANT)

    def problem(self) -> str | None:
        return systemd_problem()

    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        if action == "list":
            return ["systemctl", "list-units", "--type=service", "--all", "--plain", "--no-legend", "--no-pager"]
        unit = unit_name(need(args, "unit", action))
        if action == "status":
            return ["systemctl", "show", unit, "-p", ",".join(PROPS)]
        argv = ["journalctl", "-u", unit, "-o", "json", "--no-pager", "-n", str(int(args.get("lines") or 100))]
        return [*argv, f"--since={args['since']}"] if args.get("since") else argv

    async def _show(self, unit: str, ctx: ToolContext, extra: tuple[str, ...] = ()) -> dict[str, str]:
        res = await self.host(ctx, ["systemctl", "show", unit, "-p", ",".join((*PROPS, *extra))])
        if not res.ok:
            raise AdminError(res.error_line())
        props = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        if props.get("LoadState") == "not-found":
            raise AdminError(f"there is no unit named {unit}")
        return props

    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        if action == "status":
            props = await self._show(unit_name(args["unit"]), ctx)
            text = "\n".join(f"{k}: {v}" for k, v in props.items() if v)
            return text, props
        res = await self.host(ctx, self.read_argv(action, args, ctx))
        if not res.ok:
            raise AdminError(res.error_line())
        if action == "list":
            rows = []
            for line in res.stdout.splitlines():
                parts = line.split(None, 4)
                if len(parts) >= 4:
                    rows.append({"unit": parts[0], "load": parts[1], "active": parts[2], "sub": parts[3],
                                 "description": parts[4] if len(parts) > 4 else ""})
            return "\n".join(f"{r['unit']:<40} {r['active']:<10} {r['sub']:<10} {r['description']}" for r in rows), rows
        entries = [_entry(line) for line in res.stdout.splitlines() if line.strip()]
        return "\n".join(f"{e['time']} {e['message']}" for e in entries) or "no journal lines", entries

    async def _stopped_with(self, action: str, props: dict[str, str], ctx: ToolContext) -> list[str]:
        """Active units systemd stops along with this action (see :data:`EFFECTS`)."""
        others = sorted({u for key in EFFECTS.get(action, ()) for u in props.get(key, "").split()} - {props.get("Id", "")})
        if not others:
            return []
        res = await self.host(ctx, ["systemctl", "show", "-p", "Id,ActiveState", "--", *others])
        if not res.ok:
            raise AdminError(res.error_line())
        active, unit = [], ""
        for line in res.stdout.splitlines():
            if line.startswith("Id="):
                unit = line[3:]
            elif line in ("ActiveState=active", "ActiveState=activating", "ActiveState=reloading") and unit:
                active.append(unit)
        return sorted(set(active))

    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        named = unit_name(need(args, "unit", action))
        props = await self._show(named, ctx, EFFECTS.get(action, ()))
        # systemd acts on the unit the name resolves to (an alias, dbus-org.…): judge and name that
        unit = props.get("Id") or named
        stopped = await self._stopped_with(action, props, ctx)
        if action == "reload" and props.get("CanReload") != "yes":
            raise AdminError(f"{unit} cannot reload (CanReload={props.get('CanReload')}); use restart")
        key, want = WANT[action]
        before = props.get(key, "")
        targets = [p for p in [props.get("FragmentPath", ""), *props.get("DropInPaths", "").split()] if p]
        if action in ("enable", "disable"):
            targets.append("/etc/systemd/system")
        plan = {"unit": unit, "property": key, "from": before, "to": want, "files": targets, "also_stops": stopped}
        if named != unit:
            plan["named"] = named
        text = (f"{unit}{f' (named {named})' if named != unit else ''}: {key} {before or '?'} -> {want}"
                + (" (restarted)" if action == "restart" else "") + (f"; also stops {', '.join(stopped)}" if stopped else ""))
        return Change(("systemctl", action, unit), plan, text, targets=tuple(targets),
                      state={"unit": unit, "before": before, "key": key},
                      effects=tuple(("systemctl", "stop", u) for u in stopped))

    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        res = await self.host(ctx, list(change.argv))
        return res.ok, (res.stdout + res.stderr).strip() if res.ok else res.error_line()

    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        unit, key, want = change.state["unit"], change.plan["property"], change.plan["to"]
        now = ""
        for _ in range(50):  # a unit may pass through activating/deactivating for a moment
            now = (await self._show(unit, ctx)).get(key, "")
            if now == want or now not in ("activating", "deactivating", "reloading"):
                break
            await trio.sleep(0.1)
        return [] if now == want else [f"{unit} {key} is {now}, not {want}"]

    async def rollback(self, change: Change, ctx: ToolContext) -> tuple[list[str], list[str]]:
        unit, key, before = change.state["unit"], change.state["key"], change.state["before"]
        undo = UNDO.get((key, before))
        if undo is None:
            return [], [f"{unit} was {key}={before!r} before; there is no action that puts it back"]
        res = await self.host(ctx, ["systemctl", undo, unit])
        return ([f"systemctl {undo} {unit}"], []) if res.ok else ([], [f"systemctl {undo} {unit}: {res.error_line()}"])


def _entry(line: str) -> dict[str, Any]:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return {"time": "", "priority": None, "message": line}
    msg = raw.get("MESSAGE", "")
    if isinstance(msg, list):  # journald sends non-UTF-8 messages as byte arrays
        msg = bytes(b for b in msg if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    usec = raw.get("__REALTIME_TIMESTAMP")
    when = datetime.fromtimestamp(int(usec) / 1e6, UTC).isoformat(timespec="seconds") if str(usec).isdigit() else ""
    prio = raw.get("PRIORITY")
    return {"time": when, "priority": int(prio) if str(prio).isdigit() else None, "message": str(msg)}

"""The ``packages`` tool: search, info, list_installed, plan (read); install, remove, upgrade.

One backend interface (:class:`Apt` today, for Debian and Ubuntu). Every change is planned first
with the package manager's own simulation (``apt-get -s``, parsed with ``LANG=C``): what is
installed, upgraded (from which version to which) and removed, with download and installed sizes.
After the change each planned package is checked at its planned version; a failed check with
``recovery.auto_rollback`` puts back the previous versions that apt's cache or a configured
source still has (and removes what was newly installed) and says what could not be put back.
"""

from __future__ import annotations

import glob
import re
from typing import Any, ClassVar

import attrs

from ._admin import AdminError, AdminTool, Change, action_schema
from ._aptcache import cache_options
from ._base import ToolContext
from ._host import HostResult, which

PKG = r"^[a-z0-9][a-z0-9+.-]{0,127}(:[a-z0-9-]{1,20})?$"
QUERY = r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
APT_OPTS = ("-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")
_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) .*?(?:\[(\S+)\])?\)")
_REMV = re.compile(r"^(?:Remv|Purg) (\S+)(?: \[(\S+)\])?")
ARCHIVES = "/var/cache/apt/archives"


@attrs.frozen
class Step:
    """One package in a plan."""

    name: str
    op: str  # install | upgrade | remove
    old: str | None
    new: str | None
    arch: str | None = None


class Apt:
    """apt-get / apt-cache / dpkg-query."""

    name = "apt"

    @staticmethod
    def available() -> bool:
        return which("apt-get") is not None and which("dpkg-query") is not None

    @staticmethod
    def simulate(op: str, names: list[str]) -> list[str]:
        if op == "upgrade" and not names:
            return ["apt-get", "-s", "-q", "upgrade"]
        if op == "upgrade":
            return ["apt-get", "-s", "-q", "install", "--only-upgrade", *names]
        return ["apt-get", "-s", "-q", op, *names]

    @staticmethod
    def change(op: str, names: list[str]) -> list[str]:
        if op == "upgrade" and not names:
            return ["apt-get", *APT_OPTS, "upgrade"]
        if op == "upgrade":
            return ["apt-get", *APT_OPTS, "install", "--only-upgrade", *names]
        return ["apt-get", *APT_OPTS, op, *names]

    @staticmethod
    def parse(out: str) -> list[Step]:
        steps: list[Step] = []
        for line in out.splitlines():
            if m := _INST.match(line):
                name, old, new, arch = m.groups()
                steps.append(Step(name, "upgrade" if old else "install", old, new, arch))
            elif m := _REMV.match(line):
                steps.append(Step(m.group(1), "remove", m.group(2), None))
        return steps


class PackagesTool(AdminTool):
    name = "packages"
    description = (
        "System packages (apt): search (query), info (names), list_installed (names optional), "
        "plan (install/remove lists or upgrade: true; shows what would change, changes nothing), "
        "install, remove, upgrade (names; confirmed, verified afterwards)."
    )
    parameters: ClassVar[dict[str, Any]] = action_schema(
        ["search", "info", "list_installed", "plan", "install", "remove", "upgrade"],
        {
            "query": {"type": "string", "pattern": QUERY, "description": "Words in package names, for search."},
            "names": {"type": "array", "items": {"type": "string", "pattern": PKG}, "minItems": 1, "maxItems": 200},
            "install": {"type": "array", "items": {"type": "string", "pattern": PKG}, "maxItems": 200},
            "remove": {"type": "array", "items": {"type": "string", "pattern": PKG}, "maxItems": 200},
            "upgrade": {"type": "boolean", "description": "For plan: plan upgrading everything (or 'names')."},
        },
        essential=("query", "names"),
    )
    read_actions = frozenset({"search", "info", "list_installed", "plan"})
    change_actions = frozenset({"install", "remove", "upgrade"})
    backend = Apt()
    restore_snapshot = False

    async def host(self, ctx: ToolContext, argv: list[str] | tuple[str, ...], *,
                   env: dict[str, str] | None = None, as_requester: bool = True) -> HostResult:
        """Run a backend command; apt run as the daemon itself gets a binary cache of its own
        where the host's apt config turns apt's off (:mod:`aios.tools._aptcache`)."""
        argv = list(argv)
        if argv and argv[0] in ("apt-get", "apt-cache") and (ctx.requester is None or not as_requester):
            from aios.config import resolve_paths

            argv[1:1] = await cache_options(resolve_paths(ctx.config, []).state_dir)
        return await super().host(ctx, argv, env=env, as_requester=as_requester)

    def problem(self) -> str | None:
        return None if self.backend.available() else "no supported package manager here (the packages tool needs apt-get and dpkg-query)"

    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        names: list[str] = args.get("names") or []
        if action == "search":
            if not args.get("query"):
                raise AdminError("the search action needs 'query'")
            return ["apt-cache", "search", "--names-only", args["query"]]
        if action == "info":
            if not names:
                raise AdminError("the info action needs 'names'")
            return ["apt-cache", "show", "--no-all-versions", *names]
        if action == "list_installed":
            return ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Status}\n", *names]
        return self.backend.simulate(*_plan_request(args))

    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        argv = self.read_argv(action, args, ctx)
        res = await self.host(ctx, argv)
        if action == "list_installed":
            rows = [dict(zip(("name", "version", "status"), ln.split("\t"), strict=False)) for ln in res.stdout.splitlines() if ln]
            if not rows and not res.ok:
                raise AdminError(res.error_line())
            rows = [r for r in rows if r.get("status", "").endswith(" installed")]
            return "\n".join(f"{r['name']} {r['version']}" for r in rows) or "none of them is installed", rows
        if not res.ok:
            raise AdminError(res.error_line())
        if action == "search":
            rows = [dict(zip(("name", "summary"), ln.split(" - ", 1), strict=False)) for ln in res.stdout.splitlines() if " - " in ln]
            return res.stdout or "no package matches", rows
        if action == "info":
            return res.stdout, _paragraphs(res.stdout)
        steps = self.backend.parse(res.stdout)
        plan = await _sized_plan(self, steps, ctx)
        return _plan_text(plan), plan

    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        names: list[str] = args.get("names") or []
        if action in ("install", "remove") and not names:
            raise AdminError(f"the {action} action needs 'names'")
        sim = await self.host(ctx, self.backend.simulate(action, names), as_requester=False)
        if not sim.ok:
            raise AdminError(f"apt-get cannot plan this: {sim.error_line()}")
        steps = self.backend.parse(sim.stdout)
        if not steps:
            raise AdminError(f"nothing to {action}: " + (", ".join(names) or "everything is up to date") + " (apt-get -s plans no change)")
        plan = await _sized_plan(self, steps, ctx)
        return Change(tuple(self.backend.change(action, names)), plan, _plan_text(plan), env=APT_ENV,
                      state={"steps": [attrs.asdict(s) for s in steps]})

    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        res = await self.host(ctx, list(change.argv), env=change.env, as_requester=False)
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-20:])
        return res.ok, tail if res.ok else res.error_line()

    async def _installed(self, names: list[str], ctx: ToolContext) -> dict[str, str]:
        res = await self.host(ctx, ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Status}\n", *names], as_requester=False)
        out: dict[str, str] = {}
        for line in res.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[2].endswith(" installed"):
                out[parts[0]] = parts[1]
        return out

    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        steps = [Step(**s) for s in change.state["steps"]]
        now = await self._installed([s.name.split(":")[0] for s in steps], ctx)
        problems = []
        for s in steps:
            have = now.get(s.name.split(":")[0])
            if s.op == "remove" and have is not None:
                problems.append(f"{s.name} is still installed ({have})")
            elif s.op != "remove" and have != s.new:
                problems.append(f"{s.name} is {have or 'not installed'}, planned {s.new}")
        return problems

    async def _offered(self, name: str, version: str, ctx: ToolContext) -> bool:
        """A configured source still offers ``name`` at ``version`` (apt-cache exits 0 either way)."""
        res = await self.host(ctx, ["apt-cache", "show", f"{name}={version}"], as_requester=False)
        return res.ok and f"\nVersion: {version}\n" in f"\n{res.stdout}"

    async def rollback(self, change: Change, ctx: ToolContext) -> tuple[list[str], list[str]]:
        steps = [Step(**s) for s in change.state["steps"]]
        done: list[str] = []
        not_done: list[str] = []
        fresh = [s.name for s in steps if s.op == "install"]
        if fresh:
            res = await self.host(ctx, ["apt-get", *APT_OPTS, "remove", *fresh], env=APT_ENV, as_requester=False)
            (done if res.ok else not_done).append(f"removed {', '.join(fresh)}" if res.ok else f"removing {', '.join(fresh)}: {res.error_line()}")
        back = []
        for s in steps:
            if s.old is None:
                continue
            pattern = f"{ARCHIVES}/{s.name.split(':')[0]}_{s.old.replace(':', '%3a')}_*.deb"
            # apt-get takes the old version from its cache, or else from a source that still
            # offers it (file: repositories and cleaned caches keep no archive).
            if glob.glob(pattern) or await self._offered(s.name, s.old, ctx):
                back.append(f"{s.name}={s.old}")
            else:
                not_done.append(f"{s.name} {s.old}: no longer in {ARCHIVES} and no configured source offers it")
        if back:
            res = await self.host(ctx, ["apt-get", *APT_OPTS, "--allow-downgrades", "install", *back], env=APT_ENV, as_requester=False)
            (done if res.ok else not_done).append(f"reinstalled {', '.join(back)}" if res.ok else f"reinstalling {', '.join(back)}: {res.error_line()}")
        return done, not_done


def _plan_request(args: dict[str, Any]) -> tuple[str, list[str]]:
    """(operation, names) that a plan action asks for."""
    install, remove, names = args.get("install") or [], args.get("remove") or [], args.get("names") or []
    if args.get("upgrade"):
        return "upgrade", names
    if install and remove:
        # apt-get takes both in one line: 'install a b-' removes b.
        return "install", [*install, *(f"{n}-" for n in remove)]
    if install:
        return "install", install
    if remove:
        return "remove", remove
    raise AdminError("the plan action needs 'install' and/or 'remove' lists, or upgrade: true")


def _paragraphs(text: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            out.append(fields)
    return out


async def _sized_plan(tool: AdminTool, steps: list[Step], ctx: ToolContext) -> dict[str, Any]:
    """The plan with download and installed sizes from apt-cache, for what is installed."""
    wanted = [f"{s.name}={s.new}" for s in steps if s.new]
    sizes: dict[tuple[str, str], dict[str, str]] = {}
    if wanted:
        res = await tool.host(ctx, ["apt-cache", "show", *wanted], as_requester=False)
        for p in _paragraphs(res.stdout):
            sizes[(p.get("Package", ""), p.get("Version", ""))] = p
    rows = []
    for s in steps:
        p = sizes.get((s.name.split(":")[0], s.new or ""), {})
        rows.append({"name": s.name, "op": s.op, "from": s.old, "to": s.new,
                     "download_bytes": int(p["Size"]) if p.get("Size", "").isdigit() else None,
                     "installed_kib": int(p["Installed-Size"]) if p.get("Installed-Size", "").isdigit() else None})
    return {"backend": "apt", "packages": rows,
            "download_bytes": sum(r["download_bytes"] or 0 for r in rows),
            "counts": {op: sum(1 for r in rows if r["op"] == op) for op in ("install", "upgrade", "remove")}}


def _plan_text(plan: dict[str, Any]) -> str:
    lines = []
    for r in plan["packages"]:
        size = f" ({r['download_bytes'] / 1024:.0f} KiB download)" if r["download_bytes"] else ""
        if r["op"] == "install":
            lines.append(f"install {r['name']} {r['to']}{size}")
        elif r["op"] == "upgrade":
            lines.append(f"upgrade {r['name']} {r['from']} -> {r['to']}{size}")
        else:
            lines.append(f"remove {r['name']} {r['from'] or ''}".rstrip())
    c = plan["counts"]
    lines.append(f"{c['install']} to install, {c['upgrade']} to upgrade, {c['remove']} to remove, "
                 f"{plan['download_bytes'] / 1024:.0f} KiB to download")
    return "\n".join(lines)

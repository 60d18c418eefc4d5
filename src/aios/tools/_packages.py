"""The ``packages`` tool: search, info, list_installed, plan (read); install, remove, upgrade.

One tool over one backend interface (:mod:`aios.tools._pkgbackend`): apt on Debian and Ubuntu
(:mod:`aios.tools._apt`), dnf on Fedora and RHEL (:mod:`aios.tools._dnf`), chosen by
``tools.packages.backend`` (``auto``: the one whose package database the host keeps). Every
change is planned first with the package manager's own resolution, which changes nothing: what
is installed, upgraded (from which version to which) and removed, with download and installed
sizes. The plan also records the versions of its packages installed before the change. After the
change each planned package is checked at its planned version; a failed check with
``recovery.auto_rollback`` puts back the previous versions the package manager's cache or a
configured source still has (and removes what was newly installed) and says what could not be put
back.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import attrs

from ._admin import AdminError, AdminTool, Change, action_schema
from ._apt import Apt
from ._aptcache import cache_options
from ._base import ToolContext
from ._dnf import Dnf
from ._host import HostResult
from ._pkgbackend import (
    PKG,
    QUERY,
    PackageBackend,
    Runner,
    Step,
    base,
    choose,
    other_action,
    plan_text,
    sized_plan,
)

BACKENDS: dict[str, PackageBackend] = {"apt": Apt(), "dnf": Dnf()}


class PackagesTool(AdminTool):
    name = "packages"
    description = (
        "System packages (apt or dnf): search (query), info (names), list_installed (names optional), "
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
    restore_snapshot = False

    def __init__(self, backend: str = "auto") -> None:
        self.setting = backend
        """``tools.packages.backend`` for :meth:`problem` (a call uses its own config's)."""

    def backend_name(self) -> str | None:
        """The backend the setting picks on this host (for ``aios doctor``), or None."""
        chosen, _why = choose(self.setting, BACKENDS)
        return chosen.name if chosen else None

    def problem(self) -> str | None:
        return choose(self.setting, BACKENDS)[1]

    async def unavailable(self, ctx: ToolContext) -> str | None:
        return choose(ctx.config.tools.packages.backend, BACKENDS)[1]

    def _backend(self, ctx: ToolContext) -> PackageBackend:
        chosen, why = choose(ctx.config.tools.packages.backend, BACKENDS)
        if chosen is None:
            raise AdminError(why)
        return chosen

    async def host(self, ctx: ToolContext, argv: list[str] | tuple[str, ...], *,
                   env: dict[str, str] | None = None, as_requester: bool = True) -> HostResult:
        """Run a backend command; apt run as the daemon itself gets a binary cache of its own
        where the host's apt config turns apt's off (:mod:`aios.tools._aptcache`)."""
        argv = list(argv)
        if argv and argv[0] in ("apt-get", "apt-cache") and (ctx.requester is None or not as_requester):
            from aios.config import resolve_paths

            argv[1:1] = await cache_options(resolve_paths(ctx.config, []).state_dir)
        return await super().host(ctx, argv, env=env, as_requester=as_requester)

    def _run(self, ctx: ToolContext) -> Runner:
        return functools.partial(self.host, ctx)

    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        backend = self._backend(ctx)
        if action == "plan":
            return backend.simulate(*backend.plan_request(args))
        return backend.read_argv(action, args)

    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        backend, run = self._backend(ctx), self._run(ctx)
        res = await run(self.read_argv(action, args, ctx), as_requester=not (action == "plan" and backend.plan_needs_root))
        if action != "plan":
            return await backend.read(run, action, res)
        if not backend.planned(res):
            raise AdminError(res.error_line())
        steps = await backend.steps(run, res.stdout)
        plan = await sized_plan(backend, run, steps)
        return plan_text(plan), plan

    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        backend, run = self._backend(ctx), self._run(ctx)
        names: list[str] = args.get("names") or []
        if action in ("install", "remove") and not names:
            raise AdminError(f"the {action} action needs 'names'")
        sim = await run(backend.simulate(action, names), as_requester=False)
        if not backend.planned(sim):
            raise AdminError(f"{backend.name} cannot plan this: {sim.error_line()}")
        steps = await backend.steps(run, sim.stdout)
        if not steps:
            raise AdminError(f"nothing to {action}: " + (", ".join(names) or "everything is up to date")
                             + f" ({backend.name} plans no change)")
        if (why := other_action(action, names, steps)) is not None:
            raise AdminError(why)
        plan = await sized_plan(backend, run, steps)
        # The snapshot of what the change touches: its packages' versions installed before it
        plan["before"] = await backend.installed(run, sorted({base(s.name) for s in steps}))
        # Every package the plan newly installs or removes is judged as if named alone: a firewall
        # pulled in as a dependency, or removed with a library, blocks like one named.
        effects = tuple(tuple(backend.change(s.op, [s.name])) for s in steps if s.op in ("install", "remove"))
        return Change(tuple(backend.change(action, names, steps)), plan, plan_text(plan), env=dict(backend.env),
                      state={"backend": backend.name, "steps": [attrs.asdict(s) for s in steps]}, effects=effects)

    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        res = await self.host(ctx, list(change.argv), env=change.env, as_requester=False)
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-20:])
        return res.ok, tail if res.ok else res.error_line()

    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        steps = [Step(**s) for s in change.state["steps"]]
        return await BACKENDS[change.state["backend"]].verify(self._run(ctx), steps)

    async def rollback(self, change: Change, ctx: ToolContext) -> tuple[list[str], list[str]]:
        steps = [Step(**s) for s in change.state["steps"]]
        return await BACKENDS[change.state["backend"]].rollback(self._run(ctx), steps)

"""The one interface behind the ``packages`` tool, and the choice of backend for this host.

A backend (:class:`~aios.tools._apt.Apt`, :class:`~aios.tools._dnf.Dnf`) turns validated names
into fixed argvs and parses its package manager's output: search, info, list_installed, a plan
through the package manager's own resolution (which changes nothing), the command that makes
the change, the installed versions of named packages (the snapshot a change records, and what
verification compares with the plan) and a rollback that reinstalls previous versions.

``tools.packages.backend`` picks one: ``apt``, ``dnf``, or ``auto`` — the one whose package
database this host keeps (dpkg's status file, else an rpm database; apt first when both exist,
as on a Debian host with rpm installed for building packages).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from ._admin import AdminError
from ._host import which

if TYPE_CHECKING:
    from ._host import HostResult

PKG = r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}(:[a-z0-9-]{1,20})?$"
"""A name never begins with "-" (never an option) and has no glob, path or shell character; rpm
names may have capitals (NetworkManager) and underscores."""
QUERY = r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$"
OPS = ("install", "upgrade", "downgrade", "reinstall", "remove")
DPKG_STATUS = "/var/lib/dpkg/status"
RPM_DBS = ("/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/usr/lib/sysimage/rpm/rpmdb.sqlite",
           "/usr/lib/sysimage/rpm/Packages")


@attrs.frozen
class Step:
    """One package in a plan."""

    name: str
    op: str  # one of OPS
    old: str | None
    new: str | None
    arch: str | None = None


class Runner(Protocol):
    """Runs a backend command for the current call (``PackagesTool.host`` bound to its context)."""

    async def __call__(self, argv: Sequence[str], *, env: dict[str, str] | None = None,
                       as_requester: bool = True) -> HostResult: ...


class PackageBackend(ABC):
    """A package manager behind the ``packages`` tool."""

    name: ClassVar[str]
    programs: ClassVar[tuple[str, ...]]
    """What must be on the host's PATH for the backend to work."""
    env: ClassVar[dict[str, str]] = {}
    """Extra environment for the commands that change the system."""
    plan_needs_root: ClassVar[bool] = False
    """The simulation refuses to run as another user (dnf: "has to be run with superuser
    privileges", even with --assumeno): a plan is then made by the daemon itself. It only reads."""

    def available(self) -> bool:
        return all(which(p) is not None for p in self.programs)

    def missing(self) -> str:
        """One line: which programs are missing."""
        return f"{' or '.join(p for p in self.programs if which(p) is None)} is not installed on this host"

    @abstractmethod
    def read_argv(self, action: str, args: dict[str, Any]) -> list[str]:
        """The command of a read action other than plan (search, info, list_installed)."""

    @abstractmethod
    async def read(self, run: Runner, action: str, res: HostResult) -> tuple[str, Any]:
        """Text and data of a read action other than plan, from its command's result."""

    def plan_request(self, args: dict[str, Any]) -> tuple[str, list[str]]:
        """(operation, names) a plan action asks for."""
        install, remove, names = args.get("install") or [], args.get("remove") or [], args.get("names") or []
        if args.get("upgrade"):
            return "upgrade", names
        if install and remove:
            raise AdminError(f"{self.name} plans an install and a remove separately: ask for one plan each")
        if install:
            return "install", install
        if remove:
            return "remove", remove
        raise AdminError("the plan action needs 'install' and/or 'remove' lists, or upgrade: true")

    @abstractmethod
    def simulate(self, op: str, names: list[str]) -> list[str]:
        """The package manager's own resolution of ``op`` on ``names``, changing nothing."""

    @abstractmethod
    def planned(self, res: HostResult) -> bool:
        """Whether the simulation resolved (some say so with a non-zero exit)."""

    @abstractmethod
    async def steps(self, run: Runner, out: str) -> list[Step]:
        """The plan in the simulation's output, with the versions installed now."""

    @abstractmethod
    async def sizes(self, run: Runner, steps: list[Step]) -> dict[tuple[str, str], tuple[int | None, int | None]]:
        """(download bytes, installed KiB) per (name, new version) that is installed."""

    @abstractmethod
    def change(self, op: str, names: list[str], steps: Sequence[Step] = ()) -> list[str]:
        """The command that makes the change. Every package the plan ``steps`` removes is named
        in it (the same change: the package manager would remove them anyway), so the policy,
        which judges this line, sees a firewall or audit package that goes as a dependency."""

    @abstractmethod
    async def installed(self, run: Runner, names: list[str]) -> dict[str, list[str]]:
        """The versions of ``names`` installed now (absent: not installed)."""

    @abstractmethod
    async def rollback(self, run: Runner, steps: list[Step]) -> tuple[list[str], list[str]]:
        """Put the previous versions back: (what was done, what could not be and why)."""

    async def verify(self, run: Runner, steps: list[Step]) -> list[str]:
        """Differences from the plan: each package installed at its planned version, or gone."""
        now = await self.installed(run, sorted({base(s.name) for s in steps}))
        problems = []
        for s in steps:
            have = now.get(base(s.name), [])
            if s.op == "remove" and have and (s.old is None or s.old in have):
                problems.append(f"{s.name} is still installed ({', '.join(have)})")
            elif s.op != "remove" and s.new not in have:
                problems.append(f"{s.name} is {', '.join(have) or 'not installed'}, planned {s.new}")
        return problems


def removed(names: list[str], steps: Sequence[Step]) -> list[str]:
    """The packages ``steps`` removes that ``names`` does not name."""
    return [s.name for s in steps if s.op == "remove" and s.name not in names and base(s.name) not in names]


def other_action(action: str, names: list[str], steps: Sequence[Step]) -> str | None:
    """Why the plan does what another action does, or None.

    apt reads ``NAME+`` in a remove line as an install and ``NAME-`` in an install line as a
    removal; paranoid's allow list names actions (``tool:packages:remove``), so a remove must not
    install and an install or upgrade must not remove a package it names.
    """
    if action == "remove":
        other = [s for s in steps if s.op != "remove"]
    else:
        named = {base(n) for n in names} | {base(n[:-1]) for n in names if n[-1:] in ("+", "-")}
        other = [s for s in steps if s.op == "remove" and base(s.name) in named]
    if not other:
        return None
    s = other[0]
    return (f"the {action} of {', '.join(names)} would {s.op} {s.name}: ask for that with the "
            f"{'remove' if s.op == 'remove' else 'install'} action")


def base(name: str) -> str:
    """A package name without apt's ``:arch`` qualifier."""
    return name.split(":")[0]


def host_database(dpkg_status: str = DPKG_STATUS, rpm_dbs: Sequence[str] = RPM_DBS) -> str | None:
    """The backend whose package database this host keeps: ``apt`` (dpkg's status file) first,
    else ``dnf`` (an rpm database), else None."""
    if os.path.isfile(dpkg_status):
        return "apt"
    if any(os.path.exists(p) for p in rpm_dbs):
        return "dnf"
    return None


def choose(setting: str, backends: dict[str, PackageBackend]) -> tuple[PackageBackend | None, str | None]:
    """The backend ``tools.packages.backend`` names for this host, or (None, one line why not)."""
    if setting == "auto":
        found = host_database()
        if found is None:
            return None, ("no supported package manager here: neither dpkg's status file nor an rpm database "
                          "(the packages tool needs apt or dnf; tools.packages.backend = \"auto\")")
        chosen = backends[found]
        if not chosen.available():
            return None, f"this host keeps a {'dpkg' if found == 'apt' else 'rpm'} database but {chosen.missing()} (tools.packages.backend = \"auto\")"
        return chosen, None
    chosen = backends[setting]
    if not chosen.available():
        return None, f"tools.packages.backend is \"{setting}\" but {chosen.missing()}"
    return chosen, None


async def sized_plan(backend: PackageBackend, run: Runner, steps: list[Step]) -> dict[str, Any]:
    """The plan as data: each package with its versions and sizes, and the totals."""
    sizes = await backend.sizes(run, steps)
    rows = []
    for s in steps:
        download, kib = sizes.get((base(s.name), s.new or ""), (None, None))
        rows.append({"name": s.name, "op": s.op, "from": s.old, "to": s.new, "arch": s.arch,
                     "download_bytes": download, "installed_kib": kib})
    return {"backend": backend.name, "packages": rows,
            "download_bytes": sum(r["download_bytes"] or 0 for r in rows),
            "counts": {op: sum(1 for r in rows if r["op"] == op) for op in OPS}}


def plan_text(plan: dict[str, Any]) -> str:
    """The plan in lines a person reads in the confirmation prompt."""
    lines = []
    for r in plan["packages"]:
        size = f" ({r['download_bytes'] / 1024:.0f} KiB download)" if r["download_bytes"] else ""
        if r["op"] in ("install", "reinstall"):
            lines.append(f"{r['op']} {r['name']} {r['to']}{size}")
        elif r["op"] in ("upgrade", "downgrade"):
            lines.append(f"{r['op']} {r['name']} {r['from'] or '?'} -> {r['to']}{size}")
        else:
            lines.append(f"remove {r['name']} {r['from'] or ''}".rstrip())
    c = plan["counts"]
    counts = [f"{c['install']} to install", f"{c['upgrade']} to upgrade", f"{c['remove']} to remove"]
    counts += [f"{c[op]} to {op}" for op in ("downgrade", "reinstall") if c.get(op)]
    lines.append(", ".join(counts) + f", {plan['download_bytes'] / 1024:.0f} KiB to download")
    return "\n".join(lines)

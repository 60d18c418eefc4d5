"""The apt backend of the ``packages`` tool (Debian, Ubuntu): apt-get, apt-cache, dpkg-query.

Plans come from ``apt-get -s`` (parsed with ``LANG=C``: its ``Inst``/``Remv`` lines), sizes from
``apt-cache show NAME=VERSION``, installed versions from ``dpkg-query -W`` with an explicit format.
Rollback removes what was newly installed and reinstalls the previous versions that are still in
``/var/cache/apt/archives`` or still offered by a configured source.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._admin import AdminError
from ._pkgbackend import PackageBackend, Runner, Step, base, removed

if TYPE_CHECKING:
    from ._host import HostResult

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
APT_OPTS = ("-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")
ARCHIVES = "/var/cache/apt/archives"
STATUS_FMT = "-f=${Package}\t${Version}\t${Status}\n"
_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) .*?(?:\[(\S+)\])?\)")
_REMV = re.compile(r"^(?:Remv|Purg) (\S+)(?: \[(\S+)\])?")


class Apt(PackageBackend):
    """apt-get / apt-cache / dpkg-query."""

    name = "apt"
    programs = ("apt-get", "apt-cache", "dpkg-query")
    env = APT_ENV

    def read_argv(self, action: str, args: dict[str, Any]) -> list[str]:
        names: list[str] = args.get("names") or []
        if action == "search":
            if not args.get("query"):
                raise AdminError("the search action needs 'query'")
            return ["apt-cache", "search", "--names-only", args["query"]]
        if action == "info":
            if not names:
                raise AdminError("the info action needs 'names'")
            return ["apt-cache", "show", "--no-all-versions", *names]
        return ["dpkg-query", "-W", STATUS_FMT, *names]

    async def read(self, run: Runner, action: str, res: HostResult) -> tuple[str, Any]:
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
        return res.stdout, paragraphs(res.stdout)

    def plan_request(self, args: dict[str, Any]) -> tuple[str, list[str]]:
        install, remove = args.get("install") or [], args.get("remove") or []
        if install and remove and not args.get("upgrade"):
            # apt-get takes both in one line: 'install a b-' removes b.
            return "install", [*install, *(f"{n}-" for n in remove)]
        return super().plan_request(args)

    def simulate(self, op: str, names: list[str]) -> list[str]:
        if op == "upgrade" and not names:
            return ["apt-get", "-s", "-q", "upgrade"]
        if op == "upgrade":
            return ["apt-get", "-s", "-q", "install", "--only-upgrade", *names]
        return ["apt-get", "-s", "-q", op, *names]

    def planned(self, res: HostResult) -> bool:
        return res.ok

    async def steps(self, run: Runner, out: str) -> list[Step]:
        steps: list[Step] = []
        for line in out.splitlines():
            if m := _INST.match(line):
                name, old, new, arch = m.groups()
                steps.append(Step(name, "upgrade" if old else "install", old, new, arch))
            elif m := _REMV.match(line):
                steps.append(Step(m.group(1), "remove", m.group(2), None))
        return steps

    async def sizes(self, run: Runner, steps: list[Step]) -> dict[tuple[str, str], tuple[int | None, int | None]]:
        wanted = [f"{s.name}={s.new}" for s in steps if s.new]
        out: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        if wanted:
            res = await run(["apt-cache", "show", *wanted], as_requester=False)
            for p in paragraphs(res.stdout):
                size, kib = p.get("Size", ""), p.get("Installed-Size", "")
                out[(p.get("Package", ""), p.get("Version", ""))] = (int(size) if size.isdigit() else None,
                                                                     int(kib) if kib.isdigit() else None)
        return out

    def change(self, op: str, names: list[str], steps: Sequence[Step] = ()) -> list[str]:
        gone = removed(names, steps)
        if op == "upgrade" and not names:
            return ["apt-get", *APT_OPTS, "upgrade"]  # never removes a package
        if op == "upgrade":
            return ["apt-get", *APT_OPTS, "install", "--only-upgrade", *names]
        if op == "remove":
            return ["apt-get", *APT_OPTS, "remove", *names, *gone]
        # 'NAME-' in an install line removes NAME, as the plan (a conflict) already does
        return ["apt-get", *APT_OPTS, op, *names, *(f"{n}-" for n in gone)]

    async def installed(self, run: Runner, names: list[str]) -> dict[str, list[str]]:
        if not names:
            return {}
        res = await run(["dpkg-query", "-W", STATUS_FMT, *names], as_requester=False)
        out: dict[str, list[str]] = {}
        for line in res.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[2].endswith(" installed"):
                out.setdefault(parts[0], []).append(parts[1])
        return out

    async def _offered(self, run: Runner, name: str, version: str) -> bool:
        """A configured source still offers ``name`` at ``version`` (apt-cache exits 0 either way)."""
        res = await run(["apt-cache", "show", f"{name}={version}"], as_requester=False)
        return res.ok and f"\nVersion: {version}\n" in f"\n{res.stdout}"

    async def rollback(self, run: Runner, steps: list[Step]) -> tuple[list[str], list[str]]:
        done: list[str] = []
        not_done: list[str] = []
        # Everything newly installed goes, even half-configured (dpkg's status is then not
        # "installed", but the files are there).
        fresh = [s.name for s in steps if s.op == "install"]
        if fresh:
            res = await run(["apt-get", *APT_OPTS, "remove", *fresh], env=APT_ENV, as_requester=False)
            (done if res.ok else not_done).append(f"removed {', '.join(fresh)}" if res.ok else f"removing {', '.join(fresh)}: {res.error_line()}")
        back = []
        for s in steps:
            if s.old is None:
                continue
            pattern = f"{ARCHIVES}/{base(s.name)}_{s.old.replace(':', '%3a')}_*.deb"
            # apt-get takes the old version from its cache, or else from a source that still
            # offers it (file: repositories and cleaned caches keep no archive).
            if glob.glob(pattern) or await self._offered(run, s.name, s.old):
                back.append(f"{s.name}={s.old}")
            else:
                not_done.append(f"{s.name} {s.old}: no longer in {ARCHIVES} and no configured source offers it")
        if back:
            res = await run(["apt-get", *APT_OPTS, "--allow-downgrades", "install", *back], env=APT_ENV, as_requester=False)
            (done if res.ok else not_done).append(f"reinstalled {', '.join(back)}" if res.ok else f"reinstalling {', '.join(back)}: {res.error_line()}")
        return done, not_done


def paragraphs(text: str) -> list[dict[str, str]]:
    """``Key: value`` paragraphs (apt-cache show) as dicts; continuation lines are left out."""
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

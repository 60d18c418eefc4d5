"""The dnf backend of the ``packages`` tool (Fedora, RHEL and their kin): dnf and rpm.

Reads use explicit query formats, never dnf's tables: ``dnf repoquery --qf`` for search, info and
sizes, ``rpm -q --qf`` for installed versions. A plan is dnf's own resolution with
``--assumeno`` (dnf answers "no" and changes nothing; it then exits 1, so success is its
``Transaction Summary`` or ``Nothing to do``); its transaction table is the one thing parsed, for
which packages and which versions, under ``LANG=C``. Changes run ``dnf -y
--setopt=keepcache=1`` so the packages dnf downloads stay in its cache: rollback reinstalls a
previous version from there (``dnf install /var/cache/dnf/…/NAME-VERSION.ARCH.rpm``, which dnf
turns into a downgrade), or else from a repository that still offers it, and says which it
could not.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._admin import AdminError
from ._pkgbackend import PackageBackend, Runner, Step, removed

if TYPE_CHECKING:
    from ._host import HostResult

CACHE = "/var/cache/dnf"
CHANGE = ("dnf", "-y", "--setopt=keepcache=1")
EVR = "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}"
"""rpm's version as dnf writes it: the epoch only when there is one."""
RPM_FMT = f"%{{NAME}}\\t{EVR}\\t%{{ARCH}}\\n"
SEARCH_FMT = "%{name}\\t%{arch}\\t%{evr}\\t%{summary}"
SIZE_FMT = "%{name}\\t%{arch}\\t%{evr}\\t%{downloadsize}\\t%{installsize}"
INFO_FIELDS = (("Name", "name"), ("Version", "evr"), ("Architecture", "arch"), ("Repository", "reponame"),
               ("Download-Size", "downloadsize"), ("Installed-Size", "installsize"), ("License", "license"),
               ("URL", "url"), ("Summary", "summary"), ("Description", "description"))
INFO_FMT = "".join(f"{key}: %{{{tag}}}\\n" for key, tag in INFO_FIELDS)
SECTIONS = (("Installing", "install"), ("Upgrading", "upgrade"), ("Downgrading", "downgrade"),
            ("Reinstalling", "reinstall"), ("Removing", "remove"))
"""dnf's table headings ("Installing dependencies:" …) and the operation each stands for."""


class Dnf(PackageBackend):
    """dnf (4) and rpm."""

    name = "dnf"
    programs = ("dnf", "rpm")
    plan_needs_root = True

    def read_argv(self, action: str, args: dict[str, Any]) -> list[str]:
        names: list[str] = args.get("names") or []
        if action == "search":
            if not args.get("query"):
                raise AdminError("the search action needs 'query'")
            # QUERY's pattern has no glob characters: '*QUERY*' is "names containing it"
            return ["dnf", "repoquery", "-q", "--latest-limit=1", "--qf", SEARCH_FMT, f"*{args['query']}*"]
        if action == "info":
            if not names:
                raise AdminError("the info action needs 'names'")
            return ["dnf", "repoquery", "-q", "--latest-limit=1", "--qf", INFO_FMT, *names]
        return ["rpm", "-q", "--qf", RPM_FMT, *names] if names else ["rpm", "-q", "-a", "--qf", RPM_FMT]

    async def read(self, run: Runner, action: str, res: HostResult) -> tuple[str, Any]:
        if action == "list_installed":
            # rpm exits 1 when one of the names is not installed, and says so on stdout
            rows = [{"name": p[0], "version": p[1], "arch": p[2], "status": "installed"}
                    for p in (ln.split("\t") for ln in res.stdout.splitlines()) if len(p) == 3]
            if not rows and not res.ok and "is not installed" not in res.stdout:
                raise AdminError(res.error_line())
            rows.sort(key=lambda r: r["name"])
            return "\n".join(f"{r['name']} {r['version']} {r['arch']}" for r in rows) or "none of them is installed", rows
        if not res.ok:
            raise AdminError(res.error_line())
        if action == "search":
            seen: dict[str, dict[str, str]] = {}
            for ln in res.stdout.splitlines():
                parts = ln.split("\t", 3)
                if len(parts) == 4:
                    seen.setdefault(parts[0], {"name": parts[0], "arch": parts[1], "version": parts[2], "summary": parts[3]})
            rows = sorted(seen.values(), key=lambda r: r["name"])
            return "\n".join(f"{r['name']} - {r['summary']}" for r in rows) or "no package matches", rows
        records = info_records(res.stdout)
        if not records:
            raise AdminError("dnf knows no package of that name")
        return res.stdout, records

    def simulate(self, op: str, names: list[str]) -> list[str]:
        return ["dnf", "--assumeno", op, *names]

    def planned(self, res: HostResult) -> bool:
        return "\nTransaction Summary\n" in f"\n{res.stdout}" or "\nNothing to do." in f"\n{res.stdout}"

    async def steps(self, run: Runner, out: str) -> list[Step]:
        rows = transaction(out)
        before = await self.installed(run, sorted({name for name, *_ in rows}))
        steps = []
        for name, op, evr, arch in rows:
            if op == "remove":
                steps.append(Step(name, op, evr, None, arch))
            else:
                others = [v for v in before.get(name, []) if v != evr]
                old = evr if op == "reinstall" else others[-1] if others else None
                steps.append(Step(name, op, old, evr, arch))
        return steps

    async def sizes(self, run: Runner, steps: list[Step]) -> dict[tuple[str, str], tuple[int | None, int | None]]:
        wanted = [nevra(s.name, s.new, s.arch) for s in steps if s.new]
        out: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        if wanted:
            res = await run(["dnf", "repoquery", "-q", "--qf", SIZE_FMT, *wanted], as_requester=False)
            for ln in res.stdout.splitlines():
                p = ln.split("\t")
                if len(p) == 5 and p[3].isdigit() and p[4].isdigit():
                    out[(p[0], p[2])] = (int(p[3]), -(-int(p[4]) // 1024))
        return out

    def change(self, op: str, names: list[str], steps: Sequence[Step] = ()) -> list[str]:
        # without --allowerasing only a remove removes (its dependents, and unused dependencies)
        return [*CHANGE, op, *names, *(removed(names, steps) if op == "remove" else [])]

    async def installed(self, run: Runner, names: list[str]) -> dict[str, list[str]]:
        if not names:
            return {}
        res = await run(["rpm", "-q", "--qf", RPM_FMT, *names], as_requester=False)
        out: dict[str, list[str]] = {}
        for ln in res.stdout.splitlines():
            p = ln.split("\t")
            if len(p) == 3:
                out.setdefault(p[0], []).append(p[1])
        return out

    async def _offered(self, run: Runner, spec: str) -> bool:
        """A configured repository still offers exactly ``spec`` (NAME-EVR.ARCH)."""
        res = await run(["dnf", "repoquery", "-q", "--qf", "%{name}", spec], as_requester=False)
        return res.ok and bool(res.stdout.strip())

    async def rollback(self, run: Runner, steps: list[Step]) -> tuple[list[str], list[str]]:
        done: list[str] = []
        not_done: list[str] = []
        now = await self.installed(run, sorted({s.name for s in steps}))
        # rpm installs a package whole or not at all: what failed to install is not there to remove
        fresh = [s.name for s in steps if s.op == "install" and s.old is None and s.new in now.get(s.name, [])]
        if fresh:
            res = await run(["dnf", "-y", "remove", *fresh], as_requester=False)
            (done if res.ok else not_done).append(f"removed {', '.join(fresh)}" if res.ok else f"removing {', '.join(fresh)}: {res.error_line()}")
        back: list[str] = []
        names: list[str] = []
        for s in steps:
            if s.old is None or s.old in now.get(s.name, []):
                continue
            spec = nevra(s.name, s.old, s.arch)
            cached = cached_rpm(s.name, s.old, s.arch)
            if cached or await self._offered(run, spec):
                back.append(cached or spec)
                names.append(spec)
            else:
                not_done.append(f"{s.name} {s.old}: no longer in {CACHE} and no configured repository offers it")
        if back:
            # 'dnf install' of an older NEVRA (or of its cached file) downgrades to it
            res = await run([*CHANGE, "install", *back], as_requester=False)
            (done if res.ok else not_done).append(f"reinstalled {', '.join(names)}" if res.ok else f"reinstalling {', '.join(names)}: {res.error_line()}")
        return done, not_done


def nevra(name: str, evr: str | None, arch: str | None) -> str:
    """``NAME-EVR.ARCH`` as dnf takes it on its command line."""
    return f"{name}-{evr}" + (f".{arch}" if arch else "")


def cached_rpm(name: str, evr: str, arch: str | None) -> str | None:
    """The package file in dnf's cache (kept by keepcache=1), or None. rpm file names carry no
    epoch."""
    version = evr.split(":", 1)[-1]
    arch_glob = glob.escape(arch) if arch else "*"
    hits = sorted(glob.glob(os.path.join(glob.escape(CACHE), "*", "packages", f"{glob.escape(f'{name}-{version}')}.{arch_glob}.rpm")))
    return hits[0] if hits else None


def transaction(out: str) -> list[tuple[str, str, str, str]]:
    """(name, operation, version, arch) for each row of dnf's transaction table.

    Rows are ``NAME ARCH EVR REPO SIZE`` under a heading; a name too long for its column stands
    alone on its line and the rest follows on the next. A ``replacing NAME.ARCH EVR`` line under a
    row (the row's package obsoletes NAME) is a removal of NAME, unless NAME is the row's own
    package: the policy must see a firewall that goes by ``Obsoletes:``.
    """
    rows: list[tuple[str, str, str, str]] = []
    op: str | None = None
    pending: list[str] = []
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            heading = line.rstrip()
            op = next((o for word, o in SECTIONS if heading.startswith(word) and heading.endswith(":")), None)
            pending = []
            continue
        words = line.split()
        if op is None:
            continue
        if words[0] == "replacing" and not pending:
            if len(words) >= 3 and "." in words[1]:
                name, arch = words[1].rsplit(".", 1)
                if not rows or rows[-1][0] != name:
                    rows.append((name, "remove", words[2], arch))
            continue
        words = pending + words
        if len(words) < 5:
            pending = words
            continue
        pending = []
        rows.append((words[0], op, words[2], words[1]))
    return rows


def info_records(text: str) -> list[dict[str, str]]:
    """INFO_FMT's records: a record begins at its ``Name:`` line; the description, last, may
    run over several lines."""
    records: list[dict[str, str]] = []
    key = ""
    for line in text.splitlines():
        head, sep, value = line.partition(": ")
        if head == "Name" and sep:
            records.append({})
        if not records:
            continue
        if sep and head in dict(INFO_FIELDS) and (head == "Name" or key != "Description"):
            key = head
            records[-1][key] = value.strip()
        elif key == "Description":
            records[-1][key] = (records[-1][key] + "\n" + line).strip()
    return records

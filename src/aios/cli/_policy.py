"""``aios policy``: what the policy decides (in-process, no daemon), expectation files, rules, grants.

``policy check`` and ``policy test`` build the policy from the same config files the daemon
reads and judge in this process: no daemon is needed or started, nothing runs, and many can run
at once. The person's prefix grants are read from the daemon's ``<state_dir>/grants.json`` when
this user may read it. ``policy rules|grant|grants|revoke`` ask the daemon.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._interact import cwd
from ._run import ModeOpt, _quote
from ._status import JsonFlag

if TYPE_CHECKING:
    from collections.abc import Callable

    from aios.security import Policy

    from ._policy_setup import Setup

policy = App(name="policy", help="What the policy decides, and the rules it uses.")

WorkspaceOpt = Annotated[str | None, Parameter(help="Judge as if this directory were the workspace (default: as the daemon picks it from here).")]
_NOT_WORKSPACES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr",
                   "/var")


@policy.command
def check(
    *command: Annotated[str, Parameter(help="The command line (after --).", allow_leading_hyphen=True)],
    mode: ModeOpt = None,
    path: Annotated[str | None, Parameter(help="Judge a file operation on this path instead of a command.")] = None,
    op: Annotated[str, Parameter(help="With --path: read, write or list.")] = "read",
    workspace: WorkspaceOpt = None,
    json: JsonFlag = False,
) -> int:
    """Print the decision for a command (or a path) without running anything. Exits 0 whatever it decides.

    Judged in this process with the daemon's config (no daemon needed or started).
    """
    if not command and path is None:
        return ctx.fail("nothing to check: aios policy check -- COMMAND", ctx.EXIT_USAGE)
    if path is not None and op not in ("read", "write", "list"):
        return ctx.fail(f"--op must be read, write or list, not {op!r}", ctx.EXIT_USAGE)

    def body() -> int:
        pol, m = _policy(mode, workspace)
        if path is not None:
            d = pol.check_path(op, path, mode=m)  # type: ignore[arg-type]
        else:
            d = pol.check_command(command[0] if len(command) == 1 else " ".join(_quote(c) for c in command), mode=m)
        if json:
            ctx.print_json({**d.to_json(), "mode": m})
            return 0
        # Plain print, not rich: this command is run in loops by scripts and people (rich ~40 ms).
        from ._text import printable

        lines = [f"{_paint(d.action)} ({m} mode) · rule {printable(d.rule)}", f"  {printable(d.reason)}"]
        if d.changes_system:
            lines.append("  changes the system: a snapshot is taken before it runs")
        lines += [f"  writes: {printable(t)}" for t in d.targets]
        lines += ["  command: " + printable(" ".join(words)) for words in d.commands]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0

    return _local(body)


_COLOUR = {"allow": "32", "confirm": "33", "block": "31"}


def _paint(action: str) -> str:
    """The decision in bold colour on a terminal (not with NO_COLOR or TERM=dumb), plain otherwise."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return action
    return f"\033[1;{_COLOUR.get(action, '37')}m{action}\033[0m"


def _local(body: Callable[[], int]) -> int:
    """Run an in-process command body: a config or policy problem is one line and exit 1.
    (``ctx.run`` also maps daemon errors, and imports the client for that.)"""
    from aios.errors import AiosError

    try:
        return body()
    except AiosError as exc:
        return ctx.fail(str(exc))


@policy.command
def test(
    file: Annotated[Path, Parameter(help="Cases: .jsonl ({cmd, expect, mode?} per line), .toml ([[case]]) or corpus lines (EXPECT :: COMMAND :: REASON).")],
    *,
    mode: ModeOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonFlag = False,
) -> int:
    """Run a file of expected decisions: confusion matrix and misses. Exits 0 when every case is met, 1 otherwise.

    A case's own mode wins over --mode; expect is allow, confirm, block or flag (confirm or block).
    """

    def body() -> int:
        from aios.security import load_cases, run_cases

        cases = load_cases(file)
        pol, m = _policy(mode, workspace)
        report = run_cases(pol, cases, m)
        if json:
            ctx.print_json(report.to_json())
        else:
            _print_report(report, file)
        return 0 if report.met == len(report.results) else 1

    return _local(body)


def _policy(mode: str | None, workspace: str | None) -> tuple[Policy, str]:
    """The daemon's policy for this directory, built here from its config files (the values
    it needs and the built rules come from the policy cache while their inputs are unchanged)."""
    from aios.errors import PolicyError
    from aios.modes import STRICTNESS, is_mode
    from aios.security import Policy

    from ._policy_setup import load_setup

    setup = load_setup(ctx.G.config, ctx.G.sets)
    m = mode or setup.security.mode
    if not is_mode(m):
        raise PolicyError(f"unknown mode {m!r}: use one of safe, normal, paranoid, trusted")
    pinned = setup.pinned_mode
    if pinned is not None and STRICTNESS[m] < STRICTNESS[pinned]:
        raise PolicyError(f"mode {m!r} is looser than the mode {pinned!r} pinned in the system config (pin.security.mode)")
    ws = Path(workspace).resolve() if workspace else _workspace(setup)
    pol = Policy(setup.security, workspace=ws, home=Path.home(), protected_paths=[Path(p) for p in setup.protected],
                 cache_dir=Path(setup.cache_dir) if setup.cache_dir is not None else None)
    grants = _grants(Path(setup.state_dir) / "grants.json")
    if grants:
        pol = pol.with_prefix_grants(grants)
    return pol, m


def _grants(path: Path) -> list[tuple[str, ...]]:
    """Prefix grants the daemon stored (read only; a missing, unreadable or damaged file grants nothing)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [tuple(str(w) for w in g["prefix"]) for g in data
            if isinstance(g, dict) and isinstance(g.get("prefix"), list)]


def _workspace(setup: Setup) -> Path:
    """As the daemon picks it for a request from here (daemon._tooling.workspace_for): this
    directory when it is ours and not a system tree, the state dir or a home; else the configured one."""
    configured = Path(setup.workspace)
    if setup.workspace_set:
        return configured
    state_dir = Path(setup.state_dir)
    here = Path(os.path.realpath(cwd()))
    homes = {Path(os.path.realpath(os.path.expanduser("~")))}
    try:
        owned = os.geteuid() == 0 or here.stat().st_uid == os.geteuid()
    except OSError:
        owned = False
    system = str(here) == "/" or any(str(here) == p or str(here).startswith(p + "/") for p in _NOT_WORKSPACES)
    state = here == state_dir or state_dir in here.parents
    home = any(here == h or here in h.parents for h in homes)
    return here if owned and here.is_dir() and not (system or state or home) else configured


def _print_report(report: Any, file: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False)
    t = Table(title=f"{file}: {len(report.results)} cases, {report.met} met", title_justify="left")
    t.add_column("expected \\ decided")
    for d in ("allow", "confirm", "block"):
        t.add_column(d, justify="right")
    for e, row in report.matrix.items():
        t.add_row(e, *(str(row[d]) for d in ("allow", "confirm", "block")))
    con.print(t)
    con.print(f"let through: {report.let_through_allowed} dangerous allowed, {report.let_through_confirmed} blocks only "
              f"confirmed · false alarms: {report.false_alarms}", markup=False)
    for r in report.misses:
        con.print(f"  {file}:{r.case.line}: {r.case.cmd!r} expected {r.case.expect}, got {r.action} in {r.mode} mode "
                  f"({r.rule}: {r.reason})", markup=False)
    sys.stdout.flush()


@policy.command
def rules(*, json: JsonFlag = False) -> int:
    """The rules in force and where each came from."""

    def body() -> int:
        data = ctx.call("policy.rules")
        if json:
            ctx.print_json(data["rules"])
            return 0
        from . import _render

        _render.table(
            ["id", "action", "kind", "source", "reason"],
            [[r.get("id", ""), r.get("action", ""), r.get("kind", ""), r.get("source", ""), r.get("reason", "")] for r in data["rules"]],
        )
        return 0

    return ctx.run(body)


@policy.command
def grant(
    *words: Annotated[str, Parameter(help="The command prefix to allow (after --), e.g. git push.", allow_leading_hyphen=True)],
    note: Annotated[str, Parameter(help="Why (shown in aios policy grants).")] = "",
    json: JsonFlag = False,
) -> int:
    """Allow commands that start with these words without asking (never overrides a block)."""
    if not words:
        return ctx.fail("nothing to grant: aios policy grant -- WORDS", ctx.EXIT_USAGE)
    prefix = list(words[0].split()) if len(words) == 1 else list(words)

    def body() -> int:
        g = ctx.call("policy.grant", {"prefix": prefix, "note": note})
        if json:
            ctx.print_json(g)
        else:
            print(f"granted {g['id']}: commands starting with '{' '.join(g['prefix'])}' run without asking")
        return 0

    return ctx.run(body)


@policy.command
def grants(*, json: JsonFlag = False) -> int:
    """What was granted, by whom and when (prefix grants and session grants)."""

    def body() -> int:
        rows = ctx.call("policy.grants")
        if json:
            ctx.print_json(rows)
            return 0
        if not rows:
            print("no grants")
            return 0
        from datetime import datetime

        from . import _render

        _render.table(
            ["id", "kind", "what", "by uid", "when"],
            [[g["id"], g["kind"], " ".join(g["prefix"]) if g["kind"] == "prefix" else f"{g['command']} (session {g.get('session')})",
              str(g.get("by_uid")), datetime.fromtimestamp(g["at"]).strftime("%Y-%m-%d %H:%M")] for g in rows],
        )
        return 0

    return ctx.run(body)


@policy.command
def revoke(grant_id: Annotated[str, Parameter(help="The grant's id (see aios policy grants).")], *, json: JsonFlag = False) -> int:
    """Revoke one grant."""

    def body() -> int:
        out = ctx.call("policy.revoke", {"id": grant_id})
        if json:
            ctx.print_json(out)
        else:
            print(f"revoked {grant_id}")
        return 0

    return ctx.run(body)

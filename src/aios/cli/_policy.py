"""``aios policy``: what the policy decides (in-process, no daemon), expectation files, rules, grants.

``policy check`` and ``policy test`` build the policy from the same config files the daemon
reads and judge in this process (``_policy_check``): no daemon is needed or started, nothing
runs, and many can run at once. ``policy rules|grant|grants|revoke`` ask the daemon.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._policy_check import local, policy_here, run_check
from ._run import ModeOpt
from ._status import JsonFlag

policy = App(name="policy", help="What the policy decides, and the rules it uses.")

WorkspaceOpt = Annotated[str | None, Parameter(help="Judge as if this directory were the workspace (default: as the daemon picks it from here).")]
@policy.command
def check(
    *command: Annotated[str, Parameter(help="The command line (after --; a word before it that starts with - is an option).")],
    mode: ModeOpt = None,
    path: Annotated[str | None, Parameter(help="Judge a file operation on this path instead of a command.")] = None,
    op: Annotated[str, Parameter(help="With --path: read, write or list.")] = "read",
    workspace: WorkspaceOpt = None,
    json: JsonFlag = False,
) -> int:
    """Print the decision for a command (or a path) without running anything. Exits 0 whatever it decides.

    Judged in this process with the daemon's config (no daemon needed or started).
    """
    return run_check(command, mode=mode, path=path, op=op, workspace=workspace, json=json)


@policy.command
def test(
    file: Annotated[Path, Parameter(help="Cases: .jsonl ({cmd, expect, mode?, note?} per line), .toml ([[case]]) or corpus lines (EXPECT :: COMMAND :: REASON).")],
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
        pol, m = policy_here(mode, workspace)
        report = run_cases(pol, cases, m)
        if json:
            ctx.print_json(report.to_json())
        else:
            _print_report(report, file)
        return 0 if report.met == len(report.results) else 1

    return local(body)


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

"""``aios audit``: the audit trail (one record per decision on an action) and ``aios audit verify``.

Exit codes: 0; 1 when ``verify`` finds a broken chain (or an error); 2 for bad options; 3 when
the daemon cannot be reached.
"""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag
from ._text import printable

app = App(name="audit", help="The audit trail: every decision on a command or file operation, hash-chained.")

Since = Annotated[str | None, Parameter(help="Only records since then: an age (30m, 2h, 7d) or a date (2026-11-01).")]
DecisionOpt = Annotated[Literal["block", "confirm", "allow"] | None, Parameter(help="Only this decision.")]
ToolOpt = Annotated[str | None, Parameter(help="Only calls of this tool (bash, write, …).")]
SessionOpt = Annotated[str | None, Parameter(help="Only this chat session.")]
LimitOpt = Annotated[int, Parameter(help="At most this many records (newest first), 1 to 10000.")]
FollowOpt = Annotated[bool, Parameter(help="Keep printing records as they are appended (Ctrl-C stops).", negative=())]


def _approver(r: dict[str, Any]) -> str:
    how = str(r.get("approved_how") or "-")
    if r.get("approver_uid") is not None and how in ("person", "approver", "flag"):
        how += f" uid {r['approver_uid']}"
    if r.get("approver_tty"):
        how += f" {r['approver_tty']}"
    if r.get("grant_id"):
        how += f" {r['grant_id']}"
    return how


def _line(r: dict[str, Any]) -> str:
    if r.get("kind") == "prune":
        return f"{str(r.get('time'))[:19]}  {printable(str(r.get('origin')))}#{r.get('seq')}  {printable(str(r.get('reason')))}"
    code = "-" if r.get("exit_code") is None else r["exit_code"]
    agent = "" if r.get("agent") in (None, "main") else f" [{r['agent']}]"
    return (f"{str(r.get('time'))[:19]}  {r.get('decision'):<7} {r.get('tool')}{agent}: {printable(str(r.get('subject')))}"
            f"  (uid {r.get('requester_uid')} {r.get('client')}, {_approver(r)}, exit {code}, rule {r.get('rule')})")


@app.default
def audit(
    *,
    since: Since = None,
    decision: DecisionOpt = None,
    tool: ToolOpt = None,
    session: SessionOpt = None,
    limit: LimitOpt = 50,
    follow: FollowOpt = False,
    json: JsonFlag = False,
) -> int:
    """Audit records, newest first: time, decision, tool, command or path, requester, approver, exit code.

    With --json, one array of records; with --follow, records as they happen (with --json, one
    object per line). The daemon's owner and root see every record; others their own.
    """
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("since", since), ("decision", decision), ("tool", tool), ("session", session)):
        if value is not None:
            params[key] = value
    if follow:
        return _follow(params, json)

    def body() -> int:
        records: list[dict[str, Any]] = ctx.call("audit.list", params)
        if json:
            ctx.print_json(records)
            return 0
        if not records:
            print("no audit records")
            return 0
        from . import _render

        _render.table(
            ["time", "decision", "tool", "command or path", "requester", "approver", "exit", "rule"],
            [
                [
                    _render.short_time(r.get("time", "")), r.get("decision") or r.get("kind"), _tool(r),
                    printable(str(r.get("subject") or r.get("reason") or "")), f"uid {r.get('requester_uid')} {r.get('client')}",
                    _approver(r), "-" if r.get("exit_code") is None else r["exit_code"], r.get("rule") or "-",
                ]
                for r in records
            ],
        )
        return 0

    return ctx.run(body)


def _tool(r: dict[str, Any]) -> str:
    agent = r.get("agent")
    return f"{r.get('tool')} ({agent})" if agent not in (None, "main") else str(r.get("tool") or "-")


def _follow(params: dict[str, Any], json: bool) -> int:
    def show(method: str, p: dict[str, Any]) -> None:
        if method != "audit.record":
            return
        sys.stdout.write((jsonlib.dumps(p, ensure_ascii=False) if json else _line(p)) + "\n")
        sys.stdout.flush()

    def body() -> int:
        try:
            with ctx.client() as c:
                c.call("audit.follow", params, on_notification=show)
        except KeyboardInterrupt:
            return 0
        return 0

    return ctx.run(body)


@app.command
def verify(*, json: JsonFlag = False) -> int:
    """Check every origin's hash chain; exit 1 naming the first broken record (edited, deleted, reordered)."""

    def body() -> int:
        result: dict[str, Any] = ctx.call("audit.verify")
        if json:
            ctx.print_json(result)
        elif result["ok"]:
            origins = ", ".join(f"{printable(o)}: {n}" for o, n in result["origins"].items()) or "no records"
            print(f"audit trail ok: {result['records']} records ({origins})")
        else:
            b = result["broken"]
            where = f"row {b['row']}" if b.get("row") is not None else "no such row"
            print(f"audit trail broken at {printable(b['origin'])} seq {b['seq']} ({where}): {printable(b['problem'])}", file=sys.stderr)
        return 0 if result["ok"] else 1

    return ctx.run(body)

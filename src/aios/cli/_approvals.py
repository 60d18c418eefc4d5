"""``aios approvals``, ``aios approve ID``, ``aios deny ID``: other users' pending requests.

A request from a uid other than the daemon's owner that needs a confirmation waits for an
approver (the owner, root, or a member of ``daemon.approver_gids``; never its requester).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from cyclopts import Parameter

from . import _context as ctx
from ._status import JsonFlag
from ._text import printable

IdArg = Annotated[str, Parameter(help="The approval's id, as 'aios approvals' shows it.")]


def _requester(item: dict[str, Any]) -> str:
    who = item.get("requester") or {}
    return f"{who.get('name')} (uid {who.get('uid')})"


def approvals(*, json: JsonFlag = False) -> int:
    """Pending requests of other users: id, command, requester, plan, snapshot, time left.

    An approver sees every one; anyone else sees their own.
    """

    def body() -> int:
        items: list[dict[str, Any]] = ctx.call("approvals.list")
        if json:
            ctx.print_json(items)
            return 0
        if not items:
            print("no pending approvals")
            return 0
        now = time.time()
        for item in items:
            left = max(0, int(item["expires_at"] - now))
            print(f"{item['id']}  {printable(item['tool'])}: {printable(item['command'])}")
            print(f"  requester  {_requester(item)}")
            print(f"  plan       {printable(item.get('plan') or '-')}")
            print(f"  snapshot   {'taken first' if item.get('snapshot') else 'none'}; "
                  f"{'runs on the host' if item.get('changes_system') else 'runs in the jail'} when approved")
            if item.get("targets"):
                print(f"  writes     {printable(', '.join(item['targets']))}")
            print(f"  expires    in {left} s (no decision is a denial)")
        return 0

    return ctx.run(body)


def _decide(method: str, approval_id: str, json: bool) -> int:
    def body() -> int:
        result = ctx.call(method, {"id": approval_id})
        if json:
            ctx.print_json(result)
        else:
            verb = "approved" if result["approved"] else "denied"
            print(f"{verb} {result['id']}: {printable(result['command'])} (asked by {_requester(result)})")
        return 0

    return ctx.run(body)


def approve(approval_id: IdArg, /, *, json: JsonFlag = False) -> int:
    """Grant another user's pending request (it runs as 'aios approvals' described it)."""
    return _decide("approvals.approve", approval_id, json)


def deny(approval_id: IdArg, /, *, json: JsonFlag = False) -> int:
    """Refuse a pending request (its requester may withdraw their own)."""
    return _decide("approvals.deny", approval_id, json)

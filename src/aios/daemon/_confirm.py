"""The ``confirm`` round trip: the daemon asks the client, which asks the person.

Only for the daemon's owner (and root): a request from any other uid is never asked to confirm
its own escalation; it waits for an approver instead (see ``_approvals.py``).

No answer before ``security.confirm_timeout``, a client that goes away, a client that cannot
ask (no TTY) or answers with an error: all count as a denial. An approval given by a flag
(``--yes``) instead of a person is refused in paranoid mode, whatever the client says.
"""

from __future__ import annotations

import time
from typing import Any

import trio

from aios.errors import ClientError
from aios.tools import Approval

from ._approvals import is_owner, user_name
from ._registry import RequestContext

APPROVED_HOW = ("person", "flag", "grant")
"""How an owner's client may say an approval was given (``approver`` is the daemon's own)."""


async def ask(ctx: RequestContext, params: dict[str, Any], *, mode: str) -> Approval:
    """Send ``confirm`` to the caller; wait at most ``security.confirm_timeout`` for the answer.

    A caller other than the owner gets no ``confirm``: the action becomes a pending approval
    (``approval.pending``) that only an approver can grant, within ``daemon.approval_timeout``.

    Cancellation: cancelling the caller abandons the question; the reply, if it comes, is dropped.
    """
    if not is_owner(ctx.peer.uid):
        return await _wait_for_approver(ctx, params, mode=mode)
    timeout = float(ctx.services.config.security.confirm_timeout)
    with trio.move_on_after(timeout) as scope:
        try:
            reply = await ctx.request("confirm", dict(params, mode=mode, timeout_s=timeout))
        except ClientError as exc:
            gone = "went away" in str(exc)
            return Approval(False, "client-gone" if gone else "client-error")
    if scope.cancelled_caught:
        return Approval(False, "timeout")
    if not isinstance(reply, dict) or not isinstance(reply.get("approve"), bool):
        return Approval(False, "client-error")
    how = str(reply.get("how", "person"))
    if not reply["approve"]:
        return Approval(False, how if how in ("no-tty", "person", "flag") else "person")
    if how not in APPROVED_HOW:
        how = "person"
    if how == "flag" and mode == "paranoid":
        return Approval(False, "refused-flag")
    return Approval(True, how, remember=reply.get("remember") == "session" and how == "person")


async def _wait_for_approver(ctx: RequestContext, params: dict[str, Any], *, mode: str) -> Approval:
    """Hold another user's escalation until an approver decides; tell the requester meanwhile.

    ``Approval(True, "approver")`` when an approver granted it; else ``person`` (an approver, or
    the requester withdrawing it, denied it) or ``timeout`` (``daemon.approval_timeout``).

    Cancellation: the requester going away withdraws the request.
    """
    timeout = float(ctx.services.config.daemon.approval_timeout)
    approvals = ctx.services.approvals
    pending = approvals.open(params, requester_uid=ctx.peer.uid, mode=mode, expires_at=time.time() + timeout)
    try:
        with trio.move_on_after(timeout):
            await ctx.notify("approval.pending", {
                **pending.to_json(), "timeout_s": timeout,
                "how": f"an approver runs 'aios approve {pending.id}' or 'aios deny {pending.id}'",
            })
            await pending.done.wait()
    finally:
        approvals.close(pending)
    if pending.approved is None:
        await ctx.notify("approval.decided", {"id": pending.id, "approved": False, "by": None, "how": "timeout"})
        return Approval(False, "timeout")
    by = pending.decided_by if pending.decided_by is not None else -1
    await ctx.notify("approval.decided", {"id": pending.id, "approved": pending.approved,
                                          "by": {"uid": by, "name": user_name(by)}, "how": "approver"})
    return Approval(True, "approver", by=pending.decided_by) if pending.approved else Approval(False, "person", by=pending.decided_by)

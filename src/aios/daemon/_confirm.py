"""The ``confirm`` round trip: the daemon asks the client, which asks the person.

No answer before ``security.confirm_timeout``, a client that goes away, a client that cannot
ask (no TTY) or answers with an error: all count as a denial. An approval given by a flag
(``--yes``) instead of a person is refused in paranoid mode, whatever the client says.
"""

from __future__ import annotations

from typing import Any

import trio

from aios.errors import ClientError
from aios.tools import Approval

from ._registry import RequestContext

APPROVED_HOW = ("person", "flag", "grant")


async def ask(ctx: RequestContext, params: dict[str, Any], *, mode: str) -> Approval:
    """Send ``confirm`` to the caller; wait at most ``security.confirm_timeout`` for the answer.

    Cancellation: cancelling the caller abandons the question; the reply, if it comes, is dropped.
    """
    timeout = float(ctx.daemon.config.security.confirm_timeout)
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

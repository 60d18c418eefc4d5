"""The ``confirm`` round trip: the daemon asks the client, which asks the person.

No answer before ``security.confirm_timeout``, a client that goes away, a client that cannot
ask (no TTY) or answers with an error: all count as a denial. An approval given by a flag
(``--yes``) instead of a person is refused in paranoid mode, whatever the client says.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from aios.errors import ClientError

from ._registry import RequestContext

APPROVED_HOW = ("person", "flag", "grant")


@attrs.frozen
class Answer:
    """What came of one confirmation."""

    approved: bool
    how: str
    """person | flag | grant | no-tty | timeout | client-gone | client-error | refused-flag."""

    def to_json(self) -> dict[str, Any]:
        return {"approved": self.approved, "how": self.how}


async def ask(ctx: RequestContext, params: dict[str, Any], *, mode: str) -> Answer:
    """Send ``confirm`` to the caller; wait at most ``security.confirm_timeout`` for the answer.

    Cancellation: cancelling the caller abandons the question; the reply, if it comes, is dropped.
    """
    timeout = float(ctx.daemon.config.security.confirm_timeout)
    with trio.move_on_after(timeout) as scope:
        try:
            reply = await ctx.request("confirm", dict(params, mode=mode, timeout_s=timeout))
        except ClientError as exc:
            gone = "went away" in str(exc)
            return Answer(False, "client-gone" if gone else "client-error")
    if scope.cancelled_caught:
        return Answer(False, "timeout")
    if not isinstance(reply, dict) or not isinstance(reply.get("approve"), bool):
        return Answer(False, "client-error")
    how = str(reply.get("how", "person"))
    if not reply["approve"]:
        return Answer(False, how if how in ("no-tty", "person", "flag") else "person")
    if how not in APPROVED_HOW:
        how = "person"
    if how == "flag" and mode == "paranoid":
        return Answer(False, "refused-flag")
    return Answer(True, how)

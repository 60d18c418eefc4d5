"""Pending approvals: what another user's request asks for beyond its own rights.

A request never gets more than its requester could do alone unless an *approver* grants it
(docs/security.md, "Who is trusted with what"). Requests from the daemon's owner (and root) are confirmed by
the person at their own terminal, as before. A ``confirm`` decision on a request from any other
uid is never sent back to that requester: it becomes a :class:`Pending` approval that the owner,
root or a member of ``daemon.approver_gids`` grants with ``approvals.approve`` (``aios approve
ID``) — never the requester. The requester may withdraw it (``approvals.deny``); no decision
within ``daemon.approval_timeout`` is a denial. The requester's call waits meanwhile and is told
(``approval.pending`` and ``approval.decided`` notifications).
"""

from __future__ import annotations

import os
import pwd
import secrets
import time
from typing import TYPE_CHECKING, Any

import attrs
import trio

from aios.errors import InvalidParams, PolicyBlocked

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._listen import PeerCred


def is_owner(uid: int) -> bool:
    """The daemon's own user, or root: what they ask is confirmed by themselves."""
    return uid in (os.geteuid(), 0)


def is_approver(peer: PeerCred, approver_gids: Sequence[int]) -> bool:
    """The owner, root, or a member (primary or supplementary) of ``daemon.approver_gids``."""
    if is_owner(peer.uid):
        return True
    gids = set(approver_gids)
    if not gids:
        return False
    if peer.gid in gids:
        return True
    try:
        name = pwd.getpwuid(peer.uid).pw_name
        return bool(gids.intersection(os.getgrouplist(name, peer.gid)))
    except (KeyError, OSError):
        return False


APPROVERS_ONLY: dict[str, str] = {
    "shutdown": "stop the daemon",
    "policy.grant": "add a grant",
    "policy.revoke": "revoke a grant",
    "snapshot.create": "take a snapshot as the daemon",
    "snapshot.restore": "restore a snapshot",
    "snapshot.delete": "delete a snapshot",
}
"""Methods that act as the daemon on everyone's behalf (method -> what it does, for the error):
another user allowed on the socket could otherwise stop everyone's work, change what everyone is
asked, read root-only files into a snapshot or put back an old /etc."""


def check_method(method: str, peer: PeerCred, approver_gids: Sequence[int]) -> None:
    """Refuse an approvers-only method to anyone else.

    Raises:
        PolicyBlocked: ``method`` is in :data:`APPROVERS_ONLY` and ``peer`` is not an approver.
    """
    what = APPROVERS_ONLY.get(method)
    if what is not None and not is_approver(peer, approver_gids):
        raise PolicyBlocked(f"uid {peer.uid} may not {what}: only the daemon's owner, root and members of "
                            "daemon.approver_gids may")


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@attrs.define(eq=False)
class Pending:
    """One request waiting for an approver."""

    id: str
    requester_uid: int
    params: dict[str, Any]
    """What the ``confirm`` request would have carried: tool, command, reason, rule, plan …"""
    mode: str
    created_at: float
    expires_at: float
    done: trio.Event = attrs.field(factory=trio.Event)
    """Set when an approver (or the requester, withdrawing it) decided."""
    approved: bool | None = None
    decided_by: int | None = None

    def to_json(self) -> dict[str, Any]:
        p = self.params
        return {
            "id": self.id,
            "tool": p.get("tool"),
            "command": p.get("command"),
            "requester": {"uid": self.requester_uid, "name": user_name(self.requester_uid)},
            "reason": p.get("reason"),
            "rule": p.get("rule"),
            "plan": p.get("plan") or p.get("reason"),
            "snapshot": bool(p.get("snapshot")),
            "changes_system": bool(p.get("changes_system")),
            "targets": p.get("targets", []),
            "mode": self.mode,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


class Approvals:
    """The pending approvals of one daemon (in memory: they end with the daemon)."""

    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}

    def open(self, params: dict[str, Any], *, requester_uid: int, mode: str, expires_at: float) -> Pending:
        """Register an escalation of ``requester_uid`` until an approver decides (or it expires)."""
        pending = Pending(secrets.token_hex(4), requester_uid, dict(params), mode, time.time(), expires_at)
        self._pending[pending.id] = pending
        return pending

    def close(self, pending: Pending) -> None:
        """Forget a pending approval (decided, expired, or its requester went away)."""
        self._pending.pop(pending.id, None)

    def list(self, viewer: PeerCred, approver_gids: Sequence[int]) -> list[dict[str, Any]]:
        """Pending approvals, oldest first: all of them for an approver, else the viewer's own."""
        everyone = is_approver(viewer, approver_gids)
        return [p.to_json() for p in sorted(self._pending.values(), key=lambda p: p.created_at)
                if everyone or p.requester_uid == viewer.uid]

    def decide(self, approval_id: str, approve: bool, peer: PeerCred, approver_gids: Sequence[int]) -> Pending:
        """Approve or deny a pending approval.

        Anyone who may approve it may deny it; its requester may deny (withdraw) it but never
        approve it.

        Raises:
            InvalidParams: no pending approval has this id (decided, timed out or never was).
            PolicyBlocked: ``peer`` may not make this decision.
        """
        pending = self._pending.get(approval_id)
        if pending is None:
            raise InvalidParams(f"no pending approval {approval_id!r} ('aios approvals' lists them; "
                                "one that timed out or was decided is gone)")
        own = pending.requester_uid == peer.uid
        if approve and own:
            raise PolicyBlocked(f"uid {peer.uid} asked for {approval_id} and cannot approve its own request: "
                                "the daemon's owner, root or a member of daemon.approver_gids must")
        if not own and not is_approver(peer, approver_gids):
            raise PolicyBlocked(f"uid {peer.uid} may not decide other users' requests: only the daemon's owner, "
                                "root and members of daemon.approver_gids may")
        pending.approved = approve
        pending.decided_by = peer.uid
        self._pending.pop(approval_id, None)
        pending.done.set()
        return pending

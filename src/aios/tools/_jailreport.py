"""What the bash tool says about the jail: a request to run on the host, and what the jail did.

The jail shows the host read-only and hides secrets; a command that fails there for lack of
access is told so in words (and, in normal mode, how to ask for the host profile inside a
snapshot), a command that names a hidden path is told it was hidden, and git metadata the
runner undid is in the result too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from aios.sandbox import JailResult
    from aios.security import Decision

    from ._base import ToolContext

CHANGED_KEPT = 100
"""Paths the command changed, kept in the result's metadata."""


def ask_host(ctx: ToolContext, decision: Decision, host: bool) -> Decision:
    """The decision for ``host=true``: in normal mode always confirmed, as a system change (so
    with a snapshot); refused in the stricter modes; a block stays a block."""
    if not host or decision.action == "block" or ctx.mode == "trusted":
        return decision
    if ctx.mode != "normal":
        return attrs.evolve(
            decision,
            action="block",
            rule="mode.no-host",
            reason=f"{ctx.mode} mode runs every command in the jail; host=true needs normal mode",
        )
    return attrs.evolve(
        decision,
        action="confirm",
        changes_system=True,
        reason=f"asked to run on the host, outside the jail, in a snapshot ({decision.reason})",
    )


def jail_report(ctx: ToolContext, decision: Decision, res: JailResult, profile: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Metadata about the jail for the result, and words for its output and error.

    Returns:
        (metadata, words): metadata has ``hidden`` (paths the jail hid), ``changed`` (what the
        command created or changed in the workspace), ``undone`` (git metadata undone),
        ``access_denied`` and ``offer`` (``"host"`` when the command may be asked again with
        ``host=true``); words has ``output`` (a note appended to the output) and ``error``.
    """
    from aios.sandbox import named_hidden

    meta: dict[str, Any] = {}
    words: dict[str, str] = {}
    if profile != "jail":
        return meta, words
    if res.hidden:
        meta["hidden"] = list(res.hidden)
    if res.changed:
        meta["changed"] = list(res.changed[:CHANGED_KEPT])
    if res.undone:
        meta["undone"] = list(res.undone)
    named = named_hidden((w for argv in decision.commands for w in argv), res.hidden)
    if named:
        words["output"] = (
            f"[aios: hidden in the jail, so shown empty or missing: {', '.join(named)} (secrets and the daemon's own files)]"
        )
    if res.exit_code != 0 and res.denied and not res.timed_out:
        meta["access_denied"] = list(res.denied)
        error = (
            f"it failed for lack of access inside the jail ({res.denied[0]}): the jail shows the system "
            "read-only, writable only in the workspace and $TMPDIR, and hides secrets"
        )
        if ctx.mode == "normal":
            meta["offer"] = "host"
            error += (
                "; to run it on the host inside a snapshot, ask again with host=true "
                "(aios run --host); the person is asked first"
            )
        else:
            error += f"; {ctx.mode} mode never runs commands outside the jail"
        words["error"] = error
    return meta, words

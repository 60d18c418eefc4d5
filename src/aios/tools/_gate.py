"""The one path every action takes before it runs: policy, confirmation, snapshot.

:func:`gate` judges an action with the policy, asks the person when the decision (or the mode)
says so, remembers nothing but exact session grants, and takes a ``pre-exec`` snapshot when the
action changes the system. It returns a :class:`Gate` that says whether to go on, and with which
jail profile; a refusal is recorded in memory right here, so no caller can forget it.
"""

from __future__ import annotations

import os
import pwd
import re
import time
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._base import Approval, ToolContext, ToolResult
from ._guard import targets_block

if TYPE_CHECKING:
    from aios.sandbox import Identity, Jail
    from aios.security import Decision

EXIT_REFUSED = 126
"""Exit code of an action the policy blocked or the person refused (as in ``aios run``)."""


@attrs.frozen
class Gate:
    """What :func:`gate` decided."""

    go: bool
    decision: Decision
    approval: Approval | None
    snapshot_id: str | None
    profile: Literal["jail", "host"]
    """jail | host (a confirmed system change in normal mode runs with the host profile)."""
    refusal: ToolResult | None = None
    at: float = attrs.field(factory=time.time)
    """When the action was let through (after any question): the start of its duration."""

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "decision": self.decision.action,
            "rule": self.decision.rule,
            "reason": self.decision.reason,
            "changes_system": self.decision.changes_system,
            "profile": self.profile,
        }
        if self.approval is not None:
            meta["approved"] = self.approval.approved
            meta["approved_how"] = self.approval.how
            if self.approval.by is not None:
                meta["approver_uid"] = self.approval.by
        if self.go:
            meta["gate_at"] = self.at  # the audit record's duration, for tools that do not time themselves
        if self.snapshot_id:
            meta["snapshot_id"] = self.snapshot_id
        return meta


async def gate(ctx: ToolContext, decision: Decision, *, tool: str, subject: str, what: dict[str, Any]) -> Gate:
    """Decide whether an action may run; ask, snapshot and record as needed.

    Args:
        ctx: the call's context.
        decision: the policy's verdict on the action.
        tool: the tool's name (bash, write, a plugin …).
        subject: the action in one line (a command line, "write /etc/motd") for memory and prompts.
        what: extra fields for the confirmation request and the record.

    Cancellation: cancelling while the person is asked abandons the question (a denial).
    """
    decision = targets_block(decision, ctx.protected) or decision  # the daemon's own files, always
    if ctx.decided is not None:
        ctx.decided(subject, {**what, "tool": tool, "decision": decision.action, "rule": decision.rule,
                              "reason": decision.reason, "session": ctx.session, "origin": ctx.origin})
    will_snapshot = decision.changes_system and ctx.snapshot is not None and ctx.mode != "trusted"
    approval: Approval | None = None
    if decision.action == "block":
        return await _refuse(ctx, decision, None, tool=tool, subject=subject, what=what)
    if decision.action == "confirm":
        key = f"{tool}\0{subject}"
        # A remembered approval never covers files the jail wrote since: the person is asked
        # again, with the list in front of them.
        # ... and only in normal mode: paranoid and safe ask every time (a grant made in normal
        # mode must not answer for a stricter request or a reload to a stricter mode).
        if key in ctx.grants and ctx.mode == "normal" and not what.get("jail_changed"):
            approval = Approval(True, "grant")
        else:
            approval = await ctx.confirm(
                {
                    "tool": tool,
                    "command": subject,
                    "decision": decision.action,
                    "rule": decision.rule,
                    "reason": decision.reason,
                    "changes_system": decision.changes_system,
                    "snapshot": will_snapshot,
                    **what,
                }
            )
            if approval.approved and approval.remember and approval.how == "person":
                ctx.grants.add(key)
                if ctx.on_grant is not None:
                    ctx.on_grant(tool, subject)
        if not approval.approved:
            return await _refuse(ctx, decision, approval, tool=tool, subject=subject, what=what)
    snapshot_id = None
    if will_snapshot and ctx.snapshot is not None:
        snapshot_id = await ctx.snapshot(f"before {tool}: {subject}"[:200], {"tool": tool, "command": subject, "targets": list(decision.targets)})
    host = decision.changes_system and approval is not None and approval.approved and ctx.mode == "normal"
    if ctx.mode == "trusted":
        host = True
    return Gate(True, decision, approval, snapshot_id, "host" if host else "jail")


async def _refuse(
    ctx: ToolContext, decision: Decision, approval: Approval | None, *, tool: str, subject: str, what: dict[str, Any]
) -> Gate:
    if decision.action == "block":
        error = f"blocked by the {ctx.mode} policy: {decision.reason}"
    elif approval is not None and approval.how == "refused-flag":
        error = f"not run: {ctx.mode} mode needs a person to approve it (--yes is not enough): {decision.reason}"
    elif approval is not None and approval.how in ("no-tty", "timeout", "client-gone", "client-error"):
        error = f"not run: confirmation needed and none was given ({approval.how}): {decision.reason}"
    else:
        error = f"not run: the person denied it ({decision.reason})"
    g = Gate(False, decision, approval, None, "jail")
    meta = {**g.metadata(), "tool": tool, "exit_code": EXIT_REFUSED, "session": ctx.session, "origin": ctx.origin}
    meta.update({k: v for k, v in what.items() if k not in meta})
    memory_id = await ctx.record("Command", subject, meta)
    meta["memory_id"] = memory_id
    result = ToolResult(False, "", error, meta)
    return attrs.evolve(g, refusal=result)


# Variables that make an interpreter (or the dynamic loader, git, a shell) load code from where
# they point. The host profile never inherits them; a command line that sets them is named.
_CODE_VARS = re.compile(
    r"(?<![\w$])(PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|PYTHONUSERBASE|LD_\w+|GIT_\w+|\w+_OPTIONS|"
    r"PERL5OPT|PERL5LIB|PERLLIB|RUBYOPT|RUBYLIB|NODE_PATH|BASH_ENV|ENV|PROMPT_COMMAND)="
)
SHOWN = 20
"""Jail-written files listed by name in one confirmation (the rest are counted)."""
KEPT = 200
"""Jail-written files kept in the confirmation's fields and the record."""


def host_notes(ctx: ToolContext, decision: Decision, command: str) -> dict[str, Any]:
    """Confirmation fields for a command that will run with the host profile if approved.

    It runs outside the jail in the workspace, which jailed commands (so the model) may have
    written: ``python3 -m pip`` once ran a planted ``pip/__main__.py`` as root. The person is
    told, in words, which files in its working directory the jail created or changed, which of
    them the command names, and which code-loading variables the command line sets.

    Returns:
        ``profile``, ``notes`` (sentences), ``jail_changed`` and ``jail_changed_named`` (paths
        relative to the workspace); ``jail_changed`` non-empty also makes a session grant not
        count (see :func:`gate`).
    """
    from aios.sandbox import named_paths

    ws = str(ctx.jail.workspace)
    user = _user(ctx)
    changed = ctx.jail.changed_files()
    words = [w for argv in decision.commands for w in argv] or command.split()
    named = list(named_paths(words, ws, changed))
    notes = [f"runs outside the jail as {user}, in {ws}"]
    if named:
        notes.append(
            f"it names files that jailed commands wrote: {_listing(named)} "
            f"(it may run them as {user}; check them first)"
        )
    if changed:
        notes.append(
            f"jailed commands created or changed {len(changed)} "
            f"{'entry' if len(changed) == 1 else 'entries'} in its working directory, which it "
            f"may read or run: {_listing(changed)}"
        )
    variables = sorted(set(_CODE_VARS.findall(command)))
    if variables:
        notes.append(f"it sets {', '.join(variables)}, which make programs load code from where they point")
    return {"profile": "host", "notes": notes, "jail_changed": changed[-KEPT:], "jail_changed_named": named[-KEPT:]}


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[-SHOWN:])  # newest last: the latest writes matter most
    return shown if len(paths) <= SHOWN else f"{shown} and {len(paths) - SHOWN} more"


def _user(ctx: ToolContext) -> str:
    if ctx.requester is not None:
        return ctx.requester.name
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def acting_for(ctx: ToolContext, g: Gate) -> Identity | None:
    """Whose permissions an allowed action runs with: the requester's (another local user), or
    the daemon's when an approver granted this action — "never more than the requester could do
    alone, unless an approver approves it" (docs/security.md, "Who is trusted with what")."""
    if g.approval is not None and g.approval.how == "approver":
        return None
    return ctx.requester


def jail_for_gate(ctx: ToolContext, g: Gate) -> Jail:
    """The jail an allowed action runs in: as the requester, or as the daemon's sandbox user (and,
    with the host profile, as the daemon) when an approver granted it."""
    if ctx.requester is not None and acting_for(ctx, g) is None:
        return ctx.jail.elevated()
    return ctx.jail

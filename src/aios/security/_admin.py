"""Decisions for the typed admin tools (packages, services, containers, git).

A typed action is data (an action name and validated targets), but the decision still comes from
the same place as for a shell line: the action is judged as the command line it will run, so the
security classes that normal mode blocks (firewall, audit, SELinux/AppArmor, kernel modules …)
are blocked here too, whatever the tool. On top of that verdict the action's kind decides:

- ``read`` actions are ``allow`` (a blocked equivalent command stays blocked);
- ``workspace`` actions (a commit in the workspace) get the policy's own verdict on the line;
- ``send`` actions (a git push) are ``confirm`` like any data sent off the host (paranoid: only
  with ``tool:NAME:ACTION`` in ``security.allow``; safe: blocked);
- ``system`` actions (everything that changes the system) are ``confirm`` in normal mode, ``block`` in safe mode, ``block`` in paranoid
  mode unless ``security.allow`` names ``tool:NAME:ACTION`` (then ``confirm``), and ``allow`` in
  trusted mode.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import attrs

from ._decision import Decision

if TYPE_CHECKING:
    from ._engine import Policy

Kind = Literal["read", "workspace", "send", "system"]


def admin_decision(
    policy: Policy,
    *,
    tool: str,
    action: str,
    argv: Sequence[str],
    kind: Kind,
    mode: str,
    allow: Sequence[str] | None,
    targets: Sequence[str] = (),
) -> Decision:
    """The decision for one typed action.

    The command line it runs is judged in normal mode (or trusted) for the classes every mode
    blocks; safe and paranoid mode then decide by the action's kind, not by their command allow
    lists (a typed action is not a command line the model wrote).

    Args:
        policy: the request's policy.
        tool: the tool's name (``packages`` …).
        action: the action (``install`` …).
        argv: the command the action runs, for the reason text.
        kind: what the action does: read, workspace (changes only the workspace), send (data
            off the host) or system.
        mode: the request's mode.
        allow: ``security.allow`` (paranoid's allow list).
        targets: paths the action will change (for the pre-exec snapshot).
    """
    line = shlex.join(argv)
    base = policy.check_command(line, mode="trusted" if mode == "trusted" else "normal")
    if kind == "workspace":
        base = policy.check_command(line, mode=mode)
    system = kind == "system"
    if base.action == "block":
        return attrs.evolve(base, changes_system=system or base.changes_system, targets=tuple(targets))
    if kind == "read":
        return Decision(
            "allow", f"tool.{tool}.read", f"allows: {tool} {action} only reads ({line})",
            commands=base.commands, changes_system=False, privileged=base.privileged,
        )
    if kind == "workspace":
        return attrs.evolve(base, changes_system=False, targets=())
    rule = f"tool.{tool}.{action}"
    if mode == "trusted":
        verdict, reason = "allow", f"allows: {tool} {action} (trusted mode): {line}"
    elif mode == "safe":
        verdict, reason = "block", f"blocks: {tool} {action} is a system change or sends data, which safe mode never does ({line})"
    elif mode == "paranoid":
        entry = f"tool:{tool}:{action}"
        if entry in (allow or ()):
            verdict, reason = "confirm", f"confirms: {tool} {action} is in security.allow ({entry}): {line}"
        else:
            verdict, reason = "block", f"blocks: {tool} {action} is not in paranoid mode's allow list (add '{entry}' to security.allow)"
    else:
        what = "sends data off this host" if kind == "send" else "changes the system"
        verdict, reason = "confirm", f"confirms: {tool} {action} {what}: {line}"
    return Decision(
        verdict,  # type: ignore[arg-type]
        rule,
        reason,
        commands=base.commands,
        changes_system=system,
        privileged=system,
        targets=tuple(targets),
    )

"""The value a policy check returns."""

from __future__ import annotations

from typing import Any, Literal

from attrs import frozen

Action = Literal["allow", "confirm", "block"]
PathOp = Literal["read", "write", "list"]

ACTIONS: tuple[Action, ...] = ("allow", "confirm", "block")
_RANK = {"allow": 0, "confirm": 1, "block": 2}


def action_rank(action: str) -> int:
    """Order of strictness: allow < confirm < block."""
    return _RANK[action]


@frozen
class Decision:
    """What the policy says about one command line or file operation.

    Attributes:
        action: ``allow``, ``confirm`` (ask the person) or ``block``.
        rule: id of the rule that fired, e.g. ``fs.rm-root``, ``mode.paranoid-allow``,
            ``default.allow``.
        reason: one sentence a person understands, naming the rule.
        commands: every simple command found, as argv words after unquoting.
        changes_system: the command writes outside the workspace, installs software, changes
            services and the like (the recovery layer takes a snapshot first).
        privileged: sudo/su/doas/pkexec, systemctl or a package manager is involved.
        targets: absolute paths the action will write or delete, as far as the policy can tell
            (a ``pre-exec`` snapshot covers these; empty when unknown).
    """

    action: Action
    rule: str
    reason: str
    commands: tuple[tuple[str, ...], ...] = ()
    changes_system: bool = False
    privileged: bool = False
    targets: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``aios policy check --json`` and the ``policy.check`` RPC."""
        return {
            "decision": self.action,
            "rule": self.rule,
            "reason": self.reason,
            "commands": [list(c) for c in self.commands],
            "changes_system": self.changes_system,
            "privileged": self.privileged,
            "targets": list(self.targets),
        }

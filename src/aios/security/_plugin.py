"""The decision for a plugin tool call: its code is not a command line, so the mode decides."""

from __future__ import annotations

from collections.abc import Sequence

from ._decision import Action, Decision


def plugin_decision(name: str, *, mode: str, allow: Sequence[str] | None) -> Decision:
    """Allow, confirm or block a call of the plugin tool ``name``.

    Args:
        name: the tool's registered name.
        mode: the request's security mode.
        allow: ``security.allow``; paranoid mode runs a plugin only when it lists ``tool:NAME``.
    """
    action: Action
    if mode == "paranoid" and f"tool:{name}" not in (allow or ()):
        action, rule = "block", "tool.plugin-paranoid"
        reason = f"blocks: plugin tool {name} is not in security.allow (add 'tool:{name}')"
    elif mode in ("safe", "paranoid"):
        action, rule = "confirm", "tool.plugin-confirm"
        reason = f"confirms: plugin tool {name} ({mode} mode confirms every action)"
    else:
        action, rule, reason = "allow", "tool.plugin", f"allows: plugin tool {name}"
    return Decision(action=action, rule=rule, reason=reason)

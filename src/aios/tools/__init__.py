"""Tools: what the model (or a person through ``aios run``) can do.

Built-ins ``bash`` (jailed), ``read``, ``write``, ``list``; plugins from the ``aios.tools``
entry-point group. Every call takes one path: argument validation, policy, confirmation,
snapshot, execution, memory record (see :mod:`aios.tools._gate`).
"""

from ._base import Approval, Confirm, Emit, Record, SnapshotHook, Tool, ToolContext, ToolResult
from ._gate import EXIT_REFUSED, Gate, gate
from ._protect import protected_paths
from ._registry import (
    ADMIN_TOOLS,
    GROUP,
    Entry,
    ToolRegistry,
    admin_tools_report,
    admin_tools_status,
)

__all__ = [
    "ADMIN_TOOLS",
    "EXIT_REFUSED",
    "GROUP",
    "Approval",
    "Confirm",
    "Emit",
    "Entry",
    "Gate",
    "Record",
    "SnapshotHook",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "admin_tools_report",
    "admin_tools_status",
    "gate",
    "protected_paths",
]

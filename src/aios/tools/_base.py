"""The Tool protocol, what a call returns, and what a call may use (its context)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from aios.config import Config
    from aios.sandbox import Identity, Jail
    from aios.security import Policy

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Send a notification to the caller (``tool.started``, ``tool.output`` …)."""


@attrs.frozen
class Approval:
    """What came of asking the person (or of a remembered grant)."""

    approved: bool
    how: str
    """person | flag | grant | no-tty | timeout | client-gone | client-error | refused-flag."""
    remember: bool = False
    """The person approved this exact action for the rest of the session."""
    by: int | None = None
    """The approver's uid, when it is not the requester's own client that answered."""


Confirm = Callable[[dict[str, Any]], Awaitable[Approval]]
"""Ask the caller's person about one action (the ``confirm`` request)."""

SnapshotHook = Callable[[str, dict[str, Any]], Awaitable[str | None]]
"""Take a ``pre-exec`` snapshot before a system change; returns its id (None: nothing taken)."""

Rollback = Callable[[str], Awaitable[dict[str, Any]]]
"""Restore a pre-exec snapshot after the action it wrapped failed (``recovery.auto_rollback``)."""

Record = Callable[[str, str, dict[str, Any]], Awaitable[str | None]]
"""Write one memory (type, content, metadata); returns its id."""


@attrs.frozen
class ToolResult:
    """The outcome of one tool call, as the model and the CLI see it."""

    ok: bool
    output: str = ""
    error: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "output": self.output, "error": self.error, "metadata": self.metadata}

    def event(self, tool: str, call_id: str | None) -> dict[str, Any]:
        """The ``tool.finished`` notification: flat, with an excerpt instead of the whole output."""
        meta = self.metadata
        out: dict[str, Any] = {"call_id": call_id, "tool": tool, "ok": self.ok, "error": self.error}
        for key in ("decision", "rule", "reason", "exit_code", "snapshot_id", "undo", "timed_out", "truncated",
                    "duration_s", "approved_how", "memory_id", "profile", "rolled_back"):
            if key in meta:
                out[key] = meta[key]
        out["excerpt"] = self.output[:500]
        return out

    def for_model(self) -> str:
        """The text the model gets back."""
        parts = []
        code = self.metadata.get("exit_code")
        if code is not None:
            parts.append(f"exit code {code}")
        if self.output:
            parts.append(self.output)
        if self.error:
            parts.append(f"error: {self.error}")
        return "\n".join(parts) or "(no output)"


@attrs.define
class ToolContext:
    """Everything one call may use. Built by the daemon per request.

    ``grants`` holds the exact commands the person approved "for this session"; it is shared by
    the calls of one session and never outlives it.
    """

    config: Config
    mode: str
    workspace: Path
    policy: Policy
    jail: Jail
    emit: Emit
    confirm: Confirm
    record: Record
    snapshot: SnapshotHook | None = None
    rollback: Rollback | None = None
    session: str | None = None
    origin: str = "cli"
    """Who asked: cli (a person through aios run / tools.call) or agent (the model)."""
    grants: set[str] = attrs.field(factory=set)
    call_id: str | None = None
    on_grant: Callable[[str, str], None] | None = None
    """Told (tool, action) when the person approves an exact action for the rest of the session."""
    requester: Identity | None = None
    """Who asked, when it is not the daemon's owner: tools act with this user's permissions
    (jail as them, file tools as them), never more (see docs/security.md, "Threat model")."""
    protected: tuple[Path, ...] = ()
    """The daemon's own files and directories (config, rules, units, state; see
    :func:`aios.tools.protected_paths`): no tool writes them, in any mode, approved or not."""
    decided: Callable[[str, dict[str, Any]], None] | None = None
    """Told (subject, fields) as soon as the policy has decided an action, before anyone is
    asked or anything runs: the daemon keeps it until the call's record is written, so a call
    cut short (cancelled, its client gone, the store locked) still leaves an audit record."""
    finished: Callable[[], Awaitable[None]] | None = None
    """Awaited (shielded) when the call ends, however it ends (see ``decided``)."""


@runtime_checkable
class Tool(Protocol):
    """A tool the model (or a person) can call.

    Plugins implement this: ``name``, ``description``, ``parameters`` (a JSON Schema object),
    and ``async def execute(self, args, context) -> ToolResult`` (or a dict with ``ok``,
    ``output``, ``error``, ``metadata``). ``framework`` says how to run ``execute``: ``"trio"``
    or ``"anyio"`` (run as is) or ``"asyncio"`` (bridged with trio-asyncio).
    """

    name: str
    description: str
    parameters: dict[str, Any]

    async def execute(self, args: dict[str, Any], context: ToolContext) -> Any: ...


Framework = Literal["trio", "anyio", "asyncio"]


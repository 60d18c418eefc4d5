"""The shape every typed admin tool shares: read actions, and changes with a plan.

A typed tool (``packages``, ``services``, ``containers``, ``git``) takes ``{"action": …}`` plus
validated arguments. A *read* action is judged, run and recorded like any tool call. A *changing*
action first computes a :class:`Change` — the command it will run and a plan a person can read
(what is installed at which version, which unit goes from which state to which) — then goes through
the one gate (policy verdict on the command line it will run, confirmation showing the plan, a
``pre-exec`` snapshot of exactly its targets), runs, **verifies** the result against the plan, and
with ``recovery.auto_rollback`` undoes what it can when the verification fails.
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import trio

from ._base import ToolContext, ToolResult
from ._gate import acting_for, gate, jail_for_gate
from ._host import HostResult, run_host

if TYPE_CHECKING:
    from aios.security import Kind

EXCERPT = 2000


class AdminError(Exception):
    """A typed action cannot be done as asked: the message says why in one line."""


@attrs.frozen
class Change:
    """What a changing action will do, computed before anything runs."""

    argv: tuple[str, ...]
    """The command that does it (judged by the policy, shown to the person)."""
    plan: dict[str, Any]
    """The plan as data (in the confirmation request and the result's metadata)."""
    plan_text: str
    """The plan in lines a person reads in the confirmation prompt."""
    targets: tuple[str, ...] = ()
    """Paths the action changes: the ``pre-exec`` snapshot covers exactly these."""
    kind: Kind = "system"
    """system, workspace (changes only the workspace) or send (data off the host)."""
    env: dict[str, str] = attrs.field(factory=dict)
    state: dict[str, Any] = attrs.field(factory=dict)
    """What the tool needs to verify and roll back (previous versions, states …)."""
    effects: tuple[tuple[str, ...], ...] = ()
    """Commands the action amounts to besides ``argv`` (the units systemd stops with it): each is
    judged too, and one the policy blocks blocks the action."""


@attrs.frozen
class Outcome:
    """What verification found: differences from the plan ([] means as planned)."""

    differences: list[str]
    rolled_back: list[str] = attrs.field(factory=list)
    not_rolled_back: list[str] = attrs.field(factory=list)


class AdminTool(ABC):
    """Base of the typed tools. Subclasses set the class attributes and implement the abstract
    hooks below; :meth:`execute` is the one flow they all share."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]
    read_actions: ClassVar[frozenset[str]]
    change_actions: ClassVar[frozenset[str]]
    restore_snapshot: ClassVar[bool] = True
    """Whether a failed change also restores its ``pre-exec`` snapshot (auto-rollback). False for
    packages: putting /var/lib/dpkg back under apt would lie about what is installed; the tool's
    own rollback reinstalls the previous versions instead."""

    @staticmethod
    def timeout(ctx: ToolContext) -> float:
        """Seconds a backend command may take (``tools.admin_timeout``)."""
        return float(ctx.config.tools.admin_timeout)

    async def host(self, ctx: ToolContext, argv: list[str] | tuple[str, ...], *,
                   env: dict[str, str] | None = None, as_requester: bool = True) -> HostResult:
        """Run a backend command on the host within ``tools.admin_timeout``; as the requester
        when another local user asked (unless ``as_requester`` is False: an approved change)."""
        with trio.move_on_after(self.timeout(ctx)):
            return await run_host(argv, env=env, who=ctx.requester if as_requester else None)
        return HostResult(tuple(argv), 124, "", "", timed_out=True)

    # Hooks ------------------------------------------------------------------------------------
    @abstractmethod
    def problem(self) -> str | None:
        """None when the backend can be used on this host, else one line saying why not."""

    async def unavailable(self, ctx: ToolContext) -> str | None:
        """:meth:`problem` for this call (a tool may also look at the request)."""
        return self.problem()

    @abstractmethod
    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        """The command line a read action amounts to (for the policy and the record)."""

    @abstractmethod
    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        """Do a read action: (text for the model, data for scripts). Raises AdminError."""

    @abstractmethod
    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        """Plan a changing action without changing anything. Raises AdminError."""

    @abstractmethod
    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        """Run the change: (succeeded, output or the backend's error)."""

    @abstractmethod
    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        """Differences between the system now and the plan ([] when as planned)."""

    async def rollback(self, change: Change, ctx: ToolContext) -> tuple[list[str], list[str]]:
        """Undo what can be undone: (what was rolled back, what could not be and why)."""
        return [], ["this action has no rollback"]

    # The one flow ------------------------------------------------------------------------------
    async def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        action: str = args["action"]
        why = await self.unavailable(ctx)
        if why is not None:
            result = ToolResult(False, "", why, {"tool": self.name, "action": action, "unavailable": True})
            return await self._record(ctx, f"{self.name} {action}", None, result)
        try:
            if action in self.read_actions:
                return await self._read(action, args, ctx)
            return await self._change(action, args, ctx)
        except AdminError as exc:
            result = ToolResult(False, "", str(exc), {"tool": self.name, "action": action})
            return await self._record(ctx, f"{self.name} {action}", None, result)

    async def _read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from aios.security import admin_decision

        argv = self.read_argv(action, args, ctx)
        line = shlex.join(argv)
        decision = admin_decision(ctx.policy, tool=self.name, action=action, argv=argv, kind="read",
                                  mode=ctx.mode, allow=ctx.config.security.allow)
        subject = f"{self.name} {action}: {line}"
        await ctx.emit("tool.started", {"call_id": ctx.call_id, "tool": self.name, "command": subject, **decision.to_json()})
        g = await gate(ctx, decision, tool=self.name, subject=subject, what={"action": action})
        if not g.go:
            assert g.refusal is not None
            await ctx.emit("tool.finished", g.refusal.event(self.name, ctx.call_id))
            return g.refusal
        text, data = await self.read(action, args, ctx)
        result = ToolResult(True, text, None, {"action": action, "data": data})
        return await self._record(ctx, subject, g, result)

    async def _change(self, action: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        from aios.security import admin_decision

        change = await self.prepare(action, args, ctx)
        line = shlex.join(change.argv)
        decision = admin_decision(ctx.policy, tool=self.name, action=action, argv=change.argv, kind=change.kind,
                                  mode=ctx.mode, allow=ctx.config.security.allow, targets=change.targets)
        for effect in change.effects:
            also = admin_decision(ctx.policy, tool=self.name, action=action, argv=effect, kind=change.kind,
                                  mode=ctx.mode, allow=ctx.config.security.allow, targets=change.targets)
            if also.action == "block" and decision.action != "block":
                decision = attrs.evolve(also, reason=f"{line} also does `{shlex.join(effect)}`: {also.reason}")
        subject = f"{self.name} {action}: {line}"
        what = {"action": action, "plan": change.plan, "plan_text": change.plan_text, "targets": list(change.targets)}
        await ctx.emit("tool.started", {"call_id": ctx.call_id, "tool": self.name, "command": subject, **decision.to_json(), "plan": change.plan})
        g = await gate(ctx, decision, tool=self.name, subject=subject, what=what)
        if not g.go:
            assert g.refusal is not None
            await ctx.emit("tool.finished", g.refusal.event(self.name, ctx.call_id))
            return g.refusal
        if ctx.requester is not None and acting_for(ctx, g) is None:
            # an approver granted another user's change: it runs with the daemon's permissions
            ctx = attrs.evolve(ctx, requester=None, jail=jail_for_gate(ctx, g))
        ok, output = await self.apply(change, ctx)
        differences = await self.verify(change, ctx)
        if not ok:
            differences = [f"the command failed: {output}", *differences]
        meta: dict[str, Any] = {"action": action, "plan": change.plan, "verified": not differences,
                                "differences": differences, "targets": list(change.targets)}
        error = None
        if differences:
            error = "not as planned: " + "; ".join(differences)
            if ctx.config.recovery.auto_rollback:
                done, not_done = await self.rollback(change, ctx)
                if self.restore_snapshot and g.snapshot_id and ctx.rollback is not None:
                    try:
                        report = await ctx.rollback(g.snapshot_id)
                    except Exception as exc:  # the action already ran: report, never lose the result
                        not_done.append(f"restoring snapshot {g.snapshot_id} failed: {exc}")
                    else:
                        done += [f"restored {r['path']}" for r in report.get("restored", [])]
                meta["rolled_back"], meta["not_rolled_back"] = done, not_done
                error += "; rolled back (recovery.auto_rollback): " + (", ".join(done) or "nothing")
                if not_done:
                    error += "; could not roll back: " + "; ".join(not_done)
        text = change.plan_text + ("\n" + output if output else "")
        result = ToolResult(not differences, text, error, meta)
        return await self._record(ctx, subject, g, result)

    async def _record(self, ctx: ToolContext, subject: str, g: Any, result: ToolResult) -> ToolResult:
        meta = {**(g.metadata() if g is not None else {}), **result.metadata, "tool": self.name,
                "session": ctx.session, "origin": ctx.origin, "output_bytes": len(result.output.encode("utf-8", "replace"))}
        if g is not None and g.snapshot_id:
            meta.setdefault("undo", f"aios restore {g.snapshot_id}")
        stored = {**meta, "error": result.error, "output": result.output[:EXCERPT]}
        stored.pop("data", None)
        meta["memory_id"] = await ctx.record("Command", subject, stored)
        result = ToolResult(result.ok, result.output, result.error, meta)
        await ctx.emit("tool.finished", result.event(self.name, ctx.call_id))
        return result


def action_schema(actions: list[str], properties: dict[str, Any], *, essential: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON Schema for ``{"action": <enum>, …}`` with no free-form extra keys.

    ``essential`` names the optional properties a small model must still be offered in
    structured mode (``x-essential``; see ``aios.agent``'s structured replies).
    """
    return {
        "type": "object",
        "properties": {"action": {"type": "string", "enum": actions}, **properties},
        "required": ["action"],
        "additionalProperties": False,
        "x-essential": list(essential),
    }


def need(args: dict[str, Any], key: str, action: str) -> Any:
    """An argument the action requires; AdminError naming it when missing."""
    value = args.get(key)
    if value in (None, "", []):
        raise AdminError(f"the {action} action needs {key!r}")
    return value

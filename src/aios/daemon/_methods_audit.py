"""The audit trail in the daemon: writing a record per decision, and audit.list/verify/follow.

Every tool call that reaches a decision writes one ``Command`` memory through the tool
context's ``record`` callback (``_tooling.tool_context``): the gate's refusals, the sub-agents'
read-only refusals and every call that ran. :func:`audit_call` turns that memory's metadata into
an audit record, adding what only the daemon knows: the requester's uid, pid and client kind,
the mode, the approver's terminal and the id of the grant that approved it.

Who may read: the daemon's owner and root see every record; any other uid sees only the
records of its own requests.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import attrs

from aios.errors import InvalidParams
from aios.memory import AuditTrail, parse_since

from ._approvals import is_owner
from ._registry import Registry, RequestContext

if TYPE_CHECKING:
    from ._services import Services

FOLLOW_POLL_S = 1.0
"""How often a follower looks for records other daemons on the same store appended."""
MAX_LIST = 10_000


def trail(services: Services) -> AuditTrail:
    found: AuditTrail | None = services.audit
    assert found is not None, "the audit trail is opened at start-up"
    return found


def client_kind(pid: int, origin: str) -> str:
    """``model`` (a chat turn's tool call), ``cli`` (the aios command) or ``protocol`` (any other
    program on the socket), from the peer's command line. Informational: a program can name
    itself ``aios``; the uid and pid beside it come from the kernel."""
    if origin == "agent":
        return "model"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read(4096).split(b"\0")
    except OSError:
        return "protocol"
    names = [os.path.basename(a) for a in argv[:3]]
    return "cli" if b"aios" in names or any(a == b"aios.cli" for a in argv[:4]) else "protocol"


def approver_tty(pid: int) -> str | None:
    """The terminal the person answered on, from the kernel: the client's controlling terminal
    (``/proc/PID/stat``; the CLI asks on /dev/tty), else the terminal its stdin is; else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
        tty_nr = int(stat.rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        tty_nr = 0
    if tty_nr == 0:
        try:
            stdin = os.readlink(f"/proc/{pid}/fd/0")
        except OSError:
            return None
        return stdin if stdin.startswith(("/dev/pts/", "/dev/tty")) else None
    major, minor = (tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    if major == 4 and minor < 64:
        return f"/dev/tty{minor}"
    return f"tty {major}:{minor}"


def _grant_id(services: Services, meta: dict[str, Any], subject: str) -> str | None:
    """The id of the grant that let this action through without asking, when one did."""
    store = services.grants
    if meta.get("approved_how") == "grant":
        for g in reversed(store.session):
            if g["tool"] == meta.get("tool") and g["command"] == subject and g["session"] == meta.get("session"):
                return str(g["id"])
        return "session"
    if meta.get("grant_id"):
        return str(meta["grant_id"])  # resolved when the policy decided (see prefix_grant_id)
    rule = str(meta.get("rule") or "")
    if rule.startswith("grant[") and rule.endswith("]"):
        return prefix_grant_id(services, rule)
    return None


def prefix_grant_id(services: Services, rule: str) -> str:
    """The id of the prefix grant a ``grant[N]`` rule names, in the grant list as it is now."""
    try:
        return str(services.grants.list()[int(rule[6:-1])]["id"])
    except (ValueError, IndexError, KeyError):
        return rule


async def audit_call(ctx: RequestContext, services: Services, mode: str, subject: str, meta: dict[str, Any]) -> None:
    """Append the audit record of one decided tool call (``meta``: its Command memory's metadata)."""
    decision = meta.get("decision")
    how = meta.get("approved_how")
    if how is None:
        how = "never-asked" if decision in ("allow", "block") else None  # a block is decided, nobody is asked
    person = how == "person"
    duration = meta.get("duration_s")
    if duration is None and isinstance(meta.get("gate_at"), float):
        duration = time.time() - meta["gate_at"]
    output = meta.get("output")
    fields = {
        "requester_uid": ctx.peer.uid,
        "requester_pid": ctx.peer.pid,
        "client": client_kind(ctx.peer.pid, str(meta.get("origin"))),
        "session": meta.get("session"),
        "agent": meta.get("agent") or "main",
        "tool": meta.get("tool"),
        "subject": subject,
        "path": meta.get("path"),
        "plugin": meta.get("plugin"),
        "decision": decision,
        "rule": meta.get("rule"),
        "reason": meta.get("reason"),
        "mode": mode,
        "approved": meta.get("approved", decision == "allow"),
        "approved_how": how,
        "approver_uid": meta.get("approver_uid", ctx.peer.uid if how in ("person", "flag") else None),
        # The requester's terminal, when the requester answered; an approver's is not known here.
        "approver_tty": approver_tty(ctx.peer.pid) if person and meta.get("approver_uid", ctx.peer.uid) == ctx.peer.uid else None,
        "grant_id": _grant_id(services, meta, subject),
        "snapshot_id": meta.get("snapshot_id"),
        "exit_code": meta.get("exit_code"),
        "duration_ms": round(float(duration) * 1000, 2) if duration is not None else None,
        "output_bytes": meta.get("output_bytes", len(output.encode("utf-8", "replace")) if isinstance(output, str) else None),
        "memory_id": meta.get("memory_id"),
        "outcome": meta.get("outcome") or "recorded",
    }
    await trail(services).append(fields)


@attrs.frozen
class ListParams:
    since: str | None = None
    decision: str | None = None
    tool: str | None = None
    session: str | None = None
    limit: int = 50


def _filters(ctx: RequestContext, p: ListParams) -> dict[str, Any]:
    if p.decision is not None and p.decision not in ("block", "confirm", "allow"):
        raise InvalidParams(f"unknown decision {p.decision!r}: use block, confirm or allow")
    if not 1 <= p.limit <= MAX_LIST:
        raise InvalidParams(f"limit must be between 1 and {MAX_LIST}")
    try:
        since = parse_since(p.since) if p.since is not None else None
    except ValueError as exc:
        raise InvalidParams(str(exc)) from None
    return {"since": since, "decision": p.decision, "tool": p.tool, "session": p.session,
            # Another uid sees its own requests to this daemon: the same uid number in another
            # container sharing the store is another person.
            "uid": None if is_owner(ctx.peer.uid) else ctx.peer.uid,
            "origin": None if is_owner(ctx.peer.uid) else ctx.services.origin}


async def audit_list(ctx: RequestContext, p: ListParams) -> list[dict[str, Any]]:
    """Matching records, newest first (another uid's caller sees only its own requests)."""
    return await trail(ctx.services).list(**_filters(ctx, p), limit=p.limit)


@attrs.frozen
class NoArgs:
    pass


async def audit_verify(ctx: RequestContext, p: NoArgs) -> dict[str, Any]:
    """Check every origin's hash chain; name the first broken record."""
    return await trail(ctx.services).verify()


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    keys = {"decision": "decision", "tool": "tool", "session": "session", "uid": "requester_uid", "origin": "origin"}
    return all(filters.get(k) is None or record.get(f) == filters[k] for k, f in keys.items())


async def audit_follow(ctx: RequestContext, p: ListParams) -> dict[str, Any]:
    """Send ``audit.record`` notifications as matching records are appended, until the caller
    goes away or the daemon stops. With ``since``, the matching records since then (at most
    ``limit``) are sent first."""
    t = trail(ctx.services)
    filters = _filters(ctx, p)
    after = await t.head()
    if p.since is not None:
        for record in reversed(await t.list(**filters, limit=p.limit)):
            if record["row"] <= after:
                await ctx.notify("audit.record", record)
    while not ctx.daemon.stopping.is_set():
        await t.wait(FOLLOW_POLL_S)
        # Every new row, filtered here: "after" moves past the rows the filters leave out too.
        for record in await t.list(after=after, limit=MAX_LIST, oldest_first=True):
            after = max(after, int(record["row"]))
            if _matches(record, filters):
                await ctx.notify("audit.record", record)
    return {"stopped": True}


async def open_trail(services: Services) -> AuditTrail:
    """The daemon's audit trail, opened at start-up (kept across reloads in ``Services.audit``)."""
    cfg = services.config.memory
    return await AuditTrail.open(
        services.loaded.paths.memory_db, origin=services.origin, busy_timeout=float(cfg.busy_timeout),
        journal=cfg.audit_journal,
    )


async def prune_job(services: Services) -> object:
    """Scheduled with the memory cleanup: prune records older than ``memory.audit_days``."""
    days = services.config.memory.audit_days
    if days <= 0:
        return None
    return await trail(services).prune(time.time() - days * 86400.0)


def register(reg: Registry) -> None:
    reg.add("audit.list", audit_list, ListParams, "Audit records, newest first (filters: since, decision, tool, session, limit).")
    reg.add("audit.verify", audit_verify, NoArgs, "Check the audit trail's hash chains; name the first broken record.")
    reg.add("audit.follow", audit_follow, ListParams,
            "Stream audit.record notifications as records are appended (recent ones first when since is given).")

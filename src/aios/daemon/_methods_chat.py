"""Chat methods: chat (one agent turn, streamed), session.list, session.show, agents.list."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import attrs
import trio
from ulid import ULID

from aios.errors import InvalidParams, ProviderError
from aios.memory import MemoryType

from ._approvals import is_owner
from ._registry import NoParams, Registry, RequestContext
from ._subagents import (
    Turn,
    agent_mode,
    all_specialists,
    find_specialist,
    link,
    make_execute,
    prompt_for,
    provider_for,
    tool_specs,
)
from ._tooling import effective_mode, workspace_for

if TYPE_CHECKING:
    from aios.agent import Message

log = logging.getLogger("aios.daemon")

HISTORY_TURNS = 50


@attrs.frozen
class ChatParams:
    message: str
    session: str | None = None
    mode: str | None = None
    cwd: str | None = None
    agent: str | None = None


def _message_json(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        d["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]
    if m.tool_call_id:
        d["tool_call_id"] = m.tool_call_id
    if m.name:
        d["name"] = m.name
    return d


def _message_from(d: dict[str, Any]) -> Message:
    from aios.agent import Message, ToolCall

    calls = tuple(ToolCall(str(c["id"]), str(c["name"]), str(c["arguments"])) for c in d.get("tool_calls", []))
    return Message(str(d["role"]), str(d.get("content", "")), calls, d.get("tool_call_id"), d.get("name"))


async def _turns(ctx: RequestContext, session: str, limit: int) -> list[Any]:
    """The newest turns of ``session``, when it is the requester's.

    A session belongs to the uid whose turns it holds (turns from before uids were recorded: the
    daemon's owner). Another person's session is neither shown nor continued: its messages would
    reach this requester's model as if this requester had written them.

    Raises:
        InvalidParams: no such session, or it is another user's.
    """
    turns = await ctx.services.memory.recent(types=[MemoryType.CHAT], session=session, limit=limit)
    if not turns:
        raise InvalidParams(f"no session {session} ('aios sessions' lists them)")
    from aios.agent import author_uid

    uids = {author_uid(m.metadata) if author_uid(m.metadata) is not None else os.geteuid() for m in turns}
    if uids != {ctx.peer.uid}:
        raise InvalidParams(f"session {session} is another user's; start a new one")
    return turns


async def _history(ctx: RequestContext, session: str) -> list[Message]:
    turns = await _turns(ctx, session, HISTORY_TURNS)
    out: list[Message] = []
    for mem in reversed(turns):
        for d in mem.metadata.get("messages", []):
            try:
                out.append(_message_from(d))
            except (KeyError, TypeError):
                continue  # a damaged record costs its message, not the session
    return out


async def _recall(ctx: RequestContext, text: str, session: str) -> list[dict[str, Any]]:
    """Memories relevant to ``text`` that this requester may be shown (aios.agent's recall rules:
    their own records, the owner's shared notes; never another uid's, never a refused command)."""
    from aios.agent import Viewer, visible

    services = ctx.services
    limit = services.config.memory.recall_limit
    if limit <= 0:
        return []
    viewer = Viewer(uid=ctx.peer.uid, owner_uid=os.geteuid(), origin=services.origin)
    hits = await services.memory.search(text, any_word=True, limit=limit * 5)
    out = []
    for h in hits:
        m = h.memory
        if m.metadata.get("session") == session:
            continue  # already in the history
        if not visible(viewer, m.type.value, m.metadata, m.origin):
            continue
        out.append(m.to_json())
        if len(out) >= limit:
            break
    return out


def _cancelled(exc: BaseException) -> bool:
    """A cancellation: trio.Cancelled, bare or grouped (sub-agents run in a child nursery)."""
    if isinstance(exc, trio.Cancelled):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.split(trio.Cancelled)[1] is None


async def chat(ctx: RequestContext, p: ChatParams) -> dict[str, Any]:
    """One turn: the model decides, tools act through the pipeline, the answer streams back.

    With ``agent`` the turn is that specialist's (its prompt, tools, mode and provider).

    Cancellation: a client that goes away cancels the turn, its sub-agents and their running
    tools; the turn is recorded as cancelled.
    """
    from aios.agent import EMBEDDED_NOTICE, Viewer, few_shot, recall_message, run_turn

    services = ctx.services
    if not p.message.strip():
        raise InvalidParams("message is empty")
    agent = find_specialist(ctx, p.agent) if p.agent is not None else None
    mode = effective_mode(ctx, p.mode)
    if agent is not None:
        mode = agent_mode(mode, agent)
    if p.session is not None:
        try:
            ULID.from_str(p.session)
        except ValueError as exc:
            raise InvalidParams(f"session {p.session!r} is not a session id ('aios sessions' lists them)") from exc
        history = await _history(ctx, p.session)
        if not history:
            raise InvalidParams(f"no session {p.session} ('aios sessions' lists them)")
        session = p.session
    else:
        session, history = str(ULID()), []
    workspace = workspace_for(ctx, p.cwd)
    choice, provider = await provider_for(ctx, agent.provider if agent is not None else None)
    await ctx.notify("chat.provider", {"session": session, **choice.describe()})
    if choice.config.kind == "embedded" and not history:
        await ctx.notify("chat.notice", {"text": EMBEDDED_NOTICE})
    grants: set[str] = services.session_grants.setdefault(session, set())
    turn = Turn(ctx, mode, workspace, session, grants)
    # A turn with --agent is the specialist's: one level down, as if delegated.
    depth = 0 if agent is None else 1
    specs = tool_specs(ctx, choice, agent, depth=depth, structured=provider.structured)
    memories = await _recall(ctx, p.message, session)
    recalled = recall_message(memories, Viewer(uid=ctx.peer.uid, owner_uid=os.geteuid(), origin=services.origin))
    prompt = prompt_for(turn, mode, specs, provider.structured, agent)

    ran: list[dict[str, Any]] = []  # tool calls that ran, for the record of a turn that fails later
    execute = make_execute(turn, agent=agent, mode=mode, depth=depth, ran=ran, emit=ctx.notify, parent=(choice, provider))
    llm = services.config.llm
    after_tool = choice.config.answer_after_tool
    if after_tool is None:
        after_tool = choice.config.kind == "embedded"
    base_meta = {"session": session, "provider": choice.name, "model": provider.model, "mode": mode, "turn": turn.id,
                 "recalled": [m["id"] for m in memories], "user": p.message, "uid": ctx.peer.uid,
                 **({"agent": agent.name} if agent is not None else {})}
    # Small models get the worked examples closest to the request as earlier turns (not stored).
    shown = [*few_shot(specs, p.message), *history] if provider.structured else history
    try:
        result = await run_turn(
            provider, shown, p.message, system_prompt=prompt, tools=specs, execute=execute, emit=ctx.notify,
            max_rounds=llm.max_rounds if agent is None else agent.max_rounds, max_tool_output=int(llm.max_tool_output),
            context_budget=llm.context_budget, answer_after_tool=after_tool,
            context=() if recalled is None else (recalled,),
        )
    except BaseException as exc:
        if _cancelled(exc):
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                mem = await services.memory.add(MemoryType.CHAT, p.message, {**base_meta, "status": "cancelled", "messages": []})
                await link(turn, mem.id)
        elif isinstance(exc, ProviderError):
            log.warning("chat turn failed: %s", exc)
            if ran:  # tools already acted: the turn is recorded as failed, with what ran (no answer)
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    mem = await services.memory.add(MemoryType.CHAT, p.message,
                                                  {**base_meta, "status": "failed", "error": str(exc), "calls": ran, "messages": []})
                    await link(turn, mem.id)
        raise
    meta = {**base_meta, "status": result.status, "rounds": result.rounds, "calls": result.calls,
            "usage": result.usage, "answer": result.text, "messages": [_message_json(m) for m in result.messages]}
    mem = await services.memory.add(MemoryType.CHAT, f"{p.message}\n\n{result.text}", meta)
    await link(turn, mem.id)
    return {
        "session": session,
        "text": result.text,
        "status": result.status,
        "provider": choice.name,
        "kind": choice.config.kind,
        "model": provider.model,
        "agent": agent.name if agent is not None else None,
        "rounds": result.rounds,
        "calls": result.calls,
        "usage": result.usage,
        "recalled": base_meta["recalled"],
        "memory_id": mem.id,
    }


async def agents_list(ctx: RequestContext, p: NoParams) -> list[dict[str, Any]]:
    """The specialists: built-in and configured, with their tools, mode and provider."""
    return [a.to_json() for a in all_specialists(ctx).values()]


@attrs.frozen
class SessionListParams:
    limit: int = 20


async def session_list(ctx: RequestContext, p: SessionListParams) -> list[dict[str, Any]]:
    if p.limit < 1:
        raise InvalidParams("limit must be at least 1")
    # Another user sees only their own sessions (ids and first messages are theirs to see).
    uid = None if is_owner(ctx.peer.uid) else ctx.peer.uid
    return await ctx.services.memory.sessions(limit=p.limit, uid=uid)


@attrs.frozen
class SessionShowParams:
    session: str


async def session_show(ctx: RequestContext, p: SessionShowParams) -> dict[str, Any]:
    turns = await _turns(ctx, p.session, 1000)
    return {
        "session": p.session,
        "turns": [
            {"id": m.id, "created_at": m.created_iso, "user": m.metadata.get("user", ""), "answer": m.metadata.get("answer", ""),
             "status": m.metadata.get("status"), "calls": m.metadata.get("calls", [])}
            for m in reversed(turns)
        ],
    }


def register(reg: Registry) -> None:
    reg.add("chat", chat, ChatParams, "One agent turn: streamed answer, tool calls through the pipeline.")
    reg.add("session.list", session_list, SessionListParams, "Chat sessions, newest first.")
    reg.add("session.show", session_show, SessionShowParams, "The turns of one chat session.")
    reg.add("agents.list", agents_list, summary="The specialist agents: built-in and [agents.NAME].")


"""Chat methods: chat (one agent turn, streamed), session.list, session.show."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import trio
from ulid import ULID

from aios.errors import InvalidParams, ProviderError
from aios.memory import MemoryType

from ._methods_core import host_facts
from ._registry import Registry, RequestContext
from ._tooling import effective_mode, registry, tool_context, workspace_for

if TYPE_CHECKING:
    from aios.agent import Message, ToolCall, ToolOutcome

    from ._app import Daemon

log = logging.getLogger("aios.daemon")

HISTORY_TURNS = 50


@attrs.frozen
class ChatParams:
    message: str
    session: str | None = None
    mode: str | None = None
    cwd: str | None = None


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


async def _history(daemon: Daemon, session: str) -> list[Message]:
    turns = await daemon.memory.recent(types=[MemoryType.CHAT], session=session, limit=HISTORY_TURNS)
    out: list[Message] = []
    for mem in reversed(turns):
        for d in mem.metadata.get("messages", []):
            try:
                out.append(_message_from(d))
            except (KeyError, TypeError):
                continue  # a damaged record costs its message, not the session
    return out


async def _recall(daemon: Daemon, text: str, session: str) -> list[dict[str, Any]]:
    limit = daemon.config.memory.recall_limit
    if limit <= 0:
        return []
    hits = await daemon.memory.search(text, any_word=True, limit=limit * 3)
    out = []
    for h in hits:
        m = h.memory
        if m.metadata.get("session") == session:
            continue  # already in the history
        out.append({"id": m.id, "type": m.type.value, "content": m.content, "created_at": m.created_iso})
        if len(out) >= limit:
            break
    return out


async def _provider(ctx: RequestContext) -> tuple[Any, Any]:
    from aios.agent import EmbeddedServer, make_provider, select_provider

    daemon = ctx.daemon
    choice = select_provider(daemon.config.llm)
    base_url = api_key = None
    if choice.config.kind == "embedded":
        server: EmbeddedServer | None = daemon.extensions.get("embedded_server")
        if server is None:
            server = EmbeddedServer(choice.config, daemon.loaded.paths.state_dir / "embedded-model.log")
            daemon.extensions["embedded_server"] = server
        if not server.running:
            await ctx.notify("chat.notice", {"text": "starting the embedded model (a few seconds)…"})
        base_url = await server.ensure_started(daemon.services)
        api_key = server.api_key
    return choice, make_provider(choice, base_url=base_url, api_key=api_key)


async def chat(ctx: RequestContext, p: ChatParams) -> dict[str, Any]:
    """One turn: the model decides, tools act through the pipeline, the answer streams back.

    Cancellation: a client that goes away cancels the turn and its running tool; the turn is
    recorded as cancelled.
    """
    from aios.agent import EMBEDDED_NOTICE, ToolOutcome, ToolSpec, few_shot, run_turn, system_prompt

    daemon = ctx.daemon
    if not p.message.strip():
        raise InvalidParams("message is empty")
    mode = effective_mode(ctx, p.mode)
    if p.session is not None:
        try:
            ULID.from_str(p.session)
        except ValueError as exc:
            raise InvalidParams(f"session {p.session!r} is not a session id ('aios sessions' lists them)") from exc
        history = await _history(daemon, p.session)
        if not history:
            raise InvalidParams(f"no session {p.session} ('aios sessions' lists them)")
        session = p.session
    else:
        session, history = str(ULID()), []
    workspace = workspace_for(ctx, p.cwd)
    choice, provider = await _provider(ctx)
    await ctx.notify("chat.provider", {"session": session, **choice.describe()})
    if choice.config.kind == "embedded" and not history:
        await ctx.notify("chat.notice", {"text": EMBEDDED_NOTICE})
    reg = registry(daemon)
    offered = choice.tools
    names = [n for n in reg.names() if offered is None or n in offered]
    specs = [ToolSpec(e.tool.name, e.tool.description, e.tool.parameters) for e in (reg.entries[n] for n in names)]
    memories = await _recall(daemon, p.message, session)
    prompt = system_prompt(
        host=host_facts(), mode=mode, workspace=str(workspace), tools=specs, structured=provider.structured, memories=memories
    )
    grants: set[str] = daemon.extensions.setdefault("session_grants", {}).setdefault(session, set())

    ran: list[dict[str, Any]] = []  # tool calls that ran, for the record of a turn that fails later

    async def execute(call: ToolCall, args: dict[str, Any]) -> ToolOutcome:
        tctx = tool_context(ctx, mode=mode, workspace=workspace, origin="agent", session=session, grants=grants, call_id=call.id)
        result = await reg.call(call.name, args, tctx)
        keep = ("exit_code", "decision", "rule", "snapshot_id", "memory_id", "timed_out")
        kept = {k: result.metadata[k] for k in keep if k in result.metadata}
        ran.append({"tool": call.name, "arguments": args, "ok": result.ok, **kept})
        return ToolOutcome(result.for_model(), result.ok, kept)

    llm = daemon.config.llm
    after_tool = choice.config.answer_after_tool
    if after_tool is None:
        after_tool = choice.config.kind == "embedded"
    base_meta = {"session": session, "provider": choice.name, "model": provider.model, "mode": mode,
                 "recalled": [m["id"] for m in memories], "user": p.message}
    # Small models get the worked examples closest to the request as earlier turns (not stored).
    shown = [*few_shot(specs, p.message), *history] if provider.structured else history
    try:
        result = await run_turn(
            provider, shown, p.message, system_prompt=prompt, tools=specs, execute=execute, emit=ctx.notify,
            max_rounds=llm.max_rounds, max_tool_output=int(llm.max_tool_output), context_budget=llm.context_budget,
            answer_after_tool=after_tool,
        )
    except trio.Cancelled:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await daemon.memory.add(MemoryType.CHAT, p.message, {**base_meta, "status": "cancelled", "messages": []})
        raise
    except ProviderError as exc:
        log.warning("chat turn failed: %s", exc)
        if ran:  # tools already acted: the turn is recorded as failed, with what ran (no answer)
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await daemon.memory.add(MemoryType.CHAT, p.message,
                                        {**base_meta, "status": "failed", "error": str(exc), "calls": ran, "messages": []})
        raise
    meta = {**base_meta, "status": result.status, "rounds": result.rounds, "calls": result.calls,
            "usage": result.usage, "answer": result.text, "messages": [_message_json(m) for m in result.messages]}
    mem = await daemon.memory.add(MemoryType.CHAT, f"{p.message}\n\n{result.text}", meta)
    return {
        "session": session,
        "text": result.text,
        "status": result.status,
        "provider": choice.name,
        "kind": choice.config.kind,
        "model": provider.model,
        "rounds": result.rounds,
        "calls": result.calls,
        "usage": result.usage,
        "recalled": base_meta["recalled"],
        "memory_id": mem.id,
    }


@attrs.frozen
class SessionListParams:
    limit: int = 20


async def session_list(ctx: RequestContext, p: SessionListParams) -> list[dict[str, Any]]:
    if p.limit < 1:
        raise InvalidParams("limit must be at least 1")
    return await ctx.daemon.memory.sessions(limit=p.limit)


@attrs.frozen
class SessionShowParams:
    session: str


async def session_show(ctx: RequestContext, p: SessionShowParams) -> dict[str, Any]:
    turns = await ctx.daemon.memory.recent(types=[MemoryType.CHAT], session=p.session, limit=1000)
    if not turns:
        raise InvalidParams(f"no session {p.session} ('aios sessions' lists them)")
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


"""Specialists and delegation inside a chat turn.

Every tool call of a sub-agent takes the same path as the main agent's (policy, confirmation,
snapshot, jail, memory) through the same :func:`tool_context`; on top of it this module

- tags the sub-agent's notifications (``agent`` field) and records (``agent``, ``turn``);
- asks the person one question at a time for all agents of a turn, each prefixed with the
  agent's name (the answer goes back to the call that asked);
- refuses, inside a read-only agent, any call the policy does not allow outright or that
  changes the system;
- refuses a specialist whose mode is looser than the request's;
- runs delegated tasks in a child nursery of the turn (:func:`aios.agent.run_tasks`).

Cancellation: the turn's cancellation (a client gone) reaches every sub-agent and its tool.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio
from ulid import ULID

from aios.config import STRICTNESS
from aios.errors import ConfigError, InvalidParams, PolicyBlocked
from aios.memory import MemoryType

from ._methods_core import host_facts
from ._registry import RequestContext
from ._tooling import tool_context

if TYPE_CHECKING:
    from aios.agent import ProviderChoice, Specialist, Task, ToolCall, ToolOutcome, ToolSpec
    from aios.tools import ToolContext

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
Execute = Callable[["ToolCall", dict[str, Any]], Awaitable["ToolOutcome"]]

KEEP = ("exit_code", "decision", "rule", "snapshot_id", "memory_id", "timed_out")
"""Result metadata kept in a turn's ``calls``."""

READ_ONLY_RULE = "agent.read-only"


@attrs.define
class Turn:
    """What all agents of one chat turn share."""

    ctx: RequestContext
    mode: str
    workspace: Path
    session: str
    grants: set[str]
    host: dict[str, str] = attrs.field(factory=host_facts)
    """The machine as the prompts describe it, read once per turn."""
    id: str = attrs.field(factory=lambda: str(ULID()))
    """Names the turn in the records of its sub-agents and their commands."""
    confirm_lock: trio.Lock = attrs.field(factory=trio.Lock)
    sub_records: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    """Chat memories of the sub-agents (content, metadata), written with the turn's own record
    so that they can name it (one transaction for all of them; see :func:`link`)."""


def all_specialists(ctx: RequestContext) -> dict[str, Specialist]:
    from aios.agent import specialists

    return specialists(ctx.services.config.agents)


def find_specialist(ctx: RequestContext, name: str) -> Specialist:
    """The specialist called ``name``.

    Raises:
        InvalidParams: no such agent (the message lists them).
    """
    agents = all_specialists(ctx)
    if name not in agents:
        raise InvalidParams(f"no agent named {name!r} ('aios agents list' shows them: {', '.join(agents)})")
    return agents[name]


def agent_mode(parent_mode: str, agent: Specialist) -> str:
    """The mode a specialist runs in: its own when set, never looser than the request's.

    Raises:
        PolicyBlocked: the specialist's mode is looser than ``parent_mode``.
    """
    if agent.mode is None or agent.mode == parent_mode:
        return parent_mode
    if STRICTNESS[agent.mode] < STRICTNESS[parent_mode]:
        raise PolicyBlocked(
            f"agent {agent.name!r} asks for mode {agent.mode!r}, which is looser than this request's "
            f"{parent_mode!r} mode; a sub-agent's mode is never looser than its parent's"
        )
    return agent.mode


async def provider_for(ctx: RequestContext, name: str | None) -> tuple[ProviderChoice, Any]:
    """The provider ``[llm.providers.NAME]`` (None: the daemon's choice), started if embedded."""
    from aios.agent import EmbeddedServer, make_provider, named_provider

    services = ctx.services
    llm = services.config.llm
    if name is None:
        if isinstance(services.provider, ConfigError):
            # A fresh error per chat: raising the stored one would grow its traceback each time.
            why = services.provider
            raise ConfigError(why.message, source=why.source, key=why.key)
        choice = services.provider
    else:
        choice = named_provider(llm, name)
    base_url = api_key = None
    if choice.config.kind == "embedded":
        server = services.embedded.get(choice.name)
        if server is None:
            server = EmbeddedServer(choice.config, services.loaded.paths.state_dir / "embedded-model.log")
            services.embedded[choice.name] = server
        if not server.running:
            await ctx.notify("chat.notice", {"text": "starting the embedded model (a few seconds)…"})
        base_url = await server.ensure_started(ctx.daemon.supervisor)
        api_key = server.api_key
    return choice, make_provider(choice, base_url=base_url, api_key=api_key)


def tool_specs(ctx: RequestContext, choice: ProviderChoice, agent: Specialist | None, *, depth: int, structured: bool) -> list[ToolSpec]:
    """The tools offered at ``depth`` (0: the main agent): the provider's and the agent's subset,
    and ``delegate`` while the depth limit allows it (in structured mode only with agents.structured)."""
    from aios.agent import DELEGATE, ToolSpec, delegate_spec

    reg = ctx.services.tools
    offered, subset = choice.tools, agent.tools if agent is not None else None
    names = [n for n in reg.names() if (offered is None or n in offered) and (subset is None or n in subset)]
    specs = [ToolSpec(e.tool.name, e.tool.description, e.tool.parameters) for e in (reg.entries[n] for n in names)]
    cfg = ctx.services.config.agents
    if depth < cfg.max_depth and (not structured or cfg.structured) and (subset is None or DELEGATE in subset):
        specs.append(delegate_spec(all_specialists(ctx), cfg.max_tasks))
    return specs


def prompt_for(turn: Turn, mode: str, specs: list[ToolSpec], structured: bool, agent: Specialist | None) -> str:
    from aios.agent import system_prompt

    base = system_prompt(host=turn.host, mode=mode, workspace=str(turn.workspace), tools=specs, structured=structured)
    return base if agent is None else f"{base}\n\n{agent.system_prompt}"


def tagged(ctx: RequestContext, agent: str | None, task_index: int | None = None) -> Emit:
    """Notifications of one agent: with ``agent`` (and the delegated task's ``task_index``, since
    one specialist may run several tasks at once), except for the main agent's."""
    tag: dict[str, Any] = {} if agent is None else {"agent": agent}
    if agent is not None and task_index is not None:
        tag["task_index"] = task_index

    async def emit(method: str, params: dict[str, Any]) -> None:
        await ctx.notify(method, {**params, **tag} if tag else params)

    return emit


def _for_agent(tctx: ToolContext, turn: Turn, agent: str | None, emit: Emit, task_index: int | None) -> ToolContext:
    confirm, record = tctx.confirm, tctx.record
    who: dict[str, Any] = {} if agent is None else {"agent": agent}
    if agent is not None and task_index is not None:
        who["task_index"] = task_index

    async def confirm_one(params: dict[str, Any]) -> Any:
        async with turn.confirm_lock:  # one question at a time on the person's terminal
            return await confirm({**params, **who})

    async def record_named(type_: str, content: str, meta: dict[str, Any]) -> str | None:
        return await record(type_, content, {**meta, "turn": turn.id, **({"agent": agent} if agent else {})})

    return attrs.evolve(tctx, emit=emit, confirm=confirm_one, record=record_named)


def make_execute(
    turn: Turn,
    *,
    agent: Specialist | None,
    mode: str,
    depth: int,
    ran: list[dict[str, Any]],
    emit: Emit,
    parent: tuple[ProviderChoice, Any],
    calls: list[dict[str, Any]] | None = None,
    task_index: int | None = None,
) -> Execute:
    """How one agent's tool calls run; each call is appended to ``ran`` (and, in the short form
    of a delegate result, to ``calls``)."""
    from aios.agent import DELEGATE, ToolOutcome, read_only_refusal

    reg = turn.ctx.services.tools
    name = agent.name if agent is not None else None

    async def execute(call: ToolCall, args: dict[str, Any]) -> ToolOutcome:
        if call.name == DELEGATE:
            outcome = await delegate(turn, args, mode=mode, depth=depth, parent=parent)
            ran.append({"tool": call.name, "arguments": args, "ok": outcome.ok, **outcome.data})
            return outcome
        tctx = _for_agent(
            tool_context(turn.ctx, mode=mode, workspace=turn.workspace, origin="agent", session=turn.session,
                         grants=turn.grants, call_id=call.id),
            turn, name, emit, task_index,
        )
        refusal = read_only_refusal(tctx.policy, mode, call.name, args) if agent is not None and agent.read_only else None
        if refusal is not None:
            kept, text = await _refuse(tctx, call, args, refusal[0])
            ok = False
        else:
            result = await reg.call(call.name, args, tctx)
            kept = {k: result.metadata[k] for k in KEEP if k in result.metadata}
            text, ok = result.for_model(), result.ok
        ran.append({"tool": call.name, "arguments": args, "ok": ok, **kept})
        if calls is not None:
            what = {"command": args["command"]} if "command" in args else {"path": args.get("path", ".")}
            calls.append({"tool": call.name, **what, "decision": kept.get("decision"), "exit_code": kept.get("exit_code")})
        return ToolOutcome(text, ok, kept)

    return execute


async def _refuse(tctx: ToolContext, call: ToolCall, args: dict[str, Any], reason: str) -> tuple[dict[str, Any], str]:
    """A read-only agent's refused call: shown, recorded as blocked (never recalled), explained."""
    subject = str(args.get("command") or f"{call.name} {args.get('path') or '.'}")
    error = f"refused: {reason}"
    await tctx.emit("tool.started", {"call_id": call.id, "tool": call.name, "command": subject, "decision": "block",
                                     "rule": READ_ONLY_RULE, "reason": reason})
    meta = {"tool": call.name, "decision": "block", "rule": READ_ONLY_RULE, "reason": reason, "exit_code": 126,
            "session": tctx.session, "origin": tctx.origin}
    memory_id = await tctx.record("Command", subject, meta)
    kept = {"exit_code": 126, "decision": "block", "rule": READ_ONLY_RULE, "memory_id": memory_id}
    await tctx.emit("tool.finished", {"call_id": call.id, "tool": call.name, "ok": False, "error": error, **kept})
    return kept, f"exit code 126\nerror: {error}"


async def delegate(turn: Turn, args: dict[str, Any], *, mode: str, depth: int, parent: tuple[ProviderChoice, Any]) -> ToolOutcome:
    """The ``delegate`` tool: run the tasks concurrently; the result lists each task's outcome."""
    from aios.agent import ToolOutcome, plan, run_tasks

    try:
        tasks = plan(args, all_specialists(turn.ctx))
    except ValueError as exc:
        return ToolOutcome(f"error: {exc}", False, {"error": str(exc)})
    info: dict[int, dict[str, Any]] = {}

    async def run(task: Task, calls: list[dict[str, Any]]) -> tuple[str, str]:
        return await run_subtask(turn, task, calls, parent_mode=mode, depth=depth + 1, parent=parent, info=info)

    async def finish(task: Task, result: dict[str, Any]) -> None:
        meta = {"agent": task.agent.name, "turn": turn.id, "parent_session": turn.session,
                "task_index": task.index, "task": task.text, "chosen_by": task.chosen_by, "score": task.score,
                "status": result["status"], "answer": result["answer"], "calls": result["calls"],
                "uid": turn.ctx.peer.uid, "user": task.text, "messages": [], **info.get(task.index, {})}
        turn.sub_records.append((f"{task.text}\n\n{result['answer']}".strip(), meta))

    cfg = turn.ctx.services.config.agents
    results = await run_tasks(tasks, run, max_parallel=cfg.max_parallel, emit=turn.ctx.notify, finish=finish)
    summary = [{"agent": r["agent"], "status": r["status"]} for r in results]
    return ToolOutcome(json.dumps(results, ensure_ascii=False), all(r["status"] == "ok" for r in results), {"tasks": summary})


async def run_subtask(
    turn: Turn,
    task: Task,
    calls: list[dict[str, Any]],
    *,
    parent_mode: str,
    depth: int,
    parent: tuple[ProviderChoice, Any],
    info: dict[int, dict[str, Any]],
) -> tuple[str, str]:
    """One delegated task as its own agent turn: (status, answer).

    Raises:
        PolicyBlocked: the specialist asks for a looser mode than its parent's.
        ProviderError: its model failed.
    """
    from aios.agent import few_shot, run_turn

    agent = task.agent
    mode = agent_mode(parent_mode, agent)
    choice, provider = parent if agent.provider is None else await provider_for(turn.ctx, agent.provider)
    info[task.index] = {"mode": mode, "provider": choice.name, "model": provider.model}
    specs = tool_specs(turn.ctx, choice, agent, depth=depth, structured=provider.structured)
    emit = tagged(turn.ctx, agent.name, task.index)
    ran: list[dict[str, Any]] = []
    execute = make_execute(turn, agent=agent, mode=mode, depth=depth, ran=ran, emit=emit, parent=(choice, provider), calls=calls,
                           task_index=task.index)
    llm = turn.ctx.services.config.llm
    after_tool = choice.config.answer_after_tool
    if after_tool is None:
        after_tool = choice.config.kind == "embedded"
    result = await run_turn(
        provider, few_shot(specs, task.text) if provider.structured else [], task.text,
        system_prompt=prompt_for(turn, mode, specs, provider.structured, agent), tools=specs, execute=execute, emit=emit,
        max_rounds=agent.max_rounds, max_tool_output=int(llm.max_tool_output), context_budget=llm.context_budget,
        answer_after_tool=after_tool,
    )
    return result.status, result.text


async def link(turn: Turn, parent_id: str) -> None:
    """Write the turn's sub-agent records, each naming the turn's own record (``metadata.parent``)."""
    if turn.sub_records:
        items = [(MemoryType.CHAT, content, {**meta, "parent": parent_id}) for content, meta in turn.sub_records]
        await turn.ctx.services.memory.add_many(items)
        turn.sub_records.clear()

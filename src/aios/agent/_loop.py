"""The agent loop: the model decides, tools act, results go back, until an answer.

Cancellation: cancelling the caller cancels the provider stream and the running tool (the tool
pipeline kills the jail's process group); :class:`trio.Cancelled` propagates, and the caller
records the turn as cancelled. Nothing of an unfinished model reply is kept.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import attrs
from jsonschema import Draft202012Validator

from ._messages import Done, Event, Message, TextDelta, ToolCall, ToolSpec
from ._recall import mark_tool_output

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class Provider(Protocol):
    name: str
    kind: str
    model: str
    structured: bool

    def stream(self, messages: list[Message], tools: list[ToolSpec], *, force_answer: bool = False) -> Any: ...


@attrs.frozen
class ToolOutcome:
    """What a tool call gave: the text the model sees, and whether it succeeded."""

    content: str
    ok: bool = True
    data: dict[str, Any] = attrs.field(factory=dict)


Execute = Callable[[ToolCall, dict[str, Any]], Awaitable[ToolOutcome]]


@attrs.frozen
class TurnResult:
    """The end of a turn."""

    status: str
    """ok | round-limit."""
    text: str
    messages: list[Message]
    """Messages this turn added (user, assistant, tool)."""
    calls: list[dict[str, Any]]
    rounds: int
    provider: str
    model: str
    usage: dict[str, int]


def truncate(text: str, limit: int) -> str:
    """Keep the head and tail of a long tool output, with a marker saying what was cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    head = data[: limit * 3 // 4].decode("utf-8", "ignore")
    tail = data[-(limit // 4) :].decode("utf-8", "ignore")
    return f"{head}\n[… {len(data) - limit} bytes of output cut by aios (llm.max_tool_output) …]\n{tail}"


def fit_history(history: Sequence[Message], budget: int) -> list[Message]:
    """The newest messages whose text fits ``budget`` characters (a tool result keeps its call)."""
    kept: list[Message] = []
    used = 0
    for m in reversed(history):
        size = len(m.content) + sum(len(c.arguments) for c in m.tool_calls)
        if used + size > budget and kept:
            break
        kept.append(m)
        used += size
    kept.reverse()
    while kept and kept[0].role == "tool":
        kept.pop(0)
    return kept


def check_arguments(call: ToolCall, specs: dict[str, ToolSpec]) -> tuple[dict[str, Any] | None, str | None]:
    """Parsed arguments, or an error message the model can act on."""
    spec = specs.get(call.name)
    if spec is None:
        return None, f"error: there is no tool named {call.name!r}; the tools are: {', '.join(sorted(specs))}"
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError as exc:
        return None, f"error: the arguments of {call.name} are not valid JSON ({exc}); send a JSON object"
    if not isinstance(args, dict):
        return None, f"error: the arguments of {call.name} must be a JSON object"
    problems = [
        f"{'/'.join(str(p) for p in e.absolute_path) or 'arguments'}: {e.message}"
        for e in Draft202012Validator(spec.parameters).iter_errors(args)
    ]
    if problems:
        return None, f"error: invalid arguments for {call.name}: " + "; ".join(problems)
    return args, None


async def run_turn(
    provider: Provider,
    history: Sequence[Message],
    user_text: str,
    *,
    system_prompt: str,
    tools: list[ToolSpec],
    execute: Execute,
    emit: Emit,
    max_rounds: int,
    max_tool_output: int,
    context_budget: int,
    answer_after_tool: bool = False,
    context: Sequence[Message] = (),
) -> TurnResult:
    """Run one turn: model, tools, model … until an answer or ``max_rounds`` model calls.

    ``context`` (recalled memories as a data message) goes right before this turn's user
    message on every model call; it is not part of the turn's messages and is never stored.
    Tool results go back to the model fenced as untrusted data (:func:`mark_tool_output`).
    """
    specs = {t.name: t for t in tools}
    added: list[Message] = [Message("user", user_text)]
    calls: list[dict[str, Any]] = []
    usage: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    force = False
    text = ""
    for round_no in range(1, max_rounds + 1):
        force = force or round_no == max_rounds
        fitted = fit_history([*history, *added], context_budget)
        at = max(0, len(fitted) - len(added))  # where this turn starts (older history may be cut)
        messages = [Message("system", system_prompt), *fitted[:at], *context, *fitted[at:]]
        done: Done | None = None
        event: Event
        async for event in provider.stream(messages, tools, force_answer=force):
            if isinstance(event, TextDelta):
                await emit("chat.delta", {"text": event.text})
            elif isinstance(event, Done):
                done = event
        assert done is not None
        for key, value in done.usage.items():
            if isinstance(value, int):
                usage[key] = usage.get(key, 0) + value
        reply = done.message
        if reply.tool_calls and round_no == max_rounds:
            # The last round asked for an answer; a call now could never be reported back.
            added.append(Message("assistant", reply.content))
            return TurnResult("round-limit", reply.content, added, calls, round_no, provider.name, provider.model, usage)
        added.append(reply)
        if not reply.tool_calls:
            text = reply.content
            return TurnResult("ok", text, added, calls, round_no, provider.name, provider.model, usage)
        for call in reply.tool_calls:
            args, error = check_arguments(call, specs)
            if error is not None:
                outcome = ToolOutcome(error, ok=False, data={"error": error})
                await emit("tool.finished", {"tool": call.name, "decision": "invalid", "error": error})
            else:
                assert args is not None
                outcome = await execute(call, args)
            sig = (call.name, json.dumps(args, sort_keys=True) if args is not None else call.arguments)
            if sig in seen:
                force = True  # the model repeats itself: ask for an answer now
            seen.add(sig)
            calls.append({"tool": call.name, "arguments": args, "ok": outcome.ok, **outcome.data})
            shown = truncate(outcome.content, max_tool_output)
            if args is not None:  # the tool ran (or was refused): its text is data, not instructions
                shown = mark_tool_output(call.name, shown)
            added.append(Message("tool", shown, tool_call_id=call.id, name=call.name))
        if answer_after_tool:
            force = True
    return TurnResult("round-limit", text, added, calls, max_rounds, provider.name, provider.model, usage)

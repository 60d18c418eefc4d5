"""The ``delegate`` tool: hand tasks to specialists and run them at the same time.

The model calls ``delegate`` with ``{"tasks": [{"agent": "NAME", "task": "TEXT"}, ...]}``. Each
task runs as its own agent turn (own history, prompt and tool subset) in a child nursery of the
calling turn, at most ``max_parallel`` at a time. The tool result lists, for each task in order,
``{"agent", "task", "status", "answer", "calls", "chosen_by", "score"}``.

Cancellation: cancelling the calling turn (a client that disconnects) cancels every task and its
running tool. A task that fails, times out or hits its round limit ends alone; its siblings go on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio

from ._agents import Specialist, rank
from ._messages import ToolSpec

DELEGATE = "delegate"

STATUSES = ("ok", "failed", "cancelled", "timeout", "round-limit")


def delegate_spec(agents: Mapping[str, Specialist], max_tasks: int) -> ToolSpec:
    """The tool as the model sees it, naming each specialist and its expertise."""
    listing = "; ".join(f"{name}: {a.description}" for name, a in agents.items())
    return ToolSpec(
        DELEGATE,
        "Hand one or more independent tasks to specialist agents; they run at the same time and "
        "each answers in words. Leave out 'agent' to let aios pick the specialist whose expertise "
        f"fits the task best. Specialists: {listing}",
        {
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_tasks,
                    "items": {
                        "type": "object",
                        "properties": {
                            "agent": {"type": "string", "enum": sorted(agents)},
                            "task": {"type": "string", "minLength": 1, "maxLength": 4000},
                        },
                        "required": ["task"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["tasks"],
            "additionalProperties": False,
        },
    )


@attrs.frozen
class Task:
    """One delegated task, with the specialist that does it and how it was chosen."""

    index: int
    agent: Specialist
    text: str
    chosen_by: str
    """model (named in the call) | coordinator (picked by :func:`rank`)."""
    score: float | None = None


def plan(args: dict[str, Any], agents: Mapping[str, Specialist]) -> list[Task]:
    """The tasks of a (schema-checked) delegate call, each with its specialist.

    Raises:
        ValueError: an unknown agent name (the message lists the known ones).
    """
    tasks = []
    for i, item in enumerate(args["tasks"]):
        text = str(item["task"])
        name = item.get("agent")
        if name is not None:
            if name not in agents:
                raise ValueError(f"no agent named {name!r}; the agents are: {', '.join(agents)}")
            tasks.append(Task(i, agents[name], text, "model"))
        else:
            best, score = rank(text, agents)[0]
            tasks.append(Task(i, agents[best], text, "coordinator", score))
    return tasks


RunTask = Callable[[Task, list[dict[str, Any]]], Awaitable[tuple[str, str]]]
"""Run one task: append each tool call to the list as it finishes; return (status, answer)."""

Finish = Callable[[Task, dict[str, Any]], Awaitable[None]]
"""Told each task's result once it is known, also when it failed, timed out or was cancelled
(then shielded from cancellation for up to five seconds): writes its record."""

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


async def run_tasks(
    tasks: list[Task], run: RunTask, *, max_parallel: int, emit: Emit, finish: Finish | None = None
) -> list[dict[str, Any]]:
    """Run ``tasks`` concurrently (at most ``max_parallel`` at once); their results in task order.

    Each task gets its specialist's ``timeout``. Exceptions of a task (a provider error, a bug in
    a plugin) end that task as ``failed``; cancellation of the caller cancels all of them.
    """
    results: list[dict[str, Any]] = [{} for _ in tasks]
    limiter = trio.CapacityLimiter(max_parallel)

    def result(task: Task, status: str, answer: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
        return {"agent": task.agent.name, "task": task.text, "status": status, "answer": answer,
                "calls": calls, "chosen_by": task.chosen_by, "score": task.score}

    async def one(task: Task) -> None:
        calls: list[dict[str, Any]] = []
        async with limiter:
            await emit("agent.started", {"agent": task.agent.name, "task_index": task.index, "status": "running"})
            try:
                with trio.move_on_after(task.agent.timeout) as scope:
                    try:
                        status, answer = await run(task, calls)
                    except Exception as exc:  # this task's failure is its own; siblings go on
                        status, answer = "failed", _one_line(exc)
                if scope.cancelled_caught:
                    status, answer = "timeout", f"stopped after {task.agent.timeout:g} s (agents.NAME.timeout)"
            except trio.Cancelled:
                if finish is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(5):
                        await finish(task, result(task, "cancelled", "", calls))
                raise
            results[task.index] = result(task, status, answer, calls)
            if finish is not None:
                await finish(task, results[task.index])
            await emit("agent.finished", {"agent": task.agent.name, "task_index": task.index, "status": status})

    async with trio.open_nursery() as nursery:
        for task in tasks:
            nursery.start_soon(one, task)
    return results


def _one_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""Specialist agents: the built-in ones, the configured ones, and the coordinator's choice.

A specialist is a prompt, a tool subset, a mode and optionally its own provider. Two are built
in and need no config: the read-only **investigator** (diagnostics) and the **reviewer** (risks
of a proposed change). ``[agents.NAME]`` adds more, or replaces a built-in of the same name.
Their prompts live beside this module as text files (``prompts/*.txt``).

The coordinator (:func:`rank`) picks a specialist for a task that names none: a deterministic
score of the task's words against each description (idf-weighted word overlap, ties broken by
name), so the same task and config always pick the same specialist.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import attrs

from aios.config import AgentConfig, AgentsConfig

INVESTIGATOR = "investigator"
REVIEWER = "reviewer"


@functools.cache
def _prompt(name: str) -> str:
    return resources.files("aios.agent").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8").strip()


@attrs.frozen
class Specialist:
    """One agent the main agent can delegate to (or a person can talk to with --agent)."""

    name: str
    description: str
    system_prompt: str
    tools: tuple[str, ...] | None
    """Tool names it may use; None: all of the registry."""
    mode: str | None
    read_only: bool
    provider: str | None
    max_rounds: int
    timeout: float
    builtin: bool

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "tools": list(self.tools) if self.tools is not None else None,
            "mode": self.mode,
            "read_only": self.read_only,
            "provider": self.provider,
            "max_rounds": self.max_rounds,
            "timeout": self.timeout,
            "builtin": self.builtin,
        }


BUILTIN: dict[str, AgentConfig] = {
    INVESTIGATOR: AgentConfig(
        description=(
            "Read-only diagnostics: investigates logs and the journal, disk usage and full file "
            "systems, processes and memory, services and network ports to find facts and causes."
        ),
        tools=["bash", "read", "list"],
        read_only=True,
        max_rounds=6,
    ),
    REVIEWER: AgentConfig(
        description=(
            "Reviews a proposed change, command, script or configuration edit and answers with its "
            "risks and a recommendation; changes nothing."
        ),
        tools=["read", "list"],
        read_only=True,
        max_rounds=4,
    ),
}


def _make(name: str, cfg: AgentConfig, builtin: bool) -> Specialist:
    if cfg.system_prompt is not None:
        prompt = cfg.system_prompt
    elif builtin:
        prompt = _prompt(name)
    else:
        prompt = _prompt("generic").format(name=name, description=cfg.description or "general tasks")
    return Specialist(
        name=name,
        description=" ".join(cfg.description.split()),
        system_prompt=prompt,
        tools=tuple(cfg.tools) if cfg.tools is not None else None,
        mode=cfg.mode,
        read_only=cfg.read_only,
        provider=cfg.provider,
        max_rounds=cfg.max_rounds,
        timeout=float(cfg.timeout),
        builtin=builtin,
    )


def specialists(config: AgentsConfig) -> dict[str, Specialist]:
    """The built-ins, then the configured ones (a configured name replaces a built-in), by name."""
    out = {name: _make(name, cfg, True) for name, cfg in BUILTIN.items() if name not in config.specialists}
    out.update({name: _make(name, cfg, False) for name, cfg in config.specialists.items()})
    return dict(sorted(out.items()))


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its me my of on or our "
    "please show tell that the their them there these this to was what when where which who why "
    "will with you your find check see look".split()
)


def _words(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        # a crude stem: "logs" ~ "log", "growing" ~ "grow", "filled" ~ "fill"
        for suffix in ("ing", "ed", "es", "s"):
            if len(w) > len(suffix) + 2 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        out.add(w)
    return out


def rank(task: str, agents: Mapping[str, Specialist]) -> list[tuple[str, float]]:
    """Specialists by how well their description fits ``task``, best first: (name, score).

    The score sums, over the task's words found in a description, the word's inverse document
    frequency among all descriptions (a word every specialist mentions tells nothing), divided
    by the square root of the description's length in words; 0 means no word in common.
    """
    docs = {name: _words(f"{name} {a.description}") for name, a in agents.items()}
    n = len(docs)
    df: dict[str, int] = {}
    for words in docs.values():
        for w in words:
            df[w] = df.get(w, 0) + 1
    wanted = _words(task)
    scored = []
    for name, words in docs.items():
        common = wanted & words
        score = sum(math.log(1 + n / df[w]) for w in common) / math.sqrt(max(len(words), 1))
        scored.append((name, round(score, 4)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


READ_TOOLS = {"read": "read", "list": "list"}
"""Built-in tools a read-only agent may use, with the path operation the policy judges."""


def read_only_refusal(policy: Any, mode: str, tool: str, args: Mapping[str, Any]) -> tuple[str, Any] | None:
    """Why a read-only agent may not make this call (and the policy's decision), or None.

    Only bash commands the policy allows outright and that change nothing, and reads/listings the
    policy allows, pass; every other tool is refused.
    """
    if tool == "bash":
        decision = policy.check_command(str(args.get("command", "")), mode=mode)
        if decision.action == "allow" and not decision.changes_system:
            return None
        what = "changes the system" if decision.changes_system else f"is judged {decision.action}"
        return f"this agent is read-only and the command {what} ({decision.reason})", decision
    if tool in READ_TOOLS:
        decision = policy.check_path(READ_TOOLS[tool], str(args.get("path") or "."), mode=mode)
        if decision.action == "allow":
            return None
        return f"this agent is read-only and the policy judges this {tool} {decision.action} ({decision.reason})", decision
    return f"this agent is read-only and {tool!r} is not a read-only tool", None

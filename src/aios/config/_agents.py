"""``[agents]`` config section (owned by aios.agent): specialists and delegation limits.

``[agents]`` holds the limits; every other table in it, ``[agents.NAME]``, is a specialist. The
loader files those tables under :attr:`AgentsConfig.specialists` (named by ``TABLES``), so the
TOML reads the way the design describes it::

    [agents]
    max_parallel = 4

    [agents.logs]
    description = "Reads system logs and journal entries to find errors and their causes."
    tools = ["bash", "read_file"]
    read_only = true
"""

from __future__ import annotations

from typing import ClassVar, Literal

from attrs import field, frozen, validators

from ._types import Seconds

AgentMode = Literal["safe", "normal", "paranoid", "trusted"]


@frozen
class AgentConfig:
    """``[agents.NAME]``: one specialist the main agent can delegate to."""

    description: str = ""
    """Its expertise in one or two sentences: shown to the model and used by the coordinator to
    pick a specialist for a task that names none."""
    system_prompt: str | None = None
    """Its instructions; unset: a short generic one built from the description."""
    tools: list[str] | None = None
    """Tools it may use, by name (a subset of the registry); unset: all of them."""
    mode: AgentMode | None = None
    """Its security mode; a mode looser than the request that starts it is refused."""
    read_only: bool = False
    """Only commands the policy allows without confirmation and that change nothing may run;
    anything else is refused inside the agent with the reason."""
    provider: str | None = None
    """A [llm.providers.NAME] section for this agent (e.g. a small local model); unset: the
    provider of the turn that delegates."""
    max_rounds: int = field(default=6, validator=validators.ge(1))
    """Model calls per task before it stops with status round-limit."""
    timeout: Seconds = field(default=Seconds(300.0))
    """Wall-clock limit of one task (model and tools); past it the task stops with status timeout."""


@frozen
class AgentsConfig:
    """``[agents]``: delegation limits; each ``[agents.NAME]`` table is a specialist."""

    TABLES: ClassVar[str] = "specialists"

    max_tasks: int = field(default=8, validator=validators.and_(validators.ge(1), validators.le(64)))
    """Tasks one delegate call may hand out."""
    max_parallel: int = field(default=4, validator=validators.and_(validators.ge(1), validators.le(64)))
    """Tasks of one delegate call that run at the same time (the rest wait for a free slot)."""
    max_depth: int = field(default=1, validator=validators.and_(validators.ge(0), validators.le(4)))
    """How deep delegation may nest: 1 lets the main agent delegate and no sub-agent; 0 turns the
    delegate tool off."""
    structured: bool = False
    """Offer the delegate tool to models in structured mode (small local models cannot plan)."""
    specialists: dict[str, AgentConfig] = field(factory=dict)
    """The `[agents.NAME]` tables (the built-ins investigator and reviewer need none)."""

"""The root config model."""

from __future__ import annotations

from attrs import field, frozen

from ._agents import AgentsConfig
from ._core import DaemonConfig, MemoryConfig, PathsConfig
from ._llm import LlmConfig
from ._recovery import RecoveryConfig
from ._sandbox import SandboxConfig
from ._security import SecurityConfig
from ._tools import ToolsConfig


@frozen
class Config:
    """The whole merged config. Build it with :func:`aios.config.load`."""

    daemon: DaemonConfig = field(factory=DaemonConfig)
    paths: PathsConfig = field(factory=PathsConfig)
    llm: LlmConfig = field(factory=LlmConfig)
    memory: MemoryConfig = field(factory=MemoryConfig)
    recovery: RecoveryConfig = field(factory=RecoveryConfig)
    security: SecurityConfig = field(factory=SecurityConfig)
    sandbox: SandboxConfig = field(factory=SandboxConfig)
    tools: ToolsConfig = field(factory=ToolsConfig)
    agents: AgentsConfig = field(factory=AgentsConfig)

"""The daemon's parts as one typed value, built from a config by one function.

A request takes the :class:`Services` in force when it starts and keeps it to the end: a reload
(see :mod:`aios.daemon._reload`) builds a new value and swaps it in at one point, so a running
turn never sees half of an old config and half of a new one.

What must outlive a reload is handed from the old value to the new one explicitly in
:func:`build_services`: the memory connection, the approvals waiting for an approver, the
session grants, the grant store, the embedded model servers whose provider did not change, the
tool registry when ``[tools]`` did not change, and the snapshot store when its paths did not.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from aios.config import Config, LoadedConfig, to_dict
from aios.errors import ConfigError

from ._approvals import Approvals
from ._grants import GrantStore

if TYPE_CHECKING:
    from aios.agent import EmbeddedServer, ProviderChoice
    from aios.memory import AsyncMemory, AuditTrail
    from aios.recovery import SnapshotStore
    from aios.sandbox import Identity, Jail
    from aios.security import Policy
    from aios.tools import ToolRegistry

POLICY_CACHE = 64
"""Policies kept per Services (one per workspace and set of prefix grants)."""


@attrs.frozen(eq=False)
class Services:
    """Everything a request needs, for one config. Never mutated after it is built, except the
    caches and long-lived state it holds (policies, session grants, approvals, servers)."""

    loaded: LoadedConfig
    origin: str
    memory: AsyncMemory
    approvals: Approvals
    """Other users' escalations waiting for an approver (carried over)."""
    grants: GrantStore
    """Prefix grants (a file in the state dir) and this daemon's session grants (carried over)."""
    session_grants: dict[str, set[str]]
    """Commands approved "for this session", by chat session (carried over)."""
    tools: ToolRegistry
    snapshots: SnapshotStore
    embedded: dict[str, EmbeddedServer]
    """Running embedded model servers by provider name (carried over while their config holds)."""
    protected: tuple[Path, ...]
    """The daemon's own files, which tools never write (aios.tools.protected_paths)."""
    provider: ProviderChoice | ConfigError
    """The model that answers chats (``llm``), or why none can: a config without a usable
    provider still serves everything else, and a chat reports the error."""
    loaded_at: float = attrs.field(factory=time.time)
    audit: AuditTrail | None = None
    """The audit trail (opened at start, carried over by reloads; see _methods_audit)."""
    policies: dict[tuple[Path, tuple[tuple[str, ...], ...]], Policy] = attrs.field(factory=dict)

    @property
    def config(self) -> Config:
        return self.loaded.config

    def policy(self, workspace: Path) -> Policy:
        """The policy for a workspace, with the person's prefix grants (cached until they change)."""
        from aios.security import Policy

        prefixes = tuple(self.grants.prefixes())
        key = (workspace, prefixes)
        policy = self.policies.get(key)
        if policy is None:
            policy = Policy(self.config.security, workspace=workspace, protected_paths=self._policy_protected(),
                            home=Path.home())
            if prefixes:
                policy = policy.with_prefix_grants(prefixes)
            if len(self.policies) > POLICY_CACHE:
                self.policies.clear()
            self.policies[key] = policy
        return policy

    def _policy_protected(self) -> list[Path]:
        from aios.security import daemon_files

        paths = self.loaded.paths
        return [Path(p) for p in daemon_files(
            state_dir=paths.state_dir, runtime_dir=paths.runtime_dir, socket=paths.socket,
            config_files=self.loaded.files, rules_file=self.config.security.rules_file, home=Path.home())]

    def jail(self, mode: str, workspace: Path, requester: Identity | None = None) -> Jail:
        """The jail for a request; another user's commands run in it as that user."""
        from aios.sandbox import Jail

        paths = self.loaded.paths
        return Jail(self.config.sandbox, mode=mode, workspace=workspace,
                    hidden=[paths.state_dir, paths.runtime_dir], home=Path.home(), run_as=requester)


def build_services(
    loaded: LoadedConfig,
    *,
    memory: AsyncMemory,
    origin: str,
    previous: Services | None = None,
    check_policy: bool = False,
    audit: Any | None = None,
) -> Services:
    """The services for ``loaded``, keeping what outlives a reload from ``previous``.

    Blocking (reads the rules file, may import tool plugins): call it in a worker thread.

    Args:
        loaded: the config to build from.
        memory: the open memory store (opened once, at start).
        origin: this daemon's origin name.
        previous: the services in force, when reloading.
        check_policy: build the default workspace's policy now, so that a broken rules file or
            regex fails the reload instead of every later request.
        audit: the audit trail opened at start (a reload carries ``previous.audit`` over).

    Raises:
        ConfigError: (with ``check_policy``) the rules file or a security regex is invalid.
    """
    from aios.agent import select_provider
    from aios.recovery import SnapshotStore
    from aios.recovery._seal import load_key
    from aios.tools import ToolRegistry, protected_paths

    paths = loaded.paths
    if previous is not None and to_dict(previous.config.tools) == to_dict(loaded.config.tools):
        tools = previous.tools
    else:
        tools = ToolRegistry.load(disabled=loaded.config.tools.disabled, plugins=loaded.config.tools.plugins)
    old_paths = previous.loaded.paths if previous is not None else None
    if previous is not None and old_paths is not None and (old_paths.snapshot_dir, old_paths.config_dir) == (
            paths.snapshot_dir, paths.config_dir):
        snapshots = previous.snapshots
    else:
        # The sealing key lives beside the config, never in the (possibly shared) state dir.
        snapshots = SnapshotStore(paths.snapshot_dir, origin=origin, key=load_key(paths.config_dir / "snapshot-seal.key"))
    embedded: dict[str, EmbeddedServer] = {}
    if previous is not None:
        providers = loaded.config.llm.providers
        for name, server in previous.embedded.items():
            # A named provider keeps its server while its section is unchanged; the implicit
            # default (no [llm.providers]) keeps it while there still are none.
            same = to_dict(providers[name]) == to_dict(server.config) if name in providers else not providers
            if same:
                embedded[name] = server
    provider: ProviderChoice | ConfigError
    try:
        provider = select_provider(loaded.config.llm)
    except ConfigError as exc:
        provider = exc
    services = Services(
        loaded=loaded,
        provider=provider,
        origin=origin,
        memory=memory,
        approvals=previous.approvals if previous is not None else Approvals(),
        grants=previous.grants if previous is not None else GrantStore(paths.state_dir / "grants.json"),
        session_grants=previous.session_grants if previous is not None else {},
        tools=tools,
        snapshots=snapshots,
        embedded=embedded,
        protected=protected_paths(loaded),
        audit=previous.audit if previous is not None else audit,
    )
    if check_policy:
        workspace = paths.workspace if paths.workspace.is_dir() else Path(os.path.expanduser("~"))
        services.policy(workspace)
    return services


class ServicesSlot:
    """The services in force, and an event that fires when a reload swaps them.

    The swap is one assignment on the trio thread: a request reads :attr:`current` once, at its
    start, and keeps what it read.
    """

    def __init__(self, services: Services) -> None:
        self.current = services
        self.swapped = trio.Event()
        """Set (and replaced by a fresh one) at each swap: long waits re-read their settings."""

    def swap(self, services: Services) -> Services:
        """Put ``services`` in force; return the ones it replaces."""
        old, self.current = self.current, services
        fired, self.swapped = self.swapped, trio.Event()
        fired.set()
        return old

"""The bubblewrap jail and the jailed runner.

Every command a tool runs goes through :class:`Jail`: :meth:`Jail.argv` builds the bubblewrap
argv for the mode (read-only root, writable workspace, private /tmp and /run, the daemon's own
directories and secret directories hidden, environment rebuilt, network per mode, a seccomp
filter), and :meth:`Jail.run` runs it under trio with a wall-clock timeout that kills the whole
process group, an output cap per stream and rlimits. :func:`probe` tells whether a jail can start
on this host and, when it cannot, why and what to change. Outside ``trusted`` mode nothing ever
runs unjailed: an unusable bubblewrap raises :class:`aios.errors.SandboxUnavailable`.
"""

from __future__ import annotations

from ._access import Identity
from ._probe import SandboxStatus, probe
from ._runner import Jail, JailResult
from ._spawn import Child, open_process

__all__ = ["Child", "Identity", "Jail", "JailResult", "SandboxStatus", "open_process", "probe"]

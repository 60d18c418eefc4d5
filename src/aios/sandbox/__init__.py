"""The bubblewrap jail and the jailed runner.

Every command a tool runs goes through :class:`Jail`: :meth:`Jail.argv` builds the bubblewrap
argv for the mode (the host's root read-only, /tmp, /var/tmp and /root included; a writable
workspace and a private ``TMPDIR``; /run, the daemon's own directories and secret directories
hidden; environment rebuilt; network per mode; a seccomp filter), and :meth:`Jail.run` runs it
under trio with a wall-clock timeout that kills the whole process group, an output cap per
stream and rlimits, and afterwards undoes git metadata the command planted in the workspace.
:func:`probe` tells whether a jail can start on this host and, when it cannot, why and what to
change. Outside ``trusted`` mode nothing ever runs unjailed: an unusable bubblewrap raises
:class:`aios.errors.SandboxUnavailable`.
"""

from __future__ import annotations

from ._access import Identity
from ._diagnose import named_hidden
from ._probe import SandboxStatus, probe
from ._profile import HOST_ENV_KEEP, JAIL_TMPDIR
from ._runner import Jail, JailResult
from ._spawn import Child, open_process
from ._workspace import iter_named as named_paths

__all__ = [
    "HOST_ENV_KEEP",
    "JAIL_TMPDIR",
    "Child",
    "Identity",
    "Jail",
    "JailResult",
    "SandboxStatus",
    "named_hidden",
    "named_paths",
    "open_process",
    "probe",
]

"""The daemon's own files: what no tool may write, confirmed or not (class ``protected``).

An approved "write outside the workspace" must not be able to set ``mode = "trusted"`` for the
next start, add a rule, change the unit the daemon runs from, or touch its state.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

UNIT_PATTERNS = (
    "/etc/systemd/system/aios*", "/etc/systemd/system/*.wants/aios*", "/lib/systemd/system/aios*",
    "/usr/lib/systemd/system/aios*", "/usr/local/lib/systemd/system/aios*", "/etc/systemd/user/aios*",
    "/usr/lib/systemd/user/aios*", "~/.config/systemd/user/aios*", "/etc/containers/systemd/aios*",
    "~/.config/containers/systemd/aios*",
)
"""systemd units and Podman quadlets that start the daemon (``~`` is the daemon user's home)."""


def daemon_files(
    *,
    state_dir: Path,
    runtime_dir: Path,
    socket: Path,
    config_files: Iterable[str | Path] = (),
    rules_file: str | None = None,
    home: Path,
) -> list[str]:
    """Every path of the daemon's own: state, socket, config files (loaded or not yet
    written), their ``aios`` directories, the rules file and the units.

    Args:
        state_dir: memory, snapshots, grants.
        runtime_dir: the socket's directory.
        socket: the socket itself (it may live elsewhere).
        config_files: the files this daemon loaded.
        rules_file: ``security.rules_file``.
        home: the daemon user's home (for ``~`` in unit locations).
    """
    # Imported here: `aios policy check` reads this list from its cache and never imports the config.
    from aios.config import system_config_file, user_config_dir, user_config_file

    out = [state_dir, runtime_dir, socket, system_config_file(), user_config_file(), *map(Path, config_files)]
    for d in (system_config_file().parent, user_config_dir()):
        if d.name == "aios":
            out.append(d)
    if rules_file:
        out.append(Path(rules_file).expanduser())
    units = [str(home) + u[1:] if u.startswith("~/") else u for u in UNIT_PATTERNS]
    return [*dict.fromkeys(str(p) for p in out), *units]

"""The daemon's own files, which no tool may write (issue 13 A4).

An approved "write outside the workspace" must not be able to set ``mode = "trusted"`` for the
next start, add a rule, change the unit's ``ExecStart`` or edit the memory database. The daemon
builds this list once per config (:func:`protected_paths`) and hands it to every tool call in
:attr:`aios.tools.ToolContext.protected`; :mod:`aios.tools._guard` refuses writes below any of
them in every mode, trusted included.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aios.config import system_config_file, user_config_dir, user_config_file

if TYPE_CHECKING:
    from aios.config import LoadedConfig

UNITS = ("aios-runtime.service", "aios-runtime.socket")
"""The systemd units ``aios daemon install`` writes (aios.cli._install.UNITS)."""

_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
              "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/systemd/user",
              "/usr/lib/systemd/user")
_QUADLET_DIRS = ("/etc/containers/systemd", "/usr/share/containers/systemd")


def protected_paths(loaded: LoadedConfig, environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """Every file and directory of the daemon that tools never write.

    The config files in force and the ones that *would* be read if created (system, user,
    ``AIOS_SYSTEM_CONFIG``, ``AIOS_CONFIG``), the default config directories, the rules file,
    the state and runtime directories, the systemd units with their drop-in directories (system
    and user scope), Podman quadlets named aios*, and the code the daemon runs (:func:`code_paths`).
    """
    env = os.environ if environ is None else environ
    paths = loaded.paths
    out: list[Path] = [Path(f) for f in loaded.files]
    out += [system_config_file(env), user_config_file(env), Path("/etc/aios"), user_config_dir(env)]
    out += [paths.state_dir, paths.runtime_dir, paths.socket, paths.memory_db, paths.snapshot_dir]
    rules = loaded.config.security.rules_file
    if rules:  # as the policy opens it (relative to the daemon's directory), and with ~ expanded
        out += [Path(rules).absolute(), Path(os.path.expanduser(rules)).absolute()]
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    user_units = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "systemd" / "user"
    for d in (*_UNIT_DIRS, str(user_units)):
        for unit in UNITS:
            out += [Path(d) / unit, Path(d) / f"{unit}.d"]
    for d in _QUADLET_DIRS:
        base = Path(d)
        try:
            out += [base / name for name in os.listdir(base) if name.startswith("aios")]
        except OSError:
            pass
    out += code_paths()
    seen: dict[str, Path] = {}
    for p in out:
        seen.setdefault(os.path.normpath(p), Path(os.path.normpath(p)))
    return tuple(seen.values())


def code_paths() -> list[Path]:
    """The code the daemon imports at its next start: the aios package (wherever it is installed,
    an editable checkout included), the interpreter's site-packages (a ``.pth`` there runs at every
    start, ``-I`` or not) and the environment's ``bin`` (the interpreter and the entry points).
    A write there is code the daemon would run as itself."""
    import sys
    import sysconfig

    import aios

    out = [Path(aios.__file__).resolve().parent, Path(sys.prefix) / "bin", Path(sys.exec_prefix) / "bin"]
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            out.append(Path(path))
    return out

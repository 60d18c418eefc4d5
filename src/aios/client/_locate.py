"""Find the daemon's socket without importing the config machinery (start-up speed).

This mirrors the socket rules of :mod:`aios.config` for the layers a client sees without
flags: ``AIOS_SOCKET``, ``AIOS_PATHS__SOCKET`` / ``AIOS_PATHS__RUNTIME_DIR``, ``[paths]`` in the
user and system config files, then the defaults. ``tests/client`` checks that both agree. When
the CLI is given ``--config`` or ``--set``, it resolves the socket with the full loader instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SOCKET_NAME = "aios.sock"
SYSTEM_SOCKET = Path("/run/aios") / SOCKET_NAME


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def _expand(path: str, env: Mapping[str, str]) -> Path:
    if path == "~" or path.startswith("~/"):
        return _home(env) / path[2:]
    return Path(path)


def _read_paths(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as f:
            import tomllib  # only when a config file exists

            data = tomllib.load(f)
    except (OSError, ValueError):  # TOMLDecodeError is a ValueError
        return {}
    paths = data.get("paths")
    daemon = data.get("daemon")
    out = dict(paths) if isinstance(paths, dict) else {}
    if isinstance(daemon, dict) and isinstance(daemon.get("autostart"), bool):
        out["autostart"] = daemon["autostart"]
    return out


def user_socket(env: Mapping[str, str] | None = None) -> Path:
    """The user daemon's socket for this environment (no flags)."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    for file in (_system_file(env), _user_file(env)):
        merged.update(_read_paths(file))
    for key in ("socket", "runtime_dir"):
        if env.get(f"AIOS_PATHS__{key.upper()}"):
            merged[key] = env[f"AIOS_PATHS__{key.upper()}"]
    if isinstance(merged.get("socket"), str):
        return _expand(merged["socket"], env)
    if isinstance(merged.get("runtime_dir"), str):
        return _expand(merged["runtime_dir"], env) / SOCKET_NAME
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "aios" / SOCKET_NAME
    return Path(f"/tmp/aios-{os.getuid()}") / SOCKET_NAME


def autostart_enabled(env: Mapping[str, str] | None = None) -> bool:
    """``daemon.autostart`` from the environment and the config files (default true)."""
    env = os.environ if env is None else env
    raw = env.get("AIOS_DAEMON__AUTOSTART")
    if raw is not None:
        return raw.strip().lower() not in ("false", "0", "no", "off")
    value = True
    for file in (_system_file(env), _user_file(env)):
        value = _read_paths(file).get("autostart", value)
    return value


def _system_file(env: Mapping[str, str]) -> Path:
    return Path(env.get("AIOS_SYSTEM_CONFIG") or "/etc/aios/config.toml")


def _user_file(env: Mapping[str, str]) -> Path:
    if env.get("AIOS_CONFIG"):
        return Path(env["AIOS_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
    return Path(base) / "aios" / "config.toml"


def socket_candidates(env: Mapping[str, str] | None = None) -> list[Path]:
    """Sockets to try in order: ``AIOS_SOCKET``, the user socket, the system socket."""
    env = os.environ if env is None else env
    if env.get("AIOS_SOCKET"):
        return [Path(env["AIOS_SOCKET"])]
    out = [user_socket(env)]
    if SYSTEM_SOCKET not in out:
        out.append(SYSTEM_SOCKET)
    return out

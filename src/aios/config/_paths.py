"""Where things live: user scope (XDG) and system scope, every location movable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

from ._model import Config

SYSTEM_CONFIG = Path("/etc/aios/config.toml")
SYSTEM_STATE = Path("/var/lib/aios")
SYSTEM_RUNTIME = Path("/run/aios")
SOCKET_NAME = "aios.sock"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or os.path.expanduser("~"))


def system_config_file(environ: Mapping[str, str] | None = None) -> Path:
    """The system config file: ``$AIOS_SYSTEM_CONFIG`` or /etc/aios/config.toml."""
    env = _env(environ)
    return Path(env["AIOS_SYSTEM_CONFIG"]) if env.get("AIOS_SYSTEM_CONFIG") else SYSTEM_CONFIG


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/aios`` (default ~/.config/aios)."""
    env = _env(environ)
    base = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
    return Path(base) / "aios"


def user_config_file(environ: Mapping[str, str] | None = None) -> Path:
    """The user config file: ``$AIOS_CONFIG`` or ``$XDG_CONFIG_HOME/aios/config.toml``."""
    env = _env(environ)
    if env.get("AIOS_CONFIG"):
        return Path(env["AIOS_CONFIG"])
    return user_config_dir(env) / "config.toml"


def user_runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = _env(environ)
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "aios"
    return Path(f"/tmp/aios-{os.getuid()}")


def _expand(path: str, environ: Mapping[str, str]) -> Path:
    if path == "~" or path.startswith("~/"):
        return _home(environ) / path[2:]
    return Path(path)


@frozen
class Paths:
    """Resolved locations; ``aios info --json`` reports them under ``"paths"``."""

    scope: str
    config_files: list[str]
    config_dir: Path
    state_dir: Path
    memory_db: Path
    snapshot_dir: Path
    runtime_dir: Path
    socket: Path
    workspace: Path
    log_file: Path
    """The daemon's log when it does not run under systemd (docs/operations.md)."""

    def to_json(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "config_files": list(self.config_files),
            "config_dir": str(self.config_dir),
            "state_dir": str(self.state_dir),
            "memory_db": str(self.memory_db),
            "snapshot_dir": str(self.snapshot_dir),
            "runtime_dir": str(self.runtime_dir),
            "socket": str(self.socket),
            "workspace": str(self.workspace),
            "log_file": str(self.log_file),
        }


def resolve_paths(
    config: Config, config_files: list[str], environ: Mapping[str, str] | None = None
) -> Paths:
    """Resolve every location for the scope that ``config.daemon.system`` selects."""
    env = _env(environ)
    system = config.daemon.system
    p = config.paths
    if system:
        state_default = SYSTEM_STATE
        runtime_default = SYSTEM_RUNTIME
        config_dir = system_config_file(env).parent
    else:
        xdg_state = env.get("XDG_STATE_HOME") or str(_home(env) / ".local" / "state")
        state_default = Path(xdg_state) / "aios"
        runtime_default = user_runtime_dir(env)
        config_dir = user_config_file(env).parent
    state_dir = _expand(p.state_dir, env) if p.state_dir else state_default
    runtime_dir = _expand(p.runtime_dir, env) if p.runtime_dir else runtime_default
    socket = _expand(p.socket, env) if p.socket else runtime_dir / SOCKET_NAME
    workspace = _expand(p.workspace, env) if p.workspace else _home(env) / "aios-workspace"
    return Paths(
        scope="system" if system else "user",
        config_files=config_files,
        config_dir=config_dir,
        state_dir=state_dir,
        memory_db=state_dir / "memory.db",
        snapshot_dir=state_dir / "snapshots",
        runtime_dir=runtime_dir,
        socket=socket,
        workspace=workspace,
        log_file=state_dir / "daemon.log",
    )


def client_socket_candidates(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Sockets a client tries, in order: AIOS_SOCKET, the user socket, the system socket."""
    env = _env(environ)
    out = []
    if env.get("AIOS_SOCKET"):
        out.append(Path(env["AIOS_SOCKET"]))
    out.append(user_runtime_dir(env) / SOCKET_NAME)
    out.append(SYSTEM_RUNTIME / SOCKET_NAME)
    return out

"""Configuration: attrs models, layered loading with provenance, and path resolution.

Layers, each overriding the one before: built-in defaults < system file
(``$AIOS_SYSTEM_CONFIG`` or /etc/aios/config.toml) < user file (``$AIOS_CONFIG`` or
``$XDG_CONFIG_HOME/aios/config.toml``) < ``AIOS_SECTION__KEY`` environment variables <
``--config FILE`` < ``--set section.key=value`` flags. The system file may also pin security
settings (see :mod:`aios.config._pins`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import cattrs

from aios.errors import ConfigError

from ._agents import AgentConfig, AgentsConfig
from ._core import DaemonConfig, MemoryConfig, MemoryRetention, PathsConfig, TypeRetention
from ._llm import LlmConfig, ProviderConfig, ProviderKind
from ._loader import (
    DEFAULT_SOURCE,
    KeyPath,
    describe_type_for_docs,
    env_layers,
    load_layers,
    read_toml,
    set_layer,
)
from ._model import Config
from ._paths import (
    Paths,
    client_socket_candidates,
    resolve_paths,
    system_config_file,
    user_config_dir,
    user_config_file,
    user_runtime_dir,
)
from ._pins import apply_pins, validate_pins
from ._problems import Problems
from ._recovery import RecoveryConfig
from ._sandbox import SandboxConfig
from ._security import MODES, STRICTNESS, Mode, SecurityConfig, is_mode
from ._tools import ToolsConfig
from ._types import Bytes, Seconds, format_duration, format_size, parse_duration, parse_size

__all__ = [
    "DEFAULT_SOURCE",
    "MODES",
    "STRICTNESS",
    "AgentConfig",
    "AgentsConfig",
    "Bytes",
    "Config",
    "ConfigError",
    "DaemonConfig",
    "LlmConfig",
    "LoadedConfig",
    "MemoryConfig",
    "MemoryRetention",
    "Mode",
    "Paths",
    "PathsConfig",
    "ProviderConfig",
    "ProviderKind",
    "RecoveryConfig",
    "SandboxConfig",
    "Seconds",
    "SecurityConfig",
    "ToolsConfig",
    "TypeRetention",
    "check_file",
    "client_socket_candidates",
    "describe_type_for_docs",
    "format_duration",
    "format_size",
    "is_mode",
    "load",
    "parse_duration",
    "parse_size",
    "resolve_paths",
    "system_config_file",
    "to_dict",
    "user_config_dir",
    "user_config_file",
    "user_runtime_dir",
]

_out = cattrs.Converter()


def _agents_dict(a: AgentsConfig) -> dict[str, Any]:
    # [agents.NAME] tables sit beside the limits, as in the TOML (and in their provenance keys).
    limits = {f.name: getattr(a, f.name) for f in attrs.fields(AgentsConfig) if f.name != AgentsConfig.TABLES}
    return {**limits, **{name: _out.unstructure(spec) for name, spec in a.specialists.items()}}


_out.register_unstructure_hook(AgentsConfig, _agents_dict)


def to_dict(obj: Any) -> Any:
    """Plain JSON-able data for a config object (or any part of it)."""
    return _out.unstructure(obj)


@attrs.frozen
class LoadedConfig:
    """The merged config, where each value came from, and the resolved paths."""

    config: Config
    provenance: dict[KeyPath, str]
    files: list[str]
    paths: Paths
    pins: dict[str, Any]

    def source_of(self, *key: str) -> str:
        return self.provenance.get(tuple(key), DEFAULT_SOURCE)

    def rows(self) -> list[tuple[str, Any, str]]:
        """(dotted key, value, source) for every leaf value, for ``aios config show``."""
        out: list[tuple[str, Any, str]] = []

        def walk(prefix: tuple[str, ...], value: Any) -> None:
            if (
                isinstance(value, dict)
                and (not prefix or prefix[-1] != "providers" or value)
                and not _is_leaf_dict(prefix)
            ):
                if not value and prefix:
                    out.append((".".join(prefix), value, self.source_of(*prefix)))
                for k, v in value.items():
                    walk((*prefix, k), v)
                return
            out.append((".".join(prefix), value, self.source_of(*prefix)))

        walk((), to_dict(self.config))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "config": to_dict(self.config),
            "sources": {key: source for key, _v, source in self.rows()},
            "files": list(self.files),
            "pins": dict(self.pins),
            "paths": self.paths.to_json(),
        }


def _is_leaf_dict(prefix: tuple[str, ...]) -> bool:
    return False


def load(
    *,
    config_file: str | os.PathLike[str] | None = None,
    sets: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    system: bool | None = None,
) -> LoadedConfig:
    """Load and merge every layer.

    Args:
        config_file: ``--config FILE``; must exist.
        sets: ``--set section.key=value`` flags, applied last in order.
        environ: the environment to read (default ``os.environ``).
        system: ``--system`` (True) forces the system scope.

    Raises:
        ConfigError: every problem in every layer at once (one line each in the message,
            one entry each in ``data["errors"]``), each naming the file, variable or flag,
            and the key.
    """
    env = os.environ if environ is None else environ
    layers: list[tuple[str, Mapping[str, Any]]] = []
    files: list[str] = []
    pins: dict[str, Any] = {}
    # Every layer is read even when an earlier one is broken, so that one run reports them all.
    problems = Problems()
    sys_file = system_config_file(env)
    if sys_file.is_file():
        files.append(str(sys_file))
        with problems.collect():
            data = read_toml(sys_file)
            if "pin" in data:
                pin = data.pop("pin")
                with problems.collect():
                    pins = validate_pins(pin, str(sys_file))
            layers.append((str(sys_file), data))
    usr_file = user_config_file(env)
    if usr_file.is_file() and usr_file != sys_file:
        files.append(str(usr_file))
        with problems.collect():
            layers.append((str(usr_file), _no_pin(read_toml(usr_file), usr_file)))
    layers.extend(env_layers(env, problems))
    if config_file is not None:
        path = Path(config_file)
        with problems.collect():
            if not path.is_file():
                what = "not a regular file" if path.exists() else "no such file"
                raise ConfigError(f"--config {path}: {what}", source=f"--config {path}")
            files.append(str(path))
            layers.append((str(path), _no_pin(read_toml(path), path)))
    for s in sets:
        with problems.collect():
            layers.append(set_layer(s))
    if system:
        layers.append(("flag --system", {"daemon": {"system": True}}))
    try:
        config, provenance = load_layers(layers)
    except ConfigError as exc:
        problems.add(exc)
    problems.raise_if_any()  # always raises when anything above failed
    config = apply_pins(config, pins, str(sys_file), provenance)
    return LoadedConfig(
        config=config,
        provenance=provenance,
        files=files,
        paths=resolve_paths(config, files, env),
        pins=pins,
    )


def _no_pin(data: dict[str, Any], path: Path) -> dict[str, Any]:
    if "pin" in data:
        raise ConfigError(
            f"{path}: [pin] is only allowed in the system config file", source=str(path), key="pin"
        )
    return data


def check_file(path: str | os.PathLike[str]) -> Config:
    """Validate one file alone (``aios config check FILE``).

    Raises:
        ConfigError: every problem in the file at once, each naming the file and key.
    """
    p = Path(path)
    data = read_toml(p)  # a file that cannot be read or parsed has nothing more to report
    problems = Problems()
    if "pin" in data:
        with problems.collect():
            validate_pins(data.pop("pin"), str(p))
    try:
        config, _prov = load_layers([(str(p), data)])
    except ConfigError as exc:
        problems.add(exc)
    problems.raise_if_any()
    return config

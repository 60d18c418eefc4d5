"""Reloading the config: load and check everything, build new services, swap at one point.

Triggers: the ``config.reload`` method, SIGHUP, and the config file watch (:mod:`._watch`).
A reload is all-or-nothing. Every layer is read again as at start (the daemon's own
``--config``/``--set`` flags included: they are part of its base), every problem is collected,
the rules file is compiled, and only when all of it holds are the new :class:`Services` built
and swapped in. An invalid config changes nothing; the error is logged and shown by ``status``
until a good reload.

Some settings are bound at start (the socket, the scope, the state and runtime directories, who
may connect, the memory connection): a reload that changes them names them under
``needs_restart`` and keeps the values in force; everything else in the same reload applies.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import attrs
import trio

from aios.config import LoadedConfig, load, to_dict
from aios.config._loader import read_toml
from aios.config._paths import system_config_file
from aios.config._pins import LOOSENS, apply_pins, validate_pins
from aios.config._problems import split
from aios.errors import ConfigError

from ._services import Services, ServicesSlot, build_services

log = logging.getLogger("aios.daemon")

RESTART_KEYS: tuple[tuple[str, str], ...] = (
    ("paths", "state_dir"), ("paths", "runtime_dir"), ("paths", "socket"),
    ("daemon", "system"), ("daemon", "socket_group"), ("daemon", "allowed_uids"), ("daemon", "allowed_gids"),
    ("daemon", "watchdog"), ("daemon", "log_level"), ("daemon", "log_target"), ("daemon", "log_max_bytes"),
    ("daemon", "log_keep"), ("memory", "audit_journal"),
    ("memory", "busy_timeout"), ("memory", "readers"), ("memory", "embedder"), ("memory", "embed_url"),
    ("memory", "embed_model"), ("memory", "embed_api_key_env"),
)
"""Config keys read once at start: who may connect is decided by the listener built then, the
memory connection and the audit trail (with its journal socket) are opened once and carried over,
and the log handlers are set up before the daemon serves."""

_BOUND_PATHS = ("scope", "config_dir", "state_dir", "memory_db", "snapshot_dir", "runtime_dir", "socket")
"""Resolved locations that stay as they were at start (see RESTART_KEYS)."""


@attrs.frozen
class ReloadResult:
    """The reply of ``config.reload``."""

    changed: list[str] = attrs.field(factory=list)
    """Top-level config sections whose values changed."""
    needs_restart: list[str] = attrs.field(factory=list)
    """Keys that changed but are bound at start (their old values stay in force)."""
    pinned: list[str] = attrs.field(factory=list)
    """Keys the new config tried to loosen past a pin in the system config (the reload failed)."""
    errors: list[dict[str, str]] = attrs.field(factory=list)
    """Every problem found (``message``, ``source``, ``key``); non-empty means nothing changed."""

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "needs_restart": self.needs_restart, "pinned": self.pinned, "errors": self.errors}


@attrs.frozen
class StartArgs:
    """How the daemon loaded its config at start; a reload loads the same way."""

    config_file: str | None = None
    sets: tuple[str, ...] = ()
    system: bool | None = None

    def load(self) -> LoadedConfig:
        return load(config_file=self.config_file, sets=self.sets, system=self.system)


def _get(tree: dict[str, Any], key: tuple[str, str]) -> Any:
    return tree.get(key[0], {}).get(key[1])


def keep_bound(new: LoadedConfig, start: LoadedConfig) -> tuple[LoadedConfig, list[str]]:
    """``new`` with the start-bound settings of ``start``, and the names of those that differ."""
    old_tree, new_tree = to_dict(start.config), to_dict(new.config)
    differ = [".".join(k) for k in RESTART_KEYS if _get(old_tree, k) != _get(new_tree, k)]
    differ += [f"paths.{name}" for name in _BOUND_PATHS
               if getattr(start.paths, name) != getattr(new.paths, name) and f"paths.{name}" not in differ]
    cfg = new.config
    sections: dict[str, Any] = {}
    for section, key in RESTART_KEYS:
        current = sections.get(section, getattr(cfg, section))
        sections[section] = attrs.evolve(current, **{key: getattr(getattr(start.config, section), key)})
    paths = attrs.evolve(new.paths, **{name: getattr(start.paths, name) for name in _BOUND_PATHS})
    kept = attrs.evolve(new, config=attrs.evolve(cfg, **sections), paths=paths)
    return kept, sorted(set(differ))


def changed_sections(old: LoadedConfig, new: LoadedConfig) -> list[str]:
    a, b = to_dict(old.config), to_dict(new.config)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _failed(exc: ConfigError) -> ReloadResult:
    problems = split(exc)
    pinned = sorted({p.key for p in problems if LOOSENS in p.message and p.key})
    return ReloadResult(pinned=pinned, errors=[{"message": p.message, "source": p.source, "key": p.key} for p in problems])


@attrs.define
class ConfigState:
    """What ``status`` shows about the config in force."""

    loaded_at: float
    files: list[str]
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"state": "ok" if self.error is None else "error", "error": self.error,
                "loaded_at": self.loaded_at, "files": list(self.files)}


class Reloader:
    """Reloads the config into a :class:`ServicesSlot`, one reload at a time."""

    def __init__(self, slot: ServicesSlot, start: StartArgs, started_with: LoadedConfig) -> None:
        self.slot = slot
        self.start = start
        self.started_with = started_with
        self.state = ConfigState(loaded_at=time.time(), files=watched_files(started_with))
        self._lock = trio.Lock()
        self._rules = _read_rules(started_with)
        """The rules file's bytes in force: a reload that changes only them changes ``security``."""

    async def reload(self, trigger: str) -> ReloadResult:
        """Load, check, build and swap; or change nothing and report every error.

        Cancellation: the load and build run in a worker thread; a cancelled reload swaps nothing.
        """
        async with self._lock:
            started = time.monotonic()
            current = self.slot.current
            try:
                result, services, rules = await trio.to_thread.run_sync(self._build, current)
            except ConfigError as exc:
                result, services, rules = _failed(exc), None, None
            if services is None:
                self.state.error = "\n".join(e["message"] for e in result.errors)
                log.error("config reload (%s) failed; keeping the config in force:\n%s", trigger, self.state.error)
                if result.pinned:
                    await self._tighten(current, trigger)
                return result
            self.slot.swap(services)
            self._rules = rules
            self.state = ConfigState(loaded_at=services.loaded_at, files=watched_files(services.loaded))
            log.info("config reloaded (%s) in %.1f ms: changed %s%s", trigger, (time.monotonic() - started) * 1000,
                     ", ".join(result.changed) or "nothing",
                     f"; needs a restart: {', '.join(result.needs_restart)}" if result.needs_restart else "")
            return result

    async def _tighten(self, current: Services, trigger: str) -> None:
        """A reload failed because a file loosens a pin: the pins of the system config as it is
        now still win over the config in force (an administrator's new pin must not wait for the
        user to fix their file while the daemon keeps running looser)."""

        def work() -> Services | None:
            sys_file = system_config_file(os.environ)
            try:
                data = read_toml(sys_file) if sys_file.is_file() else {}
                pins = validate_pins(data.get("pin", {}), str(sys_file)) if "pin" in data else {}
            except ConfigError:
                return None
            if not pins:
                return None
            # No provenance: every security value in force counts as overridable by the pins.
            tightened = apply_pins(current.config, pins, str(sys_file), {})
            allow = current.config.security.allow
            if "allow" in pins and allow is not None:
                # apply_pins puts the pinned list in place of an allow list it cannot attribute;
                # here the list in force only loses what the pin does not allow, it never grows.
                kept = [a for a in allow if a in pins["allow"]]
                tightened = attrs.evolve(tightened, security=attrs.evolve(tightened.security, allow=kept))
            if tightened == current.config:
                return None
            loaded = attrs.evolve(current.loaded, config=tightened, pins={**current.loaded.pins, **pins})
            return build_services(loaded, memory=current.memory, origin=current.origin, previous=current, check_policy=True)

        try:
            services = await trio.to_thread.run_sync(work)
        except ConfigError as exc:
            log.error("config reload (%s): the new pins could not be applied either: %s", trigger, exc)
            return
        if services is not None:
            self.slot.swap(services)
            log.warning("config reload (%s): applied the system config's pins to the config in force "
                        "(mode %s); the rest of the new config waits until the errors are fixed", trigger,
                        services.config.security.mode)

    def _build(self, current: Services) -> tuple[ReloadResult, Services, bytes | None]:
        loaded, needs_restart = keep_bound(self.start.load(), self.started_with)
        services = build_services(loaded, memory=current.memory, origin=current.origin, previous=current, check_policy=True)
        changed = changed_sections(current.loaded, loaded)
        rules = _read_rules(loaded)
        if "security" not in changed and rules != self._rules:
            changed = sorted([*changed, "security"])
        return ReloadResult(changed=changed, needs_restart=needs_restart), services, rules


def _read_rules(loaded: LoadedConfig) -> bytes | None:
    path = loaded.config.security.rules_file
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def watched_files(loaded: LoadedConfig) -> list[str]:
    """The files a config came from: every config file read, and the rules file."""
    files = list(loaded.files)
    rules = loaded.config.security.rules_file
    if rules:
        import os

        files.append(os.path.abspath(os.path.expanduser(rules)))
    return files


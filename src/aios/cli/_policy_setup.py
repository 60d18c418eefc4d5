"""What ``aios policy check|test`` needs of the config, kept between runs.

Loading the config imports its models and cattrs (~40 ms), while a check needs a handful of
values: the mode and its pin, the ``[security]`` lists and rules file, the state directory and
workspace, and the daemon's own files. Those are stored (JSON, in the policy cache directory)
together with everything they were computed from: every ``AIOS_*`` and ``XDG_*`` variable and
``HOME``, ``--config`` and ``--set``, the uid, the source of the config package, and the sha256
of each config file read — or the absence of each one looked for. While all of that is unchanged
the stored values are used; otherwise the config is loaded in full, as ``aios config`` does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

import aios
from aios.security import CacheDir, default_cache_dir, digest, source_stamp

FORMAT = 1
KIND = "settings"


class Security(NamedTuple):
    """The ``[security]`` values a policy reads (the shape of :class:`aios.config.SecurityConfig`)."""

    mode: str
    dangerous_patterns: tuple[str, ...]
    require_confirm: tuple[str, ...]
    allow: tuple[str, ...] | None
    rules_file: str | None


class Setup(NamedTuple):
    """The config's answer to what a policy check needs.

    Attributes:
        security: the ``[security]`` section.
        pinned_mode: the system config's ``pin.security.mode`` (None: not pinned).
        cache_dir: where built rules are kept (None: off).
        state_dir: the daemon's state directory (prefix grants live there).
        workspace: the configured (or default) workspace.
        workspace_set: whether ``paths.workspace`` was set (then it is used from anywhere).
        protected: the daemon's own files (:func:`aios.security.daemon_files`).
    """

    security: Security
    pinned_mode: str | None
    cache_dir: str | None
    state_dir: str
    workspace: str
    workspace_set: bool
    protected: tuple[str, ...]


def load_setup(config_file: str | None, sets: list[str]) -> Setup:
    """The setup for these global options: stored when its inputs are unchanged, else loaded.

    Raises:
        ConfigError: the config is invalid (every problem, one line each).
    """
    home_cache = default_cache_dir()
    cache = CacheDir(home_cache) if home_cache is not None else None
    key = _key(config_file, sets)
    if cache is not None:
        hit = _stored(cache, key)
        if hit is not None:
            return hit
    setup, inputs = _load(config_file, sets)
    # A config that moves the cache elsewhere is honoured for the rules; storing its values in
    # the default place would write where the person said not to.
    if cache is not None and inputs is not None and setup.cache_dir == str(home_cache):
        payload = {"format": FORMAT, "key": key, "inputs": inputs, "setup": _to_json(setup)}
        cache.write(KIND, key, json.dumps(payload).encode())
    return setup


def _key(config_file: str | None, sets: list[str]) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("AIOS_", "XDG_")) or k == "HOME")
    where = os.path.abspath(config_file) if config_file else None
    pkg = Path(aios.__file__).parent
    head = (FORMAT, aios.__version__, sys.version, os.getuid(), os.geteuid(), env, where, list(sets),
            source_stamp(pkg / "config", pkg / "security", Path(__file__).parent))
    return digest(repr(head).encode())


def _stored(cache: CacheDir, key: str) -> Setup | None:
    body = cache.read(KIND, key)
    if body is None:
        return None
    try:
        data = json.loads(body)
        if data["format"] != FORMAT or data["key"] != key:
            return None
        if any(_digest(path) != digest for path, digest in data["inputs"]):
            return None
        return _from_json(data["setup"])
    except (ValueError, KeyError, TypeError):
        return None


def _digest(path: str) -> str | None:
    """sha256 of a config file, None when there is no regular file to read there."""
    try:
        with open(path, "rb") as f:
            return digest(f.read())
    except OSError:
        return None


def _load(config_file: str | None, sets: list[str]) -> tuple[Setup, list[tuple[str, str | None]] | None]:
    """The setup from the full config; with the files it read (None when one changed meanwhile)."""
    from aios.config import load, system_config_file, user_config_file
    from aios.security import configured_cache_dir, daemon_files

    looked = [str(system_config_file()), str(user_config_file()), *([config_file] if config_file else [])]
    before = [(p, _digest(p)) for p in looked]
    loaded = load(config_file=config_file, sets=sets)
    sec = loaded.config.security
    paths = loaded.paths
    cache_dir = configured_cache_dir(sec.cache_dir)
    protected = daemon_files(state_dir=paths.state_dir, runtime_dir=paths.runtime_dir, socket=paths.socket,
                             config_files=loaded.files, rules_file=sec.rules_file, home=Path.home())
    setup = Setup(
        Security(sec.mode, tuple(sec.dangerous_patterns), tuple(sec.require_confirm),
                 None if sec.allow is None else tuple(sec.allow), sec.rules_file),
        loaded.pins.get("mode"), None if cache_dir is None else str(cache_dir), str(paths.state_dir),
        str(paths.workspace), bool(loaded.config.paths.workspace), tuple(protected),
    )
    after = [(p, _digest(p)) for p in looked]
    return setup, (before if before == after else None)


def _to_json(s: Setup) -> dict[str, Any]:
    sec = s.security
    return {"security": [sec.mode, list(sec.dangerous_patterns), list(sec.require_confirm),
                         None if sec.allow is None else list(sec.allow), sec.rules_file],
            "pinned_mode": s.pinned_mode, "cache_dir": s.cache_dir, "state_dir": s.state_dir,
            "workspace": s.workspace, "workspace_set": s.workspace_set, "protected": list(s.protected)}


def _from_json(d: dict[str, Any]) -> Setup:
    mode, dangerous, confirm, allow, rules_file = d["security"]
    return Setup(
        Security(str(mode), tuple(map(str, dangerous)), tuple(map(str, confirm)),
                 None if allow is None else tuple(map(str, allow)), None if rules_file is None else str(rules_file)),
        None if d["pinned_mode"] is None else str(d["pinned_mode"]),
        None if d["cache_dir"] is None else str(d["cache_dir"]), str(d["state_dir"]), str(d["workspace"]),
        bool(d["workspace_set"]), tuple(map(str, d["protected"])),
    )

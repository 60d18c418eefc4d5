"""Pins: security settings the system config fixes so that no later layer can loosen them.

In the system config file only::

    [pin.security]
    mode = "safe"                      # the mode can be made stricter, never looser
    dangerous_patterns = ['\\bcurl\\b.*\\|\\s*sh']   # always added, cannot be removed
    require_confirm = ['\\bgit\\s+push']
    allow = ["ls", "cat"]              # paranoid allow list: later layers may only shrink it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from aios.errors import ConfigError

from ._model import Config
from ._problems import Problems
from ._security import STRICTNESS

PIN_KEYS = ("mode", "dangerous_patterns", "require_confirm", "allow")
LOOSENS = "which loosens the pin"
"""In the message of every error about a layer loosening a pin (a reload reports those keys)."""
KeyPath = tuple[str, ...]


def validate_pins(raw: Any, source: str) -> dict[str, Any]:
    """Check the ``[pin]`` table of the system file; return ``pin.security`` as a dict.

    Raises:
        ConfigError: every problem in ``[pin]`` at once, each naming the key.
    """
    if not isinstance(raw, Mapping) or set(raw) - {"security"}:
        raise ConfigError(f"{source}: [pin] may only hold [pin.security]", source=source, key="pin")
    sec = raw.get("security", {})
    if not isinstance(sec, Mapping):
        raise ConfigError(
            f"{source}: pin.security must be a table", source=source, key="pin.security"
        )
    problems = Problems()
    for key, value in sec.items():
        full = f"pin.security.{key}"
        if key not in PIN_KEYS:
            problems.add(ConfigError(
                f"{source}: unknown key {full!r} (pinnable: {', '.join(PIN_KEYS)})",
                source=source,
                key=full,
            ))
        elif key == "mode":
            if value not in STRICTNESS:
                problems.add(ConfigError(
                    f"{source}: {full} = {value!r} is invalid (expected one of "
                    "'safe', 'normal', 'paranoid', 'trusted')",
                    source=source,
                    key=full,
                ))
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.add(ConfigError(
                f"{source}: {full} must be a list of strings", source=source, key=full
            ))
    problems.raise_if_any()
    return dict(sec)


def apply_pins(
    config: Config, pins: Mapping[str, Any], source: str, provenance: dict[KeyPath, str]
) -> Config:
    """Apply pins to the merged config; a later layer that loosens one is an error."""
    if not pins:
        return config
    sec = config.security
    changes: dict[str, Any] = {}
    problems = Problems()

    def loosened(key: str, what: str) -> ConfigError:
        by = provenance.get(("security", key), "default")
        return ConfigError(
            f"{by}: security.{key} {what}, {LOOSENS} pin.security.{key} in {source}",
            source=by,
            key=f"security.{key}",
        )

    if "mode" in pins:
        pinned = pins["mode"]
        if ("security", "mode") not in provenance or provenance[("security", "mode")] == source:
            if STRICTNESS[sec.mode] < STRICTNESS[pinned]:
                changes["mode"] = pinned
        elif STRICTNESS[sec.mode] < STRICTNESS[pinned]:
            problems.add(loosened("mode", f"= {sec.mode!r} is looser than the pinned {pinned!r}"))
        provenance.setdefault(("security", "mode"), source)
    for key in ("dangerous_patterns", "require_confirm"):
        if key in pins:
            current = list(getattr(sec, key))
            changes[key] = current + [p for p in pins[key] if p not in current]
    if "allow" in pins:
        pinned_allow = list(pins["allow"])
        if sec.allow is None or provenance.get(("security", "allow")) in (None, source):
            changes["allow"] = pinned_allow
        else:
            extra = [a for a in sec.allow if a not in pinned_allow]
            if extra:
                problems.add(loosened("allow", f"adds {extra!r}"))
    problems.raise_if_any()
    if changes:
        config = attrs.evolve(config, security=attrs.evolve(sec, **changes))
    for key in pins:
        provenance[("security", key)] = (
            f"{provenance.get(('security', key), source)} (pinned in {source})"
        )
    return config

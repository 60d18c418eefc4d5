"""``[security]`` config section (owned by aios.security)."""

from __future__ import annotations

from typing import Literal

from attrs import field, frozen

from ._types import Seconds

Mode = Literal["safe", "normal", "paranoid", "trusted"]
"""The four security modes (docs/security.md); this is their one definition."""
MODES: tuple[Mode, ...] = ("safe", "normal", "paranoid", "trusted")
STRICTNESS: dict[str, int] = {"trusted": 0, "normal": 1, "safe": 2, "paranoid": 3}
"""Loosest to strictest: a request may always ask for a mode at least as strict as the daemon's."""


def is_mode(value: object) -> bool:
    """Whether ``value`` names one of :data:`MODES`."""
    return isinstance(value, str) and value in MODES


@frozen
class SecurityConfig:
    """``[security]``: the command policy."""

    mode: Mode = "normal"
    """One of safe, normal, paranoid, trusted (see docs/security.md)."""
    dangerous_patterns: list[str] = field(factory=list)
    """Regexes (original design): a command line matching one is blocked."""
    require_confirm: list[str] = field(factory=list)
    """Regexes (original design): a command line matching one needs confirmation."""
    allow: list[str] | None = None
    """Paranoid mode's allow list (command prefixes); None uses the built-in read-only set."""
    rules_file: str | None = None
    """An extra rules TOML file that extends or overrides the built-in rules."""
    confirm_timeout: Seconds = field(default=Seconds(120.0))
    """No answer to a confirmation within this time is a denial."""

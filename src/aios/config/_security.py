"""``[security]`` config section (owned by aios.security)."""

from __future__ import annotations

from attrs import field, frozen

from aios.modes import MODES, STRICTNESS, Mode, is_mode

from ._types import Seconds

__all__ = ["MODES", "STRICTNESS", "Mode", "SecurityConfig", "is_mode"]


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
    cache_dir: str | None = None
    """Where built rules are kept between runs (docs/security.md); unset: $XDG_CACHE_HOME/aios; "" turns it off."""
    confirm_timeout: Seconds = field(default=Seconds(120.0))
    """No answer to a confirmation within this time is a denial."""

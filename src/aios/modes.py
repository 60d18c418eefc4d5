"""The security modes: their names and their order from loosest to strictest.

This is their one definition. :mod:`aios.config` re-exports it (``from aios.config import
MODES``); modules on ``aios policy check``'s path import it from here, because importing
:mod:`aios.config` also builds the config models and cattrs (~40 ms of a command that aims at
a few milliseconds over the CLI's floor).
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["safe", "normal", "paranoid", "trusted"]
"""The four security modes (docs/security.md)."""
MODES: tuple[Mode, ...] = ("safe", "normal", "paranoid", "trusted")
STRICTNESS: dict[str, int] = {"trusted": 0, "normal": 1, "safe": 2, "paranoid": 3}
"""Loosest to strictest: a request may always ask for a mode at least as strict as the daemon's."""


def is_mode(value: object) -> bool:
    """Whether ``value`` names one of :data:`MODES`."""
    return isinstance(value, str) and value in MODES

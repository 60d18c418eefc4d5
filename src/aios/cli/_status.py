"""``aios status`` and ``aios info`` as cyclopts commands, and the ``--json`` flag every command
shares. What they print is in :mod:`aios.cli._statusview`."""

from __future__ import annotations

from typing import Annotated

from cyclopts import Parameter

from ._statusview import show_info, show_status

JsonFlag = Annotated[bool, Parameter(name="--json", help="Print one JSON document for scripts.", negative=())]


def status(*, json: JsonFlag = False) -> int:
    """Show whether the daemon runs: version, pid, uptime, mode, clients, memory counts."""
    return show_status(json=json)


def info(*, json: JsonFlag = False) -> int:
    """Show the host, kernel, paths, sandbox state and configured model provider."""
    return show_info(json=json)

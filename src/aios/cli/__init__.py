"""The ``aios`` command line.

Nothing heavy is imported here: ``main`` hands the hottest spellings scripts run in loops
(``aios status``, ``aios policy check …``) straight to their commands, and everything else to
the cyclopts app in :mod:`aios.cli._app` (importing cyclopts alone costs ~170 ms here). Every
command lives in a private module that is imported when that command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from . import _context, _edge


def __getattr__(name: str) -> Any:
    """``aios.cli.app`` and ``aios.cli.EXIT_CODES`` (completion, man page, tests), loaded on first use."""
    if name in ("app", "EXIT_CODES"):
        from . import _app

        return getattr(_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aios`` script; returns the exit code.

    Every failure, expected or not, leaves through :func:`aios.cli._edge.guard`: one line on
    stderr (one per problem for a config with several) and an exit code from the contract.
    """
    tokens = list(sys.argv[1:] if argv is None else argv)
    return _edge.guard(lambda: _dispatch(tokens), tokens)


def _dispatch(tokens: list[str]) -> int:
    if tokens in (["status"], ["status", "--json"]):
        # The hottest command in scripts skips cyclopts altogether (~170 ms to import here): it
        # has no arguments to parse. Anything else, including global options, goes through cyclopts.
        from ._statusview import show_status

        _context.configure(socket=None, config=None, sets=[], no_autostart=False)
        return show_status(json=len(tokens) == 2)
    if tokens[:2] == ["policy", "check"]:
        # Scripts run this in loops; the usual spellings skip the parse the same way.
        from ._policy_check import check_fast

        _context.configure(socket=None, config=None, sets=[], no_autostart=False)
        code = check_fast(tokens[2:])
        if code is not None:
            return code
    from ._app import app

    code = app.meta(tokens, exit_on_error=False, print_error=False, result_action="return_value")
    return int(code) if isinstance(code, int) and not isinstance(code, bool) else 0

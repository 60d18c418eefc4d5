"""The one place where a failure leaves the CLI: a line (or one per problem) and an exit code.

Commands handle the errors they expect with :func:`aios.cli._context.run`; whatever escapes
them ends here, in :func:`guard`, so no Python traceback ever reaches the person:

- a usage error from cyclopts (unknown command, missing or unconvertible argument) is one
  ``aios: ...`` line and exit 2;
- an :class:`~aios.errors.AiosError` is its message and exit 1 (3 for an unreachable daemon);
- anything else is a bug: one line naming the exception and the file that holds the full
  traceback (``$XDG_STATE_HOME/aios/cli-errors.log``), exit 1. ``AIOS_DEBUG=1`` also prints
  the traceback on stderr.

Stays light: only the standard library and :mod:`aios.errors` are imported up front.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aios.errors import AiosError, DaemonUnreachable

from . import _context as ctx


def guard(body: Callable[[], int], argv: Sequence[str]) -> int:
    """Run ``body`` (the whole command line) and turn every failure into a line and a code."""
    try:
        return body()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help / --version, or a library that calls sys.exit
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ctx.fail(str(exc.code)))
    except BrokenPipeError:
        # `aios ... | head`: the reader left; say nothing more and keep Python from complaining
        # about the unflushable stdout at exit.
        _silence_stdout()
        return ctx.EXIT_ERROR
    except DaemonUnreachable as exc:
        return ctx.fail(str(exc), ctx.EXIT_UNREACHABLE)
    except AiosError as exc:
        return ctx.fail(str(exc))
    except Exception as exc:
        if _is_usage_error(exc):
            return usage_error(exc)
        return crashed(exc, argv)  # a bug: one line here, the details in a file


def _is_usage_error(exc: Exception) -> bool:
    """A cyclopts parse error. Only a command line that loaded cyclopts can raise one, so a
    fast path that never imports it (``aios policy check``, ``aios status``) does not pay ~50 ms
    for the class to compare against."""
    module = sys.modules.get("cyclopts.exceptions")
    return module is not None and isinstance(exc, module.CycloptsError)


def usage_error(exc: Exception) -> int:
    """One line for a cyclopts parse error, with where to read the usage."""
    message = " ".join(str(exc).split())  # cyclopts wraps long messages over several lines
    command = [t for t in getattr(exc, "command_chain", None) or () if t]
    hint = f"aios {' '.join(command)} --help" if command else "aios --help"
    return ctx.fail(f"{message} (see {hint})", ctx.EXIT_USAGE)


def crash_log() -> Path:
    """Where unexpected errors are recorded: the user's state directory, outside any config."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path(os.environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "aios" / "cli-errors.log"


def crashed(exc: BaseException, argv: Sequence[str]) -> int:
    """Record the traceback of an unexpected exception and print one line pointing at it."""
    import datetime
    import traceback

    text = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = f"--- {stamp} aios {' '.join(argv)}\n{text}\n"
    where = _append(crash_log(), entry)
    if os.environ.get("AIOS_DEBUG"):
        sys.stderr.write(text)
    summary = " ".join(str(exc).split()) or "no message"
    place = f"the details are in {where}" if where else "set AIOS_DEBUG=1 to see the details"
    return ctx.fail(f"internal error ({type(exc).__name__}: {summary}); {place}; please report it")


def _append(path: Path, entry: str) -> Path | None:
    """Append to ``path`` (made private to the user); fall back to a new temporary file."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as f:
            f.write(entry)
        return path
    except OSError:
        pass
    try:
        fd, name = tempfile.mkstemp(prefix="aios-cli-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:
            f.write(entry)
        return Path(name)
    except OSError:
        return None


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

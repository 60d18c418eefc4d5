"""Global CLI state (options before the command), exit codes and output helpers.

Stays light: json, os, sys and the blocking client only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aios.errors import AiosError, ClientError, ConfigError, DaemonUnreachable

from ._oneoff import OneOff

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class _Globals:
    def __init__(self) -> None:
        self.socket: Path | None = None
        self.config: str | None = None
        self.sets: list[str] = []
        self.no_autostart = False
        self.mode_sent = False
        self.warned = False
        self._overrides: OneOff | None = None


G = _Globals()


def configure(*, socket: str | None, config: str | None, sets: list[str], no_autostart: bool) -> None:
    G.socket = Path(socket) if socket else None
    G.config = config
    G.sets = list(sets)
    G.no_autostart = no_autostart
    G.mode_sent = False
    G.warned = False
    G._overrides = None


def daemon_args() -> list[str]:
    """Global options handed to a daemon started on purpose (``aios daemon start|run|restart``).

    Never to a daemon started on demand by another command: see :func:`client`.
    """
    args: list[str] = []
    if G.config:
        args += ["--config", G.config]
    for s in G.sets:
        args += ["--set", s]
    return args


def overrides() -> OneOff:
    """What this call's ``--config``/``--set`` change (the full loader; only when given)."""
    if G._overrides is None:
        G._overrides = OneOff.load(G.config, G.sets) if G.config or G.sets else OneOff()
    return G._overrides


def resolve_socket() -> Path | None:
    """An explicit socket: --socket, or the one --config/--set select (full loader)."""
    if G.socket is not None:
        return G.socket
    return overrides().socket


def request_mode(explicit: str | None) -> str | None:
    """The per-request mode a command sends: its ``--mode``, else a one-off ``security.mode``
    (``--set``, ``--config``, or ``AIOS_SECURITY__MODE``).

    Calling this tells :func:`client` the command honours a one-off mode (no warning for it).
    """
    G.mode_sent = True
    # AIOS_SECURITY__MODE belongs to the call like --set security.mode does: a daemon that is
    # already running never read this environment, so it is sent as the request's mode.
    return explicit or overrides().mode or (os.environ.get("AIOS_SECURITY__MODE") or "").strip().lower() or None


def client() -> Any:
    """A connection to the daemon, starting one on demand when allowed.

    A daemon started here never gets this call's ``--set``/``--config``/one-off ``AIOS_*``
    overrides (it outlives the call); the overrides the call cannot honour itself are named on
    stderr, one line, instead of silently running with the daemon's settings.
    """
    from aios.client import connect

    one_off = overrides()
    ignored = one_off.ignored(mode_sent=G.mode_sent)
    if ignored and not G.warned:
        G.warned = True  # once per call: the shell connects once per turn
        warn(f"{', '.join(ignored)} not applied: the running daemon keeps its own settings for them "
             "(a one-off override reaches the daemon only as a request's --mode; for lasting ones "
             "edit the config or use 'aios daemon restart --set ...')")
    autostart: bool | None = False if G.no_autostart else one_off.autostart
    return connect(resolve_socket(), autostart=autostart, notice=warn)


def warn(message: str) -> None:
    """One ``aios: ...`` line on stderr that does not change the exit code."""
    print(f"aios: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_ERROR) -> int:
    """Print ``message`` on stderr, each of its lines as one ``aios: ...`` line; return ``code``.

    A message has several lines only when it reports several problems at once (a config with
    more than one error): each line is then one problem, naming its file and key.
    """
    for line in message.splitlines() or [""]:
        print(f"aios: {line}", file=sys.stderr)
    return code


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def errors_to_exit(codes: dict[str, int]) -> Iterator[None]:
    """Turn aios errors into one line on stderr; the exit code goes into ``codes['code']``."""
    from aios.client import RemoteError

    try:
        yield
    except DaemonUnreachable as exc:
        codes["code"] = fail(f"{exc}", EXIT_UNREACHABLE)
    except RemoteError as exc:
        codes["code"] = fail(exc.message, EXIT_USAGE if exc.is_usage_error else EXIT_ERROR)
    except ConfigError as exc:
        codes["code"] = fail(str(exc))
    except (ClientError, AiosError) as exc:
        codes["code"] = fail(str(exc))


def run(body: Callable[[], int | None]) -> int:
    """Run a command body with the standard error handling; return the exit code."""
    codes: dict[str, int] = {}
    with errors_to_exit(codes):
        result = body()
        return EXIT_OK if result is None else result
    return codes.get("code", EXIT_ERROR)


def call(method: str, params: dict[str, Any] | None = None) -> Any:
    with client() as c:
        return c.call(method, params or {})

"""Global CLI state (options before the command), exit codes and output helpers.

Stays light: json, os, sys and the blocking client only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aios.errors import AiosError, ClientError, ConfigError, DaemonUnreachable

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


G = _Globals()


def configure(*, socket: str | None, config: str | None, sets: list[str], no_autostart: bool) -> None:
    G.socket = Path(socket) if socket else None
    G.config = config
    G.sets = list(sets)
    G.no_autostart = no_autostart


def daemon_args() -> list[str]:
    """Global options handed to a daemon that the CLI starts."""
    args: list[str] = []
    if G.config:
        args += ["--config", G.config]
    for s in G.sets:
        args += ["--set", s]
    return args


def resolve_socket() -> Path | None:
    """An explicit socket: --socket, or the one --config/--set select (full loader)."""
    if G.socket is not None:
        return G.socket
    if G.config or G.sets:
        from aios.config import load

        return load(config_file=G.config, sets=G.sets).paths.socket
    return None


def client() -> Any:
    from aios.client import connect

    return connect(
        resolve_socket(),
        autostart=False if G.no_autostart else None,
        daemon_args=daemon_args(),
    )


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

"""Blocking client for the daemon's socket. Imports neither trio, httpx, apsw nor rich."""

from ._autostart import connect, output_file_for, start_daemon, wait_gone
from ._client import Client, RemoteError
from ._locate import autostart_enabled, socket_candidates, user_socket
from ._spawn import autostart_environment, daemon_argv, daemon_environment, exec_daemon

__all__ = [
    "Client",
    "RemoteError",
    "autostart_enabled",
    "autostart_environment",
    "connect",
    "daemon_argv",
    "daemon_environment",
    "exec_daemon",
    "output_file_for",
    "socket_candidates",
    "start_daemon",
    "user_socket",
    "wait_gone",
]

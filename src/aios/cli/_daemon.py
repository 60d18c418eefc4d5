"""``aios daemon run|start|stop|restart|logs``."""

from __future__ import annotations

from typing import Annotated

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag

app = App(name="daemon", help="Run, start, stop or restart the aios daemon (aios-runtime); show its log.")


@app.command
def run(
    *,
    system: Annotated[bool, Parameter(help="Run as the system daemon (/etc/aios, /var/lib/aios, /run/aios).", negative=())] = False,
) -> int:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C (exit 0 on a clean stop).

    The daemon replaces this process as an isolated interpreter in ``/`` (``python -I``, no
    ``PYTHON*`` variables): code in the current directory is never on its import path.
    """
    from aios.client import exec_daemon

    argv = ctx.daemon_args()
    if ctx.G.socket is not None:
        argv += ["--socket", str(ctx.G.socket)]
    if system:
        argv.append("--system")
    try:
        exec_daemon(argv)
    except OSError as exc:
        return ctx.fail(f"cannot start the daemon interpreter: {exc}")
    return 1  # exec_daemon does not return


def _target() -> object:
    from aios.client import socket_candidates

    explicit = ctx.resolve_socket()
    return explicit if explicit is not None else socket_candidates()[0]


@app.command
def start(*, json: JsonFlag = False) -> int:
    """Start a user daemon in the background; return once it answers.

    Global ``--set``/``--config`` options are passed to it: this is a start on purpose.
    """

    def body() -> int:
        from pathlib import Path

        from aios.client import Client, start_daemon
        from aios.errors import DaemonUnreachable

        target = Path(str(_target()))
        try:
            with Client.connect(target) as c:
                pid = c.call("status")["pid"]
            return ctx.fail(f"a daemon is already running on {target} (pid {pid})")
        except DaemonUnreachable:
            pass
        pid = start_daemon(target, ctx.daemon_args())
        _report_start("started", pid, target, json=json)
        return 0

    return ctx.run(body)


def _log_file(system: bool = False) -> str:
    """The log the daemon this call would start writes (the config with this call's flags)."""
    from aios.config import load

    return str(load(config_file=ctx.G.config, sets=ctx.G.sets, system=system or None).paths.log_file)


def _report_start(what: str, pid: int, target: object, *, json: bool, log: str | None = None) -> None:
    log = log or _log_file()
    if json:
        ctx.print_json({"pid": pid, "socket": str(target), "log": log})
    else:
        print(f"aios daemon {what} (pid {pid}) on {target}; log: {log}")


@app.command
def stop(*, json: JsonFlag = False) -> int:
    """Ask the running daemon to stop and wait until it has (exit 3 when none runs)."""

    def body() -> int:
        from pathlib import Path

        from aios.client import Client, socket_candidates, wait_gone
        from aios.errors import DaemonUnreachable

        explicit = ctx.resolve_socket()
        for path in [explicit] if explicit is not None else socket_candidates():
            try:
                with Client.connect(Path(path)) as c:
                    pid = c.call("shutdown")["pid"]
            except DaemonUnreachable:
                continue
            stopped = wait_gone(Path(path), pid)
            if json:
                ctx.print_json({"stopped": stopped, "pid": pid, "socket": str(path)})
            elif stopped:
                print(f"aios daemon stopped (pid {pid})")
            if not stopped:
                return ctx.fail(f"the daemon (pid {pid}) did not stop within 15 s")
            return 0
        return ctx.fail("the aios daemon is not running", ctx.EXIT_UNREACHABLE)

    return ctx.run(body)


@app.command
def restart(*, json: JsonFlag = False) -> int:
    """Stop the running daemon, wait until it is gone, start it again with the same scope.

    A system daemon run by systemd is restarted with ``systemctl restart`` (root). Exits 3 when
    no daemon runs. Global ``--set``/``--config`` options are passed to the new daemon (not the
    old one's: a daemon started with flags gets them again only when given again).
    ``--json``: ``{"pid", "socket", "log"}`` as for ``start``.
    """
    from ._restart import restart_daemon

    return ctx.run(lambda: restart_daemon(json=json))


app.command("aios.cli._logs:logs", help="Show the daemon's log (-f follows it, -n N the last N lines).")
app.command("aios.cli._install:install", help="Install the system daemon as a hardened systemd service (root).")
app.command("aios.cli._install:uninstall", help="Remove the systemd service, sandbox user and group; keep the data.")

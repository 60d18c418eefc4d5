"""``aios daemon restart``: stop, wait until gone, start again with the same scope."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import _context as ctx
from ._daemon import _log_file, _report_start

UNIT = "aios-runtime.service"
"""The system unit ``aios daemon install`` writes (src/aios/daemon/units)."""

SYSTEMD_WAIT_S = 30.0


def systemd_unit(pid: int) -> str | None:
    """The systemd service ``pid`` runs in, when it is aios's unit (from /proc/PID/cgroup).

    The cgroup is readable by everybody and names the unit a process was started in; a daemon
    started by hand or on demand, even from a desktop session's unit, sits in another one.
    """
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        path = line.rpartition(":")[2]
        if path.rstrip("/").rsplit("/", 1)[-1] == UNIT:
            return UNIT
    return None


def restart_daemon(*, json: bool) -> int:
    """Restart the daemon the call would talk to; exit 3 when none answers."""
    from aios.client import Client, socket_candidates
    from aios.errors import DaemonUnreachable

    explicit = ctx.resolve_socket()
    candidates = [explicit] if explicit is not None else socket_candidates()
    for path in candidates:
        try:
            with Client.connect(Path(path)) as c:
                status = c.call("status")
        except DaemonUnreachable:
            continue
        return _restart_running(Path(path), status, json=json)
    return ctx.fail("the aios daemon is not running (nothing to restart); start it with 'aios daemon start'",
                    ctx.EXIT_UNREACHABLE)


def overrides_keys() -> list[str]:
    """The dotted keys this call's own --set/--config change (not passed to the new daemon)."""
    return list(ctx.overrides().keys) if ctx.G.config or ctx.G.sets else []


def _restart_running(path: Path, status: dict[str, Any], *, json: bool) -> int:
    from aios.client import Client, start_daemon, wait_gone
    from aios.client._spawn import autostart_environment

    old = int(status["pid"])
    system = status.get("scope") == "system"
    unit = systemd_unit(old)
    if unit is not None:
        return _systemctl_restart(unit, path, old, json=json)
    with Client.connect(path) as c:
        c.call("shutdown")
    if not wait_gone(path, old):
        return ctx.fail(f"the daemon (pid {old}) did not stop within 15 s; nothing was started")
    # From the config files, as a daemon started on demand: a restart is how changed files that
    # a reload cannot apply take effect, and this call's one-off --set/--config/AIOS_* must not
    # outlive it (a trusted daemon left behind by 'aios --set security.mode=trusted daemon restart').
    environment, dropped = autostart_environment()
    pid = start_daemon(path, ["--system"] if system else [], environment=environment)
    ignored = [*overrides_keys(), *dropped]
    if ignored:
        print(f"aios: restarted from the config files without {', '.join(ignored)}: one-off options never "
              "outlive the command (use 'aios daemon stop' and 'aios daemon start --set …' to start with them)",
              file=sys.stderr)
    _report_start("restarted", pid, path, json=json, log=_log_file(system))
    return 0


def _systemctl_restart(unit: str, path: Path, old: int, *, json: bool) -> int:
    """``systemctl restart``, then wait until a new daemon answers on the socket."""
    from aios.client import Client
    from aios.errors import ClientError, DaemonUnreachable

    if ctx.G.config or ctx.G.sets:
        ctx.warn("--set/--config are not passed to a daemon systemd runs: put them in /etc/aios/config.toml")
    try:
        proc = subprocess.run(["systemctl", "restart", unit], capture_output=True, text=True, check=False)
    except OSError as exc:
        return ctx.fail(f"cannot run systemctl: {exc.strerror or exc}")
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        hint = " (run it as root)" if os.geteuid() != 0 else ""
        return ctx.fail(f"systemctl restart {unit} failed: {why}{hint}")
    deadline = time.monotonic() + SYSTEMD_WAIT_S
    while time.monotonic() < deadline:
        try:
            with Client.connect(path, timeout=2.0) as c:
                pid = int(c.call("status")["pid"])
            if pid != old:
                _report_start("restarted by systemd", pid, path, json=json, log=f"journalctl -u {unit}")
                return 0
        except (DaemonUnreachable, ClientError):
            pass
        time.sleep(0.1)
    return ctx.fail(f"systemd restarted {unit} but no new daemon answered on {path} within "
                    f"{SYSTEMD_WAIT_S:.0f} s; see 'journalctl -u {unit}'")

"""Issue 15: ``aios daemon restart`` stops the daemon, waits until it is gone, starts it again."""

from __future__ import annotations

import json
import os

from harness import Env


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie of the CLI's child is gone for us
    except FileNotFoundError:
        return False


def test_restart_replaces_a_running_user_daemon(env: Env) -> None:
    started = env.cli("daemon", "start", "--json")
    assert started.returncode == 0, started.stderr
    old = json.loads(started.stdout)
    try:
        proc = env.cli("daemon", "restart", "--json")
        assert proc.returncode == 0, proc.stderr
        new = json.loads(proc.stdout)
        assert set(new) == {"pid", "socket", "log"}
        assert new["pid"] != old["pid"] and not _alive(old["pid"])
        assert new["socket"] == str(env.socket) and new["log"] == str(env.state / "daemon.log")
        status = env.cli_json("status")
        assert status["pid"] == new["pid"] and status["scope"] == "user"
        assert "serving on" in (env.state / "daemon.log").read_text()
    finally:
        env.cli("daemon", "stop")


def test_restart_starts_from_the_files_not_the_old_or_new_flags(env: Env) -> None:
    """Neither the old daemon's flags nor this call's one-off --set reach the new daemon: a restart
    must not leave a daemon with an option nobody put in a config file."""
    d = env.start_daemon("--set", "security.mode=paranoid")
    try:
        assert env.cli_json("status")["mode"] == "paranoid"
        proc = env.cli("--set", "security.mode=safe", "daemon", "restart")
        assert proc.returncode == 0, proc.stderr
        assert "restarted" in proc.stdout and str(env.socket) in proc.stdout
        assert "without security.mode" in proc.stderr and "Traceback" not in proc.stderr
        assert d.proc.wait(20) == 0  # the old one stopped cleanly
        assert env.cli_json("status")["mode"] == "normal"  # the files' mode
    finally:
        env.cli("daemon", "stop")
        d.kill()


def test_restart_with_nothing_running_exits_3(env: Env) -> None:
    proc = env.cli("daemon", "restart")
    assert proc.returncode == 3
    assert proc.stderr.startswith("aios: the aios daemon is not running"), proc.stderr
    assert not env.socket.exists()


def test_restart_keeps_the_system_scope(env: Env) -> None:
    """A system-scope daemon not run by systemd (a container, 'aios daemon run --system') comes
    back as a system daemon on the same socket."""
    d = env.start_daemon("--system")  # the harness's paths still apply: nothing under /var or /run
    try:
        assert env.cli_json("status")["scope"] == "system"
        proc = env.cli("daemon", "restart", "--json")
        assert proc.returncode == 0, proc.stderr
        new = json.loads(proc.stdout)
        assert new["log"] == str(env.state / "daemon.log")
        status = env.cli_json("status")
        assert status["scope"] == "system" and status["pid"] == new["pid"] != d.proc.pid
    finally:
        env.cli("daemon", "stop")
        d.kill()
    assert not os.path.exists(env.socket)

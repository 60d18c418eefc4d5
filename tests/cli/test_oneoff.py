"""Issue 15: one-off flags never change the daemon.

A daemon started on demand outlives the call that started it, so it must start from the config
files and the locating variables only. A call honours what it can itself (the socket, whether to
start a daemon, a one-off mode sent as the request's mode) and says on stderr what it cannot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness import Daemon, Env

AUTOSTART = {"AIOS_DAEMON__AUTOSTART": "true"}


@pytest.fixture
def stop_after(env: Env) -> Iterator[None]:
    """Stop whatever daemon a test started on demand."""
    try:
        yield
    finally:
        env.cli("daemon", "stop")


def _mode_seen_by_a_plain_call(env: Env) -> str:
    """The daemon's mode as a later call without any flag or override sees it."""
    return str(env.cli_json("status")["mode"])


def test_set_trusted_on_one_call_leaves_no_trusted_daemon(env: Env, stop_after: None) -> None:
    proc = env.cli("--set", "security.mode=trusted", "info", "--json", env=AUTOSTART)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mode"] == "normal"
    assert _mode_seen_by_a_plain_call(env) == "normal"
    # 'info' sends no mode: the call says the override was not applied, in one line.
    lines = [ln for ln in proc.stderr.splitlines() if "security.mode" in ln]
    assert len(lines) == 1 and "not applied" in lines[0], proc.stderr


def test_env_override_on_one_call_leaves_no_trusted_daemon(env: Env, stop_after: None) -> None:
    proc = env.cli("info", "--json", env={**AUTOSTART, "AIOS_SECURITY__MODE": "trusted", "AIOS_SANDBOX__TIMEOUT": "5"})
    assert proc.returncode == 0, proc.stderr
    assert _mode_seen_by_a_plain_call(env) == "normal"
    assert "AIOS_SANDBOX__TIMEOUT" in proc.stderr and "AIOS_SECURITY__MODE" in proc.stderr, proc.stderr
    # The locating variables did reach it: the state dir the harness moved is the daemon's.
    assert env.cli_json("info")["paths"]["state_dir"] == str(env.state)


def test_config_file_on_one_call_leaves_no_trusted_daemon(env: Env, stop_after: None) -> None:
    one_off = env.root / "one-off.toml"
    one_off.write_text('[security]\nmode = "trusted"\n')
    proc = env.cli("--config", str(one_off), "status", env=AUTOSTART)
    assert proc.returncode == 0, proc.stderr
    assert _mode_seen_by_a_plain_call(env) == "normal"
    assert "security.mode" in proc.stderr, proc.stderr


def test_one_off_mode_is_sent_as_the_request_mode(env: Env, daemon: Daemon) -> None:
    """A stricter one-off mode reaches the running daemon as this request's mode: in paranoid
    mode every command is confirmed, and a call without a terminal gets no confirmation."""
    assert env.cli("run", "--", "echo", "hi").returncode == 0
    proc = env.cli("--set", "security.mode=paranoid", "run", "--", "echo", "hi")
    assert proc.returncode == 126, (proc.returncode, proc.stdout, proc.stderr)
    assert "not applied" not in proc.stderr
    assert _mode_seen_by_a_plain_call(env) == "normal"


def test_one_off_mode_from_a_config_file_is_sent_too(env: Env, daemon: Daemon) -> None:
    one_off = env.root / "strict.toml"
    one_off.write_text('[security]\nmode = "paranoid"\n')
    proc = env.cli("--config", str(one_off), "tools", "call", "bash", '{"command": "echo hi"}')
    assert proc.returncode == 126, (proc.returncode, proc.stdout, proc.stderr)


def test_a_daemon_only_key_is_named_not_silently_ignored(env: Env, daemon: Daemon) -> None:
    proc = env.cli("--set", "sandbox.timeout=5", "--set", "memory.recall_limit=1", "status")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "memory.recall_limit, sandbox.timeout not applied" in lines[0], lines[0]


def test_a_daemon_only_key_from_a_config_file_is_named(env: Env, daemon: Daemon) -> None:
    one_off = env.root / "one-off.toml"
    one_off.write_text("[llm]\nmax_rounds = 2\n")
    proc = env.cli("--config", str(one_off), "memory", "search", "nothing")
    assert proc.returncode == 0, proc.stderr
    assert "llm.max_rounds not applied" in proc.stderr, proc.stderr


def test_set_autostart_false_is_honoured_by_the_call(env: Env) -> None:
    proc = env.cli("--set", "daemon.autostart=false", "status", env=AUTOSTART)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert not env.socket.exists()


def test_autostart_false_in_a_one_off_config_file_is_honoured(env: Env) -> None:
    one_off = env.root / "no-start.toml"
    one_off.write_text("[daemon]\nautostart = false\n")
    proc = env.cli("--config", str(one_off), "memory", "search", "x", env=AUTOSTART)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert not env.socket.exists()
    assert "not applied" not in proc.stderr


def test_an_explicit_start_keeps_its_flags(env: Env, stop_after: None) -> None:
    """'aios daemon start --set ...' is someone starting a daemon on purpose: flags apply."""
    proc = env.cli("--set", "security.mode=paranoid", "daemon", "start")
    assert proc.returncode == 0, proc.stderr
    assert _mode_seen_by_a_plain_call(env) == "paranoid"


def test_a_one_off_system_scope_never_starts_a_daemon_on_demand(env: Env) -> None:
    """'--set daemon.system=true' picks the system daemon's socket for this call; a system
    daemon is started on purpose (systemd, 'aios daemon start'), never by a passing command."""
    elsewhere = env.root / "sys-run"
    proc = env.cli("--set", "daemon.system=true", "--set", f'paths.runtime_dir="{elsewhere}"', "status", env=AUTOSTART)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert not (elsewhere / "aios.sock").exists()

"""Issue 15 attacks, part 1: one-off overrides must never become the daemon's configuration.

Written from the issue's text, not from the implementation. ``--set``, ``--config`` and
``AIOS_*`` given to one CLI call affect that call only: a daemon that call starts on demand starts
from the files and its own environment, and a per-request mode never passes a pin in the system
config. Each attack is tried in several spellings; the check is always made by a *clean* later
call (``aios status --json``) and by a command whose outcome differs when the override leaked (a
write outside the workspace, which trusted mode runs unasked on the host and normal mode refuses
without a terminal; a limit the jail shows with ``ulimit``; a hidden file).
"""

from __future__ import annotations

import json
import os
import pwd
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from issue15_assume import pin_named, status_mode
from issue15_util import as_other, assert_untrusted, marker, open_socket

from harness import Env


@pytest.fixture
def autostarted(env: Env) -> Iterator[list[int]]:
    """Pids of daemons started on demand by a test; stopped (and if need be killed) afterwards."""
    pids: list[int] = []
    try:
        yield pids
    finally:
        env.cli("daemon", "stop")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def autostart(env: Env, pids: list[int], *args: str, extra: dict[str, str] | None = None) -> None:
    """``aios ARGS status`` with autostart on: the call that starts the daemon carries the override."""
    proc = env.cli(*args, "status", "--json", env={"AIOS_DAEMON__AUTOSTART": "true", **(extra or {})})
    assert proc.returncode == 0, proc.stderr
    pids.append(int(json.loads(proc.stdout)["pid"]))


def trusted_file(env: Env) -> Path:
    f = env.root / "one-off.toml"
    f.write_text('[security]\nmode = "trusted"\n')
    return f


# --- 1a. trusted mode from one call must not stay behind in the daemon it starts ----------------


@pytest.mark.parametrize("spelling", ["set", "set-equals", "env", "config", "config-equals", "set-and-env"])
def test_one_off_trusted_mode_never_reaches_an_autostarted_daemon(env: Env, autostarted: list[int], spelling: str) -> None:
    env.write_config('[security]\nmode = "normal"\n')
    args: list[str] = []
    extra: dict[str, str] = {}
    if spelling == "set":
        args = ["--set", "security.mode=trusted"]
    elif spelling == "set-equals":
        args = ["--set=security.mode=trusted"]
    elif spelling == "env":
        extra = {"AIOS_SECURITY__MODE": "trusted"}
    elif spelling == "config":
        args = ["--config", str(trusted_file(env))]
    elif spelling == "config-equals":
        args = [f"--config={trusted_file(env)}"]
    else:
        args, extra = ["--set", "security.mode=trusted"], {"AIOS_SECURITY__MODE": "trusted"}
    autostart(env, autostarted, *args, extra=extra)
    assert status_mode(env) == "normal"
    assert_untrusted(env)


def test_info_with_set_trusted_leaves_no_trusted_daemon(env: Env, autostarted: list[int]) -> None:
    """The issue's own example: ``aios --set security.mode=trusted info``."""
    proc = env.cli("--set", "security.mode=trusted", "info", "--json", env={"AIOS_DAEMON__AUTOSTART": "true"})
    assert proc.returncode == 0, proc.stderr
    data = env.cli("status", "--json")
    assert data.returncode == 0, "info did not start a daemon on demand: " + data.stderr
    autostarted.append(int(json.loads(data.stdout)["pid"]))
    assert_untrusted(env)


# --- 1b. jail limits loosened by one call must not stay behind ---------------------------------


@pytest.mark.parametrize(
    ("override", "probe", "default"),
    [
        # The defaults (sandbox.memory_limit 2 GiB, sandbox.max_file_size 1 GiB) in bash's KiB units.
        ("sandbox.memory_limit=5g", "ulimit -v", "2097152"),
        ("sandbox.max_file_size=7g", "ulimit -f", "1048576"),
    ],
    ids=["memory_limit", "max_file_size"],
)
@pytest.mark.parametrize("via", ["set", "env"])
def test_one_off_sandbox_limits_never_reach_an_autostarted_daemon(
    env: Env, autostarted: list[int], override: str, probe: str, default: str, via: str
) -> None:
    key, _, value = override.partition("=")
    if via == "set":
        autostart(env, autostarted, "--set", override)
    else:
        autostart(env, autostarted, extra={"AIOS_" + key.upper().replace(".", "__"): value})
    proc = env.cli("run", "--", probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == default, f"{override} leaked into the daemon: {proc.stdout!r}"


@pytest.mark.parametrize("via", ["set", "env"])
def test_one_off_empty_hidden_paths_never_reach_an_autostarted_daemon(env: Env, autostarted: list[int], via: str) -> None:
    """``sandbox.hidden_paths=[]`` from one call would show ``~/.ssh`` to every later jailed command."""
    ssh = env.home / ".ssh"
    ssh.mkdir()
    key = ssh / "id_issue15"
    key.write_text("ISSUE15-SECRET-KEY\n")
    for p in (env.home, ssh):
        p.chmod(0o755)
    key.chmod(0o644)
    if via == "set":
        autostart(env, autostarted, "--set", "sandbox.hidden_paths=[]")
    else:
        autostart(env, autostarted, extra={"AIOS_SANDBOX__HIDDEN_PATHS": "[]"})
    # Only a listing: the policy blocks reading ~/.ssh by name, the jail must still hide it.
    proc = env.cli("run", "--", f"ls -A {ssh}")
    assert proc.returncode == 0, proc.stderr
    assert "id_issue15" not in proc.stdout, "sandbox.hidden_paths=[] leaked into the daemon"


@pytest.mark.parametrize("via", ["set", "env"])
def test_one_off_allowed_uids_never_reach_an_autostarted_daemon(
    env: Env, autostarted: list[int], other_user: pwd.struct_passwd, via: str
) -> None:
    uids = f"[{other_user.pw_uid}]"
    if via == "set":
        autostart(env, autostarted, "--set", f"daemon.allowed_uids={uids}")
    else:
        autostart(env, autostarted, extra={"AIOS_DAEMON__ALLOWED_UIDS": uids})
    open_socket(env)
    reply = as_other(env, other_user, "ping")
    assert '"pong"' not in reply, f"a uid allowed only by one call's override was served: {reply}"


# --- 1c. a one-off looser mode on a call to a running daemon never passes a pin ------------------


@pytest.mark.parametrize("spelling", ["set", "env", "config", "mode-flag"])
def test_one_off_trusted_request_never_passes_a_pin(env: Env, spelling: str) -> None:
    env.system_config.write_text('[pin.security]\nmode = "normal"\n')
    d = env.start_daemon()
    target = marker(env)
    try:
        args: list[str] = []
        extra: dict[str, str] = {}
        if spelling == "set":
            args = ["--set", "security.mode=trusted"]
        elif spelling == "env":
            extra = {"AIOS_SECURITY__MODE": "trusted"}
        elif spelling == "config":
            args = ["--config", str(trusted_file(env))]
        run = ["run", "--mode", "trusted", "--"] if spelling == "mode-flag" else ["run", "--"]
        proc = env.cli(*args, *run, f"touch {target}", env=extra)
        assert not target.exists(), "a one-off trusted mode got past the system pin"
        assert proc.returncode != 0
        assert pin_named(proc.stderr), proc.stderr  # it says why, instead of silently running
        assert status_mode(env) == "normal"
    finally:
        target.unlink(missing_ok=True)
        d.kill()


# --- 1d. a stricter one-off mode is honoured (or refused aloud), never silently dropped ----------


@pytest.mark.parametrize("spelling", ["set", "env", "config"])
def test_one_off_paranoid_is_honoured_by_a_running_daemon(env: Env, spelling: str) -> None:
    """The person asked for paranoid for this call; if the daemon ran it in normal mode, ``--yes``
    would approve a system write that paranoid mode refuses (``--yes is not enough``)."""
    d = env.start_daemon()
    target = marker(env)
    try:
        args: list[str] = []
        extra: dict[str, str] = {}
        if spelling == "set":
            args = ["--set", "security.mode=paranoid"]
        elif spelling == "env":
            extra = {"AIOS_SECURITY__MODE": "paranoid"}
        else:
            f = env.root / "paranoid.toml"
            f.write_text('[security]\nmode = "paranoid"\n')
            args = ["--config", str(f)]
        proc = env.cli(*args, "run", "--yes", "--", f"touch {target}", env=extra)
        assert not target.exists(), "the one-off paranoid mode was silently dropped"
        assert proc.returncode != 0
        assert status_mode(env) == "normal"  # and it stayed a per-request mode
    finally:
        target.unlink(missing_ok=True)
        d.kill()


# --- 1e. `aios daemon restart` is a start too: one call's overrides must not ride along ---------


@pytest.mark.parametrize("spelling", ["set", "env", "config"])
def test_restart_with_one_off_trusted_mode_starts_a_normal_daemon(env: Env, autostarted: list[int], spelling: str) -> None:
    env.write_config('[security]\nmode = "normal"\n')
    started = env.cli("daemon", "start", "--json")
    assert started.returncode == 0, started.stderr
    first = int(json.loads(started.stdout)["pid"])
    autostarted.append(first)
    args: list[str] = []
    extra: dict[str, str] = {}
    if spelling == "set":
        args = ["--set", "security.mode=trusted"]
    elif spelling == "env":
        extra = {"AIOS_SECURITY__MODE": "trusted"}
    else:
        args = ["--config", str(trusted_file(env))]
    proc = env.cli(*args, "daemon", "restart", env=extra)
    assert proc.returncode == 0, proc.stderr
    now = env.cli("status", "--json")
    assert now.returncode == 0, now.stderr
    second = int(json.loads(now.stdout)["pid"])
    autostarted.append(second)
    assert second != first, "restart did not start a new daemon"
    assert_untrusted(env)


def test_set_autostart_false_is_honoured_by_the_call_itself(env: Env, autostarted: list[int]) -> None:
    """The one override that is about the call: ``--set daemon.autostart=false`` starts nothing."""
    proc = env.cli("--set", "daemon.autostart=false", "status", env={"AIOS_DAEMON__AUTOSTART": "true"})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert env.cli("status").returncode == 3  # and nothing was left running

"""Escape attempts through ``aios run`` in normal mode: the policy cannot see inside a script,
so these show the jail holding as the second line. Each probe also has a control that works."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import Daemon, Env

PROBES = r'''
import errno, fcntl, json, os, socket, sys, termios
targets = json.load(open("targets.json"))  # paths the policy must not see on the command line
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except Exception as exc:  # report, never stop
        out[name] = f"{type(exc).__name__}: {exc}"
def write(path):
    with open(path, "w") as f:
        f.write("escaped")
attempt("write_root", lambda: write("/aios-escape"))
attempt("write_etc", lambda: write("/etc/aios-escape"))
attempt("write_usr", lambda: write("/usr/aios-escape"))
attempt("write_proc_sys", lambda: write("/proc/sys/kernel/sysrq"))
attempt("remount", lambda: (os.system("mount -o remount,rw / 2>/dev/null") == 0) or (_ for _ in ()).throw(OSError("mount failed")))
attempt("read_shadow", lambda: open("/etc/shadow").read())
attempt("read_ssh_key", lambda: open(targets["key"]).read())
def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(path)
attempt("aios_socket", lambda: connect(targets["aios"]))
attempt("run_socket", lambda: connect(targets["run"]))
# stdin is not a terminal in the jail: without the seccomp filter TIOCSTI fails with ENOTTY, with it EPERM.
attempt("tiocsti", lambda: fcntl.ioctl(0, termios.TIOCSTI, b"x"))
attempt("tiocgwinsz_control", lambda: fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
attempt("write_workspace", lambda: write("inside-the-workspace.txt"))
print(json.dumps(out))
'''


@pytest.fixture
def run_listener(env: Env) -> Path:
    # A Unix socket under /run, as docker.sock would be: the jail hides /run.
    d = Path(f"/run/aios-test-{os.getpid()}-{time.monotonic_ns()}")
    d.mkdir()
    path = d / "svc.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)
    try:
        yield path
    finally:
        srv.close()
        path.unlink(missing_ok=True)
        d.rmdir()


def test_escapes_through_aios_run_fail_and_the_workspace_works(env: Env, daemon: Daemon, run_listener: Path) -> None:
    (env.workspace / "probe.py").write_text(PROBES)
    key = env.home / ".ssh" / "id_rsa"
    key.parent.mkdir()
    key.write_text("PRIVATE KEY")
    (env.workspace / "targets.json").write_text(json.dumps({"key": str(key), "aios": str(env.socket), "run": str(run_listener)}))
    before = set(os.listdir("/etc"))
    proc = env.cli("run", "--", "python3 probe.py")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results.pop("write_workspace") == "ok"  # the control: the jail is not simply broken
    # TIOCSTI is refused by the filter (EPERM), while other ioctls still reach the kernel (ENOTTY).
    assert "Operation not permitted" in results["tiocsti"], results["tiocsti"]
    assert "Inappropriate ioctl" in results.pop("tiocgwinsz_control")
    leaked = {k: v for k, v in results.items() if v == "ok"}
    assert not leaked, f"escaped the jail: {leaked}"
    assert "Permission denied" in results["read_shadow"] or "No such file" in results["read_shadow"]
    assert set(os.listdir("/etc")) == before and not Path("/aios-escape").exists()
    assert (env.workspace / "inside-the-workspace.txt").read_text() == "escaped"


def test_network_is_cut_in_safe_mode_and_open_in_normal(env: Env, daemon: Daemon) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\""
    try:
        (env.workspace / "net.sh").write_text(probe + "\n")
        normal = env.cli("run", "--", "bash net.sh")
        assert normal.returncode == 0 and "connected" in normal.stdout, normal.stderr
        safe = env.cli("run", "--mode", "safe", "--yes", "--", "bash net.sh")
        assert safe.returncode != 0 and "connected" not in safe.stdout
    finally:
        srv.close()


def test_a_gigabyte_of_output_is_capped_without_the_daemon_growing(env: Env, daemon: Daemon) -> None:
    def rss_kib() -> int:
        for line in Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    env.cli("run", "--", "true")  # warm up imports and the jail probe
    before = rss_kib()
    proc = env.cli("run", "--", "head -c 1G /dev/zero | tr '\\0' x", timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "truncated" in proc.stdout + proc.stderr
    assert len(proc.stdout) < 1024 * 1024
    assert rss_kib() - before < 64 * 1024, "the daemon's memory grew with the output"


def test_fork_bomb_is_contained(env: Env, daemon: Daemon) -> None:
    (env.workspace / "bomb.sh").write_text("bomb() { bomb | bomb & }; bomb\n")
    start = time.monotonic()
    proc = env.cli("run", "--timeout", "5", "--", "bash bomb.sh")
    assert proc.returncode in (124, 0, 1, 2, 128 + 9), proc.stderr
    assert time.monotonic() - start < 60
    after = env.cli("run", "--", "echo still fine")
    assert after.returncode == 0 and after.stdout == "still fine\n"
    # The pid namespace dies with the jail: whatever the bomb left is gone within seconds.
    deadline = time.monotonic() + 15
    while subprocess.run(["pgrep", "-u", "aios-sandbox"], capture_output=True).stdout:
        assert time.monotonic() < deadline, "fork bomb processes outlived their jail"
        time.sleep(0.2)

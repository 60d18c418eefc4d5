"""systemd integration by protocol: the units verify, socket activation, sd_notify."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import BIN, REPO, Env, connect, rpc

UNITS = REPO / "containers" / "systemd"


def render(dest: Path) -> list[Path]:
    out = []
    for unit in ("aios-runtime.service", "aios-runtime.socket"):
        text = (UNITS / unit).read_text().replace("@AIOS_PYTHON@", sys.executable)
        (dest / unit).write_text(text)
        out.append(dest / unit)
    return out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (./dev setup installs systemd)")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    units = render(tmp_path)
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    service = (tmp_path / "aios-runtime.service").read_text()
    assert "Type=notify" in service and "WatchdogSec=" in service


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate is not installed")
def test_socket_activation_hands_the_daemon_its_listening_socket(env: Env) -> None:
    sock = env.run_dir / "activated.sock"
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(sock), str(BIN / "aios-runtime")],
        env=env.env, stdout=subprocess.DEVNULL, stderr=open(env.root / "daemon.log", "wb"),
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        # The first connection starts the daemon, which serves it on the inherited socket.
        with connect(sock, timeout=20) as s:
            assert rpc(s, "ping") == "pong"
            assert rpc(s, "status")["pid"] == proc.pid  # systemd-socket-activate execs the daemon in place
        assert not env.socket.exists(), "the daemon bound its own socket instead of the passed one"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_sd_notify_ready_stopping_and_watchdog(env: Env) -> None:
    notify = env.root / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(20)
    d = env.start_daemon(env={"NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000"}, wait=False)
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("READY=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        assert any("READY=1" in m and f"MAINPID={d.proc.pid}" in m for m in messages), messages
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 2:
            messages.append(listener.recv(4096).decode())
        assert sum("WATCHDOG=1" in m for m in messages) >= 2
        d.proc.send_signal(signal.SIGTERM)
        while time.monotonic() < deadline and not any("STOPPING=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        assert any("STOPPING=1" in m for m in messages)
        assert d.proc.wait(20) == 0
    finally:
        d.kill()
        listener.close()
        os.unlink(notify)

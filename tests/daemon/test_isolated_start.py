"""Issue 13 A1: the daemon never imports code from a directory its caller (or a jailed command,
or another user) could write, whichever way it is started.

Each test plants modules in the directory the daemon is started from and in a ``PYTHONPATH``
directory: ``shlex`` (and other stdlib modules the daemon imports lazily, on its first ``run``
request) as a plain module in one place and as a package directory in the other, and ``sitecustomize``
(imported at interpreter start from any path entry). A planted module that runs leaves a marker
named after the process that imported it; the daemon's interpreter must never leave one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import BIN, REPO, Env, LineReader, connect, rpc

LAZY = ("shlex", "resource", "termios")
"""Imported by the daemon only when it first runs a command (measured with -X importtime)."""

PLANT = """
import importlib, os, sys
_d = os.path.join({markers!r}, str(os.getpid()))
os.makedirs(_d, exist_ok=True)
# In the daemon's interpreter: started as the daemon, or (a daemon run in-process) with trio loaded.
_daemon = "trio" in sys.modules or any(a in ("aios.daemon", "aios-runtime") or a.endswith("/aios-runtime") for a in sys.orig_argv)
with open(os.path.join(_d, __name__ + "-" + {where!r} + ("-daemon" if _daemon else "-other")), "w") as _f:
    _f.write(repr(sys.orig_argv))
# Then step aside: load the real module in this one's place, so that only the marker tells.
_planted = {planted!r}
_saved = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") not in _planted]
_me = sys.modules.pop(__name__)
try:
    sys.modules[__name__] = importlib.import_module(__name__)
except ImportError:
    sys.modules[__name__] = _me
finally:
    sys.path[:] = _saved
"""


class Planted:
    """A working directory and a PYTHONPATH directory full of planted modules."""

    def __init__(self, env: Env) -> None:
        self.markers = env.root / "markers"
        self.markers.mkdir()
        self.cwd = env.root / "cwd"
        self.pythonpath = env.root / "pythonpath"
        for base in (self.cwd, self.pythonpath):
            base.mkdir()
        for where, base in (("cwd", self.cwd), ("pythonpath", self.pythonpath)):
            code = self.code(where)
            (base / "sitecustomize.py").write_text(code)
            (base / "usercustomize.py").write_text(code)
        # stdlib modules the daemon imports lazily (on its first run request), each as a plain
        # module in one place and as a package directory in the other
        for i, name in enumerate(LAZY):
            as_file, as_package = (self.cwd, self.pythonpath) if i % 2 == 0 else (self.pythonpath, self.cwd)
            (as_file / f"{name}.py").write_text(self.code(as_file.name))
            (as_package / name).mkdir()
            (as_package / name / "__init__.py").write_text(self.code(as_package.name))

    def code(self, where: str) -> str:
        return PLANT.format(markers=str(self.markers), where=where, planted=[str(self.cwd), str(self.pythonpath)])

    def env(self, env: Env, **extra: str) -> dict[str, str]:
        return {**env.env, "PYTHONPATH": str(self.pythonpath), "PYTHONSTARTUP": str(self.cwd / "sitecustomize.py"), **extra}

    def ran_in(self, pid: int) -> list[str]:
        """Planted modules that ran in the daemon with this pid (not in a CLI that became it)."""
        d = self.markers / str(pid)
        return sorted(p.name for p in d.iterdir() if p.name.endswith("-daemon")) if d.is_dir() else []


def _exercise(socket: Path, cwd: Path) -> int:
    """Make the daemon import what it imports lazily (a run request); return its pid."""
    with connect(socket, timeout=60) as s:
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools.call",
                   "params": {"tool": "bash", "arguments": {"command": "echo hi"}, "cwd": str(cwd)}}
        s.sendall(json.dumps(request).encode() + b"\n")
        reader = LineReader(s)
        while "id" not in (reply := reader.read()):
            pass  # tool.started, tool.output … notifications
        assert reply["result"]["ok"], reply
        return int(rpc(s, "status", id=2)["pid"])


def _wait_socket(path: Path, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {proc.returncode}")
        try:
            with connect(path) as s:
                if rpc(s, "ping") == "pong":
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no daemon answered on {path}")


def _cli(env: Env, plant: Planted, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "aios"), *args], cwd=plant.cwd, env=plant.env(env, **extra),
                          capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)


def _stop(env: Env, socket: Path) -> None:
    subprocess.run([str(BIN / "aios"), "--socket", str(socket), "daemon", "stop"], env=env.env,
                   capture_output=True, timeout=60)


def test_autostart_imports_nothing_from_the_callers_directory(env: Env) -> None:
    plant = Planted(env)
    proc = _cli(env, plant, "--socket", str(env.socket), "run", "--", "echo", "hi", AIOS_DAEMON__AUTOSTART="true")
    try:
        assert proc.returncode == 0, proc.stderr
        pid = _exercise(env.socket, env.workspace)
        assert plant.ran_in(pid) == []
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith(b"PYTHON")]
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
    finally:
        _stop(env, env.socket)


def test_daemon_start_imports_nothing_from_the_callers_directory(env: Env) -> None:
    plant = Planted(env)
    proc = _cli(env, plant, "--socket", str(env.socket), "daemon", "start", "--json")
    try:
        assert proc.returncode == 0, proc.stderr
        pid = json.loads(proc.stdout)["pid"]
        assert _exercise(env.socket, env.workspace) == pid
        assert plant.ran_in(pid) == []
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
    finally:
        _stop(env, env.socket)


def test_daemon_run_imports_nothing_from_the_callers_directory(env: Env) -> None:
    plant = Planted(env)
    proc = subprocess.Popen([str(BIN / "aios"), "--socket", str(env.socket), "daemon", "run"], cwd=plant.cwd,
                            env=plant.env(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_socket(env.socket, proc)
        assert _exercise(env.socket, env.workspace) == proc.pid  # the CLI became the daemon
        assert plant.ran_in(proc.pid) == []
    finally:
        proc.terminate()
        proc.wait(30)


def _run_line(argv: list[str], env: Env, plant: Planted) -> None:
    """Run a unit's or an image's daemon command line from the planted directory."""
    proc = subprocess.Popen(argv, cwd=plant.cwd, env=plant.env(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_socket(env.socket, proc)
        assert _exercise(env.socket, env.workspace) == proc.pid
        assert plant.ran_in(proc.pid) == []
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root (CI runs as root)")
def test_the_installed_unit_starts_an_isolated_daemon(env: Env) -> None:
    root = env.root / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), root / "etc" / name)
    proc = subprocess.run([str(BIN / "aios"), "daemon", "install", "--root", str(root)], env=env.env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    unit = (root / "etc/systemd/system/aios-runtime.service").read_text()
    assert re.search(r"^WorkingDirectory=/$", unit, re.M)
    line = re.search(r"^ExecStart=(.*)$", unit, re.M)
    assert line is not None
    argv = shlex.split(line.group(1))
    assert argv[:4] == [sys.executable, "-I", "-m", "aios.daemon"]
    _run_line(argv, env, Planted(env))


def test_the_container_entrypoint_starts_an_isolated_daemon(env: Env) -> None:
    text = (REPO / "containers" / "Containerfile").read_text()
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    assert entry is not None and re.search(r"^WORKDIR /$", text, re.M)
    assert not re.search(r"^ENV[^\n]*PYTHON", text, re.M)
    argv = json.loads(entry.group(1))
    assert argv[0] == "/opt/aios/venv/bin/python"
    # the compose file and the quadlet units use that entry point as it is, without PYTHON* variables
    for path in [REPO / "containers" / "compose.yaml", *(REPO / "containers" / "quadlet").glob("*.container")]:
        setting = path.read_text()
        assert not re.search(r"^\s*(entrypoint:|Entrypoint=|Exec=)", setting, re.M | re.I), path
        assert not re.search(r"^\s*[^#\n]*PYTHON", setting, re.M), path
    _run_line([sys.executable, *argv[1:]], env, Planted(env))


def test_a_daemon_started_by_hand_drops_a_directory_others_can_write(env: Env) -> None:
    """Belt and braces: ``python -m aios.daemon`` without -I, in a world-writable directory (as a
    shared scratch directory is), still never imports from it."""
    plant = Planted(env)
    plant.cwd.chmod(0o777)
    log = env.root / "by-hand.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "aios.daemon"], cwd=plant.cwd, env=env.env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        _wait_socket(env.socket, proc)
        assert _exercise(env.socket, env.workspace) == proc.pid
        assert plant.ran_in(proc.pid) == []
        logged = log.read_text() + (env.state / "daemon.log").read_text()  # the log file: docs/operations.md
        assert "removed" in logged and "writable by everybody" in logged
    finally:
        proc.terminate()
        proc.wait(30)

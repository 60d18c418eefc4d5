"""``aios daemon install|uninstall`` into another root file system (never the real one)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from harness import BIN, Env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installing needs root (CI runs as root)")


def fake_root(base: Path) -> Path:
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), root / "etc" / name)
    for name in ("passwd", "group"):  # start without the users and groups aios creates
        p = root / "etc" / name
        p.write_text("".join(ln + "\n" for ln in p.read_text().splitlines() if not ln.startswith(("aios:", "aios-sandbox:"))))
    return root


def test_dry_run_changes_nothing(env: Env) -> None:
    root = fake_root(env.root)
    before = sorted(str(p) for p in root.rglob("*"))
    proc = env.cli("daemon", "install", "--root", str(root), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would socket group: groupadd" in proc.stdout and "would write" in proc.stdout
    assert sorted(str(p) for p in root.rglob("*")) == before


def test_install_then_uninstall_keeps_the_data(env: Env) -> None:
    root = fake_root(env.root)
    proc = env.cli("daemon", "install", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "aios-sandbox:" in (root / "etc" / "passwd").read_text()
    assert any(ln.startswith("aios:") for ln in (root / "etc" / "group").read_text().splitlines())
    for d in ("etc/aios", "var/lib/aios"):
        st = (root / d).stat()
        assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == 0
    service = (root / "etc/systemd/system/aios-runtime.service").read_text()
    # an isolated interpreter in /: nothing in a working directory or PYTHON* reaches its imports
    assert f"ExecStart={BIN / 'python'} -I -m aios.daemon --system" in service
    assert "\nWorkingDirectory=/\n" in service
    assert "system = true" in (root / "etc/aios/config.toml").read_text()
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(root / "etc/systemd/system/aios-runtime.service")],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stderr
    (root / "var/lib/aios/memory.db").write_text("data")
    proc = env.cli("daemon", "uninstall", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert not (root / "etc/systemd/system/aios-runtime.service").exists()
    assert "aios-sandbox:" not in (root / "etc" / "passwd").read_text()
    assert (root / "var/lib/aios/memory.db").read_text() == "data"
    assert (root / "etc/aios/config.toml").exists()


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aios: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("verb", ["install", "uninstall"])
def test_root_without_passwd_is_one_line_naming_the_fix(env: Env, verb: str) -> None:
    root = env.root / "bare"
    (root / "etc").mkdir(parents=True)  # a root file system without /etc/passwd
    line = _one_line_error(env.cli("daemon", verb, "--root", str(root)))
    assert f"{root}/etc/passwd is missing" in line and "debootstrap" in line
    assert not (root / "etc" / "aios").exists()


@pytest.mark.parametrize("make", ["missing", "file"])
def test_root_that_is_not_a_directory(env: Env, make: str) -> None:
    target = env.root / "not-a-root"
    if make == "file":
        target.write_text("a file")
    line = _one_line_error(env.cli("daemon", "install", "--root", str(target)))
    assert f"--root {target}: {'not a directory' if make == 'file' else 'no such directory'}" in line


def test_a_failing_useradd_is_one_line_with_its_message(env: Env) -> None:
    root = fake_root(env.root)
    (root / "etc" / "passwd.lock").mkdir()  # useradd cannot take its lock
    line = _one_line_error(env.cli("daemon", "install", "--root", str(root)))
    assert "sandbox user: useradd" in line and "cannot lock" in line
    assert not (root / "etc" / "systemd").exists()


@pytest.mark.parametrize("option", [["--user", "bad\nExecStartPre=/bin/true"], ["--group", "Aios Users"]])
def test_names_that_would_reach_the_units_are_refused(env: Env, option: list[str]) -> None:
    root = fake_root(env.root)
    proc = env.cli("daemon", "install", "--root", str(root), *option)
    assert proc.returncode == 2 and "not a valid user or group name" in proc.stderr
    assert not (root / "etc" / "systemd").exists()

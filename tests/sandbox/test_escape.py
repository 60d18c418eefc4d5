"""Escape checks against the real jail (normal mode unless a test says otherwise).

Each check that something is *denied* comes with a control showing the same probe succeeds
where it should (a visible file, a reachable socket, a listener reached with the network on),
so a check cannot pass because the probe itself is broken.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from aios.config import SandboxConfig
from aios.sandbox import Jail, JailResult

from .conftest import ROOT, needs_bwrap

pytestmark = needs_bwrap


def _exists(path: str) -> bool:
    return os.path.lexists(path)


async def sh(jail: Jail, script: str, **kw: object) -> JailResult:
    return await jail.run(["bash", "-c", script], **kw)  # type: ignore[arg-type]


async def py(jail: Jail, code: str, **kw: object) -> JailResult:
    return await jail.run(["python3", "-c", code], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["/", "/etc", "/usr", "/var/lib"])
async def test_system_directories_are_read_only(
    cfg: SandboxConfig, workspace: Path, target: str
) -> None:
    name = f"aios-escape-{uuid.uuid4().hex[:8]}"
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(jail, f"echo x > {target.rstrip('/')}/{name}")
    assert r.exit_code != 0
    assert "Read-only file system" in r.stderr or "Permission denied" in r.stderr
    assert not _exists(os.path.join(target, name))
    # Control: the workspace is writable, and the file shows on the host.
    ok = await sh(jail, f"echo x > {name} && cat {name}")
    assert ok.exit_code == 0, ok.stderr
    assert (workspace / name).read_text() == "x\n"


async def test_remount_root_read_write_fails(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(
        jail, "mount -o remount,rw / ; echo mount=$?; touch /etc/aios-remount-escape; echo touch=$?"
    )
    assert "mount=0" not in r.stdout
    assert "touch=0" not in r.stdout
    assert not _exists("/etc/aios-remount-escape")


async def test_proc_sys_is_read_only(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    # Writing back the current value: harmless even if the write went through.
    r = await sh(jail, "cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname; echo rc=$?")
    assert "rc=0" not in r.stdout
    assert "Read-only file system" in r.stderr or "Permission denied" in r.stderr


async def test_hidden_paths_are_empty(cfg: SandboxConfig, workspace: Path, outside: Path) -> None:
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("SECRET-KEY\n")
    (home / "notes.txt").write_text("VISIBLE\n")
    state = outside / "state"
    state.mkdir()
    (state / "memory.db").write_text("SECRET-STATE\n")
    for p in (home, home / ".ssh", state):
        p.chmod(0o755)
    for f in (home / ".ssh" / "id_rsa", state / "memory.db"):
        f.chmod(0o644)
    jail = Jail(cfg, mode="normal", workspace=workspace, hidden=[state], home=home)
    r = await sh(
        jail, f"cat {home}/.ssh/id_rsa {state}/memory.db; echo rc=$?; ls -A {home}/.ssh {state}"
    )
    assert "SECRET" not in r.stdout + r.stderr
    assert "rc=1" in r.stdout
    assert r.stdout.split("rc=1\n")[1] == f"{home}/.ssh:\n\n{state}:\n"  # both empty
    # Control: the rest of that home is readable (the probe would show a secret that is not hidden).
    ok = await sh(jail, f"cat {home}/notes.txt")
    assert ok.stdout == "VISIBLE\n"


async def test_hidden_path_inside_the_workspace(cfg: SandboxConfig, workspace: Path) -> None:
    (workspace / ".ssh").mkdir()
    (workspace / ".ssh" / "id_rsa").write_text("SECRET\n")
    jail = Jail(cfg, mode="normal", workspace=workspace, home=workspace)
    r = await sh(jail, "cat .ssh/id_rsa; echo plain > ok.txt")
    assert "SECRET" not in r.stdout
    assert (workspace / "ok.txt").read_text() == "plain\n"


async def test_etc_shadow_is_unreadable(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(jail, "cat /etc/shadow")
    assert r.exit_code != 0
    assert "root:" not in r.stdout
    ok = await sh(jail, "cat /etc/passwd")
    assert "root:" in ok.stdout


@pytest.fixture
def unix_listeners(outside: Path) -> Iterator[dict[str, Path]]:
    """Listening Unix sockets the sandbox user could connect to but for the jail."""
    run_dir = Path(f"/run/aios-t{uuid.uuid4().hex[:6]}") if ROOT else None
    dirs = {"hidden": outside / "state", "visible": outside / "visible"}
    if run_dir is not None:
        dirs["run"] = run_dir
    socks: list[socket.socket] = []
    paths: dict[str, Path] = {}
    try:
        for key, d in dirs.items():
            d.mkdir()
            d.chmod(0o777)
            path = d / "s.sock"
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(path))
            path.chmod(0o777)
            s.listen(16)
            socks.append(s)
            paths[key] = path
        yield paths
    finally:
        for s in socks:
            s.close()
        if run_dir is not None:
            subprocess.run(["rm", "-rf", str(run_dir)], check=False)


CONNECT = """
import socket, sys
for path in sys.argv[1:]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        print(path, "connected")
    except OSError as e:
        print(path, "refused", e.errno)
"""


@pytest.mark.parametrize("mode", ["normal", "safe"])
async def test_unix_sockets_under_run_and_hidden_dirs_are_unreachable(
    cfg: SandboxConfig, workspace: Path, outside: Path, unix_listeners: dict[str, Path], mode: str
) -> None:
    jail = Jail(cfg, mode=mode, workspace=workspace, hidden=[outside / "state"])
    r = await jail.run(["python3", "-c", CONNECT, *map(str, unix_listeners.values())])
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert lines[str(unix_listeners["hidden"])].startswith("refused")
    if "run" in unix_listeners:
        assert lines[str(unix_listeners["run"])].startswith("refused")
    # Even a socket in a visible directory: the jail cannot make a unix socket at all (EACCES).
    assert lines[str(unix_listeners["visible"])] == "refused 13"
    # Control: the same probe outside the jail reaches the visible one.
    unjailed = await Jail(cfg, mode="trusted", workspace=workspace).run(
        ["python3", "-c", CONNECT, str(unix_listeners["visible"])]
    )
    assert unjailed.stdout == f"{unix_listeners['visible']} connected\n"


async def test_the_daemon_socket_dir_is_hidden(cfg: SandboxConfig, workspace: Path) -> None:
    aios_sock = Path("/run/aios/aios.sock")
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(jail, f"ls -A /run; test -e {aios_sock} && echo present")
    assert r.stdout.split() == ["tmp"]  # only the command's private TMPDIR


TIOCSTI = """
import fcntl, termios, errno
def probe(req):
    try:
        fcntl.ioctl(0, req, b"x")
        return "ok"
    except OverflowError:
        return "overflow"
    except OSError as e:
        return errno.errorcode[e.errno]
print("TIOCSTI", probe(termios.TIOCSTI))
print("TIOCSTI_HIGH", probe(termios.TIOCSTI | (1 << 32)))
print("TIOCLINUX", probe(0x541C))
print("TIOCGWINSZ", probe(termios.TIOCGWINSZ))
"""


async def test_tiocsti_and_tioclinux_are_denied(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await py(jail, TIOCSTI)
    res = dict(line.split() for line in r.stdout.splitlines())
    # stdin is /dev/null: without the filter these would fail with ENOTTY, not EPERM.
    assert res["TIOCSTI"] == "EPERM"
    assert res["TIOCLINUX"] == "EPERM"
    assert res["TIOCSTI_HIGH"] in ("EPERM", "overflow")
    assert res["TIOCGWINSZ"] == "ENOTTY"  # control: other ioctls reach the kernel


@pytest.fixture
def tcp_listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


TCP = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3).close()
    print("connected")
except OSError as e:
    print("failed", e.errno)
"""


@pytest.mark.parametrize("mode", ["safe", "paranoid", "normal"])
async def test_network_per_mode(
    cfg: SandboxConfig, workspace: Path, tcp_listener: int, mode: str
) -> None:
    jail = Jail(cfg, mode=mode, workspace=workspace)
    r = await jail.run(["python3", "-c", TCP, str(tcp_listener)])
    if mode == "normal":
        assert r.stdout.strip() == "connected"
    else:
        assert r.stdout.startswith("failed"), r.stdout


async def test_network_config_overrides_mode(workspace: Path, tcp_listener: int) -> None:
    off = Jail(SandboxConfig(network=False), mode="normal", workspace=workspace)
    r = await off.run(["python3", "-c", TCP, str(tcp_listener)])
    assert r.stdout.startswith("failed")


def _alive(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


async def test_fork_bomb_is_contained(workspace: Path) -> None:
    marker = f"aiosbomb{uuid.uuid4().hex[:8]}"
    cfg = SandboxConfig(max_processes=64, output_limit=4096)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", f": {marker}; b() {{ b | b & }}; b; sleep 2"], timeout=5)
    assert "Resource temporarily unavailable" in r.stderr  # the process limit held it
    assert r.duration_s < 5.5
    assert not _alive(marker)  # the jail's pid namespace took every copy down with it
    # The host still forks fine, and so does the next jail.
    assert (await trio.run_process(["true"])).returncode == 0
    ok = await jail.run(["bash", "-c", "echo fine"])
    assert ok.stdout == "fine\n"


async def test_fork_bomb_hits_the_process_limit(workspace: Path) -> None:
    cfg = SandboxConfig(max_processes=16)
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(jail, "for i in $(seq 40); do sleep 1 & done; wait", timeout=10)
    assert "fork" in r.stderr or "Resource temporarily unavailable" in r.stderr


def _give_to_jail(*paths: Path) -> None:
    """Make paths the jail's user's own (a tree shared with it, or a non-root daemon's files)."""
    if ROOT:
        import pwd

        entry = pwd.getpwnam(SandboxConfig().user)
        for p in paths:
            for q in [p, *p.rglob("*")]:
                os.chown(q, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


async def test_dev_is_read_only_and_dev_shm_is_sized(workspace: Path) -> None:
    # bwrap's /dev was an unsized (half the RAM) writable tmpfs: room for gigabytes past the
    # memory limit and every tmpfs cap.
    cfg = SandboxConfig(max_file_size=1024**2)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(
        jail,
        "echo x > /dev/aios-file; echo dev=$?; "
        "for i in 1 2 3; do head -c 600K /dev/zero > /dev/shm/f$i || echo shm-full; done; "
        "du -sk /dev/shm | cut -f1",
    )
    assert "dev=0" not in r.stdout
    assert "Read-only file system" in r.stderr
    assert "shm-full" in r.stdout
    assert int(r.stdout.split()[-1]) <= 1024
    # Control: the device nodes, a pty and the first file in /dev/shm still work.
    ok = await py(
        jail,
        "import os, pty; open('/dev/null', 'w').write('x'); pty.openpty(); "
        "open('/dev/shm/a', 'wb').write(b'x' * 1000); print(os.path.getsize('/dev/shm/a'))",
    )
    assert ok.stdout == "1000\n", ok.stderr


async def test_hidden_directory_stays_hidden_when_its_parent_is_renamed(
    cfg: SandboxConfig, workspace: Path
) -> None:
    # A mount moves with a renamed parent: `mv a b` used to leave a/secret unhidden for the next
    # command, at b/secret (with the daemon's state under ~ as the workspace: its grants).
    secret = workspace / "a" / "secret"
    secret.mkdir(parents=True)
    (secret / "key").write_text("SECRET\n")
    _give_to_jail(workspace / "a")
    jail = Jail(cfg, mode="normal", workspace=workspace, hidden=[secret])
    r = await sh(jail, "mv a b; echo mv=$?; mv a/secret c; echo mv2=$?; rm -rf a; ls a")
    assert "mv=0" not in r.stdout and "mv2=0" not in r.stdout
    assert "Device or resource busy" in r.stderr
    assert (secret / "key").read_text() == "SECRET\n"
    r = await sh(jail, "cat a/secret/key b/secret/key c/key 2>&1; ls -A a/secret")
    assert "SECRET" not in r.stdout
    # Control: the directory around it is the workspace's, writable.
    ok = await sh(jail, "echo fine > a/note && cat a/note")
    assert ok.stdout == "fine\n", ok.stderr


async def test_git_dir_cannot_be_swapped(cfg: SandboxConfig, workspace: Path) -> None:
    # With .git/hooks and .git/config read-only, `mv .git .git-old` and a new .git with its own
    # hooks used to give the person's next `git commit` the command's code.
    await trio.run_process(["git", "init", "-q", str(workspace)])
    _give_to_jail(workspace / ".git")
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await sh(
        jail,
        "mv .git .git-old; echo mv=$?; mkdir -p .git/hooks; "
        "printf '#!/bin/sh\\ntouch pwned\\n' > .git/hooks/pre-commit; echo hook=$?",
    )
    assert "mv=0" not in r.stdout and "hook=0" not in r.stdout
    assert not (workspace / ".git-old").exists()
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    # Control: git itself still works in the jail (the rest of .git is the workspace's).
    ok = await sh(
        jail,
        "g() { git -c safe.directory='*' -c user.name=a -c user.email=a@b \"$@\"; }; "
        "echo hi > f && g add f && g commit -qm m && g log --oneline | wc -l",
    )
    assert ok.stdout == "1\n", ok.stderr


async def test_planted_git_commondir_is_removed(cfg: SandboxConfig, workspace: Path) -> None:
    # .git/commondir makes git read config (core.fsmonitor) and hooks from another directory:
    # a command could plant it next to the read-only hooks and config.
    await trio.run_process(["git", "init", "-q", str(workspace)])
    _give_to_jail(workspace / ".git")
    jail = Jail(cfg, mode="normal", workspace=workspace)
    chunks: list[bytes] = []

    async def on_output(stream: str, chunk: bytes) -> None:
        chunks.append(chunk)

    r = await sh(
        jail,
        "cp -r .git evil && git config -f evil/config core.fsmonitor 'touch pwned; false' && "
        "echo ../evil > .git/commondir && cat .git/commondir",
        on_output=on_output,
    )
    assert r.stdout == "../evil\n", r.stderr  # the write itself works: .git is the jail's
    assert not (workspace / ".git" / "commondir").exists()
    assert "removed .git/commondir (a commondir" in r.stderr
    assert "removed evil/config (git config setting core.fsmonitor)" in r.stderr
    assert any(b"removed .git/commondir" in c for c in chunks)
    assert "removed .git/commondir (a commondir pointing git at another directory's config and hooks)" in r.undone
    status = await trio.run_process(
        ["git", "-c", "safe.directory=*", "-C", str(workspace), "status"], capture_stdout=True
    )
    assert status.returncode == 0
    assert not (workspace / "pwned").exists()
    # One that exists is read-only, and left alone.
    (workspace / ".git" / "commondir").write_text(".\n")
    r = await sh(jail, "echo ../evil > .git/commondir")
    assert "Read-only file system" in r.stderr
    assert (workspace / ".git" / "commondir").read_text() == ".\n"

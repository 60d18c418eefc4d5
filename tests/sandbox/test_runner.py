"""The jailed runner: limits, streaming, exit codes, modes and profiles, failing closed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import trio

from aios.config import SandboxConfig
from aios.errors import SandboxError, SandboxUnavailable
from aios.sandbox import Jail, probe

from .conftest import ROOT, needs_bwrap

pytestmark = needs_bwrap


def _alive(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_a_command_can_reopen_its_own_output(cfg: SandboxConfig, workspace: Path) -> None:
    # As the sandbox user (a root daemon), root-owned 0600 pipes refused `> /dev/stderr`.
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", "echo to-err > /dev/stderr; echo to-out > /proc/self/fd/1"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "to-out\n", "to-err\n"), r


async def test_a_command_outlives_the_thread_that_started_it(cfg: SandboxConfig, workspace: Path) -> None:
    # --die-with-parent follows the forking thread; trio's worker threads exit after 10 s idle.
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["sh", "-c", "sleep 11.5; echo survived"], timeout=60)
    assert (r.exit_code, r.stdout.strip()) == (0, "survived"), r


@pytest.mark.parametrize("mode", ["normal", "paranoid", "trusted"])
async def test_timeout_kills_the_whole_tree(cfg: SandboxConfig, workspace: Path, mode: str) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    jail = Jail(cfg, mode=mode, workspace=workspace)
    script = f"sleep {marker} & (sleep {marker} &) ; echo started; sleep {marker}"
    r = await jail.run(["bash", "-c", script], timeout=1)
    assert r.timed_out
    assert r.exit_code == 124
    assert r.stdout == "started\n"  # output before the kill is kept
    assert 0.9 < r.duration_s < 5
    # Trusted mode has no jail: the process group (which the subshell's child stays in) is it.
    assert not _alive(f"sleep {marker}")


async def test_cancellation_kills_and_reaps(cfg: SandboxConfig, workspace: Path) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    jail = Jail(cfg, mode="normal", workspace=workspace)
    with trio.move_on_after(1) as scope:
        await jail.run(["bash", "-c", f"sleep {marker} & sleep {marker}"])
    assert scope.cancelled_caught
    assert not _alive(f"sleep {marker}")


async def test_one_gigabyte_of_output_is_capped_without_growing_memory(workspace: Path) -> None:
    cfg = SandboxConfig(output_limit=64 * 1024)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    seen: list[tuple[str, int]] = []

    async def on_output(name: str, chunk: bytes) -> None:
        seen.append((name, len(chunk)))

    before = _hwm_kib()
    r = await jail.run(["head", "-c", "1G", "/dev/zero"], on_output=on_output, timeout=120)
    grown_mib = (_hwm_kib() - before) / 1024
    assert r.exit_code == 0
    assert r.stdout_truncated and not r.stderr_truncated
    dropped = 1024**3 - 64 * 1024
    marker = f"[aios: output truncated, {dropped} bytes dropped]\n"
    assert r.stdout.endswith("\n" + marker)
    assert len(r.stdout) == 64 * 1024 + 1 + len(marker)
    assert grown_mib < 64, f"peak RSS grew by {grown_mib:.0f} MiB"
    # Streamed: the kept head in chunks, then the marker once.
    assert sum(n for name, n in seen[:-1] if name == "stdout") == 64 * 1024
    assert seen[-1] == ("stdout", len(marker) + 1)


async def test_output_streams_while_the_command_runs(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    arrivals: list[tuple[str, bytes, float]] = []

    async def on_output(name: str, chunk: bytes) -> None:
        arrivals.append((name, chunk, trio.current_time()))

    start = trio.current_time()
    r = await jail.run(
        ["bash", "-c", "echo one; echo two >&2; sleep 1; echo three"], on_output=on_output
    )
    end = trio.current_time()
    assert r.stdout == "one\nthree\n" and r.stderr == "two\n"
    first = next(t for name, chunk, t in arrivals if chunk == b"one\n")
    assert first - start < end - start - 0.5  # arrived well before the command finished
    assert b"".join(c for n, c, _ in arrivals if n == "stderr") == b"two\n"


async def test_stderr_cap_is_separate(workspace: Path) -> None:
    jail = Jail(SandboxConfig(output_limit=10), mode="normal", workspace=workspace)  # type: ignore[arg-type]
    r = await jail.run(["bash", "-c", "echo short; printf '%.0sx' $(seq 100) >&2"])
    assert r.stdout == "short\n" and not r.stdout_truncated
    assert r.stderr == "x" * 10 + "\n[aios: output truncated, 90 bytes dropped]\n"


@pytest.mark.parametrize(
    ("script", "code"), [("exit 3", 3), ("kill -9 $$", 137), ("kill -TERM $$", 143)]
)
async def test_exit_codes(cfg: SandboxConfig, workspace: Path, script: str, code: int) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", script])
    assert r.exit_code == code
    assert not r.timed_out


async def test_trusted_exit_code_for_a_signal(cfg: SandboxConfig, workspace: Path) -> None:
    r = await Jail(cfg, mode="trusted", workspace=workspace).run(["bash", "-c", "kill -9 $$"])
    assert r.exit_code == 137


async def test_stdin(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["cat"], stdin=b"hello\n")
    assert r.stdout == "hello\n"
    r = await jail.run(["bash", "-c", "read -t 1 x; echo rc=$?"])
    assert r.stdout == "rc=1\n"  # no stdin given: /dev/null, end of file at once


async def test_environment_is_rebuilt(cfg: SandboxConfig, workspace: Path) -> None:
    os.environ["AIOS_TEST_LEAK"] = "leaked"
    try:
        r = await Jail(cfg, mode="normal", workspace=workspace).run(["env"])
    finally:
        del os.environ["AIOS_TEST_LEAK"]
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert "AIOS_TEST_LEAK" not in env
    assert env["HOME"] == str(workspace)
    assert env["LANG"] == "C.UTF-8" and env["TERM"] == "dumb"
    assert env["PATH"].startswith("/usr/local/sbin:")
    assert env["TMPDIR"] == "/run/tmp"
    assert set(env) <= {"PATH", "HOME", "LANG", "TERM", "USER", "LOGNAME", "TMPDIR", "PWD", "SHLVL", "_"}


async def test_runs_as_the_sandbox_user_without_capabilities(
    cfg: SandboxConfig, workspace: Path
) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(
        ["bash", "-c", "id -un; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"]
    )
    lines = r.stdout.splitlines()
    if ROOT:
        assert lines[0] == cfg.user
        # only the sandbox user's own group, none of the daemon's (setpriv --clear-groups)
        assert lines[1].split() == [str(pwd.getpwnam(cfg.user).pw_gid)]
    assert "CapEff:\t0000000000000000" in lines
    assert "CapBnd:\t0000000000000000" in lines


async def test_rlimits_are_applied(workspace: Path) -> None:
    cfg = SandboxConfig(memory_limit=512 * 1024**2, max_processes=77, max_file_size=1024**2)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(
        ["bash", "-c", "ulimit -v; ulimit -u; ulimit -f; head -c 2M /dev/zero > big; echo rc=$?"]
    )
    lines = r.stdout.splitlines()
    assert lines[:3] == [str(512 * 1024), "77", str(1024**2 // 1024)]
    assert lines[3] != "rc=0"
    assert (workspace / "big").stat().st_size == 1024**2


async def test_git_hooks_and_config_stay_read_only(cfg: SandboxConfig, workspace: Path) -> None:
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / ".git" / "config").write_text("[core]\n")
    # Writable by anyone on the host: only the read-only binds can stop the writes below.
    for p in (workspace / ".git", workspace / ".git" / "hooks", workspace / ".git" / "config"):
        p.chmod(0o777)
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(
        [
            "bash",
            "-c",
            "echo evil > .git/hooks/pre-commit; echo '[core]fsmonitor=evil' >> .git/config; echo ok > .git/HEAD",
        ]
    )
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert (workspace / ".git" / "config").read_text() == "[core]\n"
    assert (
        workspace / ".git" / "HEAD"
    ).read_text() == "ok\n"  # the rest of .git is the workspace's
    assert r.stderr.count("Read-only file system") == 2


async def test_paranoid_workspace_is_a_private_scratch(cfg: SandboxConfig, workspace: Path) -> None:
    (workspace / "host.txt").write_text("host\n")
    jail = Jail(cfg, mode="paranoid", workspace=workspace)
    r = await jail.run(["bash", "-c", "pwd; ls -A; echo x > new.txt && cat new.txt"])
    assert r.stdout == f"{workspace}\nx\n"
    assert not (workspace / "new.txt").exists()
    again = await jail.run(["bash", "-c", "ls -A"])
    assert again.stdout == ""  # nothing kept between commands


async def test_extra_binds(workspace: Path, outside: Path) -> None:
    ro, rw = outside / "ro", outside / "rw"
    for d in (ro, rw):
        d.mkdir()
        d.chmod(0o777)
    (ro / "f").write_text("data\n")
    cfg = SandboxConfig(
        extra_ro_binds=[str(ro)], extra_binds=[f"{rw}:/run/aios-rw"], hidden_paths=[]
    )
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", f"cat {ro}/f; echo y > {ro}/g; echo z > /run/aios-rw/h"])
    assert r.stdout == "data\n", r.stderr
    assert not (ro / "g").exists()
    assert (rw / "h").read_text() == "z\n"


async def test_trusted_mode_runs_unjailed(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="trusted", workspace=workspace)
    command = ["bash", "-c", "id -u; pwd; readlink /proc/self/ns/pid /proc/self/ns/mnt"]
    assert jail.argv(command) == command
    r = await jail.run(command)
    lines = r.stdout.splitlines()
    assert lines[0] == str(os.getuid())
    assert lines[1] == str(workspace)
    assert lines[2:] == [os.readlink("/proc/self/ns/pid"), os.readlink("/proc/self/ns/mnt")]


@pytest.mark.skipif(not ROOT, reason="the host profile writes the system only for a root daemon")
async def test_host_profile_can_write_the_system_but_is_still_limited(
    cfg: SandboxConfig, workspace: Path, outside: Path
) -> None:
    target = outside / "sys.conf"
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", f"echo changed > {target}; id -u"], profile="host")
    assert r.exit_code == 0, r.stderr
    assert target.read_text() == "changed\n"
    assert r.stdout == "0\n"
    timed = await jail.run(
        ["bash", "-c", f"sleep {marker} & sleep {marker}"], profile="host", timeout=1
    )
    assert timed.exit_code == 124
    assert not _alive(f"sleep {marker}")
    # The jail profile of the same Jail cannot.
    denied = await jail.run(["bash", "-c", f"echo again > {target}"])
    assert denied.exit_code != 0 and target.read_text() == "changed\n"


async def test_missing_bwrap_fails_closed(workspace: Path) -> None:
    cfg = SandboxConfig(bwrap="/nonexistent/bwrap")
    status = probe(cfg)
    assert not status.usable and status.bwrap is None
    assert "apt-get install bubblewrap" in (status.fix or "")
    marker = workspace / "ran"
    for mode in ("safe", "normal", "paranoid"):
        with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap") as info:
            await Jail(cfg, mode=mode, workspace=workspace).run(["touch", str(marker)])
        assert isinstance(info.value, SandboxError)
        assert not marker.exists()  # never ran unjailed
    r = await Jail(cfg, mode="trusted", workspace=workspace).run(["touch", str(marker)])
    assert r.exit_code == 0 and marker.exists()


@pytest.mark.skipif(not ROOT, reason="only a root daemon grants the sandbox user access")
async def test_private_workspace_is_granted_to_the_sandbox_user(
    cfg: SandboxConfig, outside: Path
) -> None:
    parent = outside / "private"
    ws = parent / "ws"
    ws.mkdir(parents=True)
    parent.chmod(0o700)
    ws.chmod(0o700)
    (ws / "shared.txt").write_text("old\n")
    (ws / "shared.txt").chmod(0o644)
    (ws / "own.txt").write_text("mine\n")
    (ws / "own.txt").chmod(0o600)
    jail = Jail(cfg, mode="normal", workspace=ws)
    r = await jail.run(["bash", "-c", "cat shared.txt; cat own.txt; echo new > new.txt; ls"])
    assert r.stdout == "old\nnew.txt\nown.txt\nshared.txt\n"
    assert (
        "own.txt: Permission denied" in r.stderr
    )  # not recursive: existing files keep their modes
    parent_acl = (
        await trio.run_process(["getfacl", "-p", str(parent)], capture_stdout=True)
    ).stdout.decode()
    ws_acl = (
        await trio.run_process(["getfacl", "-p", str(ws)], capture_stdout=True)
    ).stdout.decode()
    own_acl = (
        await trio.run_process(["getfacl", "-p", str(ws / "own.txt")], capture_stdout=True)
    ).stdout.decode()
    assert f"user:{cfg.user}:--x" in parent_acl  # search only on the parent, not read
    assert f"user:{cfg.user}:rwx" in ws_acl and f"default:user:{cfg.user}:rwx" in ws_acl
    assert cfg.user not in own_acl


@pytest.mark.parametrize("target", ["/", "/etc", "/tmp", "/usr", "/home"])
async def test_system_directories_are_refused_as_workspace(cfg: SandboxConfig, target: str) -> None:
    acl_before = (await trio.run_process(["getfacl", "-p", target], capture_stdout=True)).stdout
    with pytest.raises(SandboxError, match="cannot be"):
        await Jail(cfg, mode="normal", workspace=Path(target)).run(["true"])
    assert (
        await trio.run_process(["getfacl", "-p", target], capture_stdout=True)
    ).stdout == acl_before


async def test_symlinked_workspace_is_judged_by_its_real_path(
    cfg: SandboxConfig, workspace: Path
) -> None:
    link = workspace / "etc-link"
    link.symlink_to("/etc")
    with pytest.raises(SandboxError, match="cannot be /etc"):
        await Jail(cfg, mode="normal", workspace=link).run(["true"])


async def test_missing_workspace_is_an_error(cfg: SandboxConfig) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        await Jail(cfg, mode="normal", workspace=Path("/tmp/aios-no-such-ws")).run(["true"])


async def test_unknown_mode_is_refused(cfg: SandboxConfig, workspace: Path) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        Jail(cfg, mode="yolo", workspace=workspace)


def test_shutil_has_the_tools_the_checks_use() -> None:
    assert shutil.which("pgrep") and shutil.which("setfacl")


@pytest.mark.skipif(not ROOT, reason="the host profile runs as the daemon's user")
async def test_host_profile_limits(workspace: Path) -> None:
    cfg = SandboxConfig(memory_limit=700 * 1024**2, max_processes=1000, max_file_size=2 * 1024**2)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", "ulimit -v; ulimit -u; ulimit -f"], profile="host")
    assert r.stdout.splitlines() == [str(700 * 1024), "1000", str(2 * 1024)]


NON_ROOT = """
import json, sys, trio
from pathlib import Path
from aios.config import SandboxConfig
from aios.sandbox import Jail, probe

async def main(ws):
    cfg = SandboxConfig(memory_limit=600 * 1024**2, max_processes=40, max_file_size=3 * 1024**2)
    jail = Jail(cfg, mode="safe", workspace=Path(ws))
    r = await jail.run(["bash", "-c", "id -u; ulimit -v; ulimit -u; ulimit -f; echo hi > f; touch /etc/x; echo rc=$?"])
    t = await jail.run(["bash", "-c", "sleep 1000.4242 & sleep 1000.4242"], timeout=1)
    print(json.dumps({"status": probe(cfg).to_json(), "stdout": r.stdout, "stderr": r.stderr,
                      "argv": list(r.argv), "timed_out": t.exit_code}))

trio.run(main, sys.argv[1])
"""


@pytest.mark.skipif(not ROOT, reason="run as non-root, the whole suite already takes this path")
async def test_a_non_root_daemon_jails_with_its_own_user_namespace(
    cfg: SandboxConfig, workspace: Path
) -> None:
    import pwd

    import aios

    # The venv's interpreter may live under /root; the system one with the same minor version
    # runs the same pure-Python dependencies from the venv's site-packages.
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip("no /usr/bin/python3 for the sandbox user")
    site = next(p for p in sys.path if p.endswith("site-packages") and "venv" in p)
    src = str(Path(aios.__file__).parent.parent)
    pw = pwd.getpwnam(cfg.user)
    os.chown(workspace, pw.pw_uid, pw.pw_gid)
    proc = await trio.run_process(
        [python, "-c", NON_ROOT, str(workspace)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=[],
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(workspace),
            "PYTHONPATH": f"{src}:{site}",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    res = json.loads(proc.stdout)
    assert res["status"]["usable"] and res["status"]["seccomp"]
    lines = res["stdout"].splitlines()
    assert lines[:4] == [str(pw.pw_uid), str(600 * 1024), "40", str(3 * 1024)]
    assert lines[4] != "rc=0"
    assert "--info-fd" in res["argv"] and "--unshare-user" in res["argv"]
    assert (workspace / "f").read_text() == "hi\n"
    assert res["timed_out"] == 124
    assert not _alive("sleep 1000.4242")


async def test_commands_run_concurrently(cfg: SandboxConfig, workspace: Path) -> None:
    """No global lock, and every concurrent run still gets its own limits (descriptor reuse
    between concurrent spawns once made a run hang or go without them)."""
    jail = Jail(cfg, mode="normal", workspace=workspace)
    results: list[tuple[int, str]] = []

    async def one() -> None:
        r = await jail.run(["bash", "-c", "ulimit -v; sleep 0.5"], timeout=10)
        results.append((r.exit_code, r.stdout))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(one)
    assert results == [(0, f"{int(cfg.memory_limit) // 1024}\n")] * 8
    assert trio.current_time() - start < 3.0


async def test_private_tmpfs_is_sized(workspace: Path) -> None:
    cfg = SandboxConfig(max_file_size=1024**2)  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(
        [
            "bash",
            "-c",
            'df -k --output=size "$TMPDIR" | tail -1; for i in 1 2 3; do head -c 900K /dev/zero > "$TMPDIR/f$i" || echo full; done',
        ]
    )
    lines = r.stdout.split()
    assert lines[0] == "1024"
    assert "full" in lines and "No space left on device" in r.stderr


async def test_workspace_inside_a_hidden_directory(cfg: SandboxConfig, outside: Path) -> None:
    state = outside / "state"
    ws = state / "ws"
    ws.mkdir(parents=True)
    state.chmod(0o755)
    (state / "memory.db").write_text("SECRET\n")
    jail = Jail(cfg, mode="normal", workspace=ws, hidden=[state])
    r = await jail.run(
        ["bash", "-c", f"ls -A {state}; cat {state}/memory.db; echo w > out; touch {state}/x"]
    )
    assert "SECRET" not in r.stdout
    assert r.stdout.split() == ["ws"]  # only the mount point of the workspace shows
    assert (ws / "out").read_text() == "w\n"
    assert not (state / "x").exists()
    assert "Permission denied" in r.stderr or "Read-only" in r.stderr

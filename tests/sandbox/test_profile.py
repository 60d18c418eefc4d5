"""The argv builder: flags per mode and profile, mount order, hidden paths (no process started
except where a test says so)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aios.config import SandboxConfig
from aios.sandbox import Jail

from .conftest import ROOT


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def _opts(argv: list[str]) -> list[str]:
    return argv[: argv.index("--")]


def test_normal_mode_flags(workspace: Path) -> None:
    argv = Jail(SandboxConfig(), mode="normal", workspace=workspace).argv(["bash", "-c", "ls"])
    opts = _opts(argv)
    assert argv[argv.index("--") + 1 :] == ["bash", "-c", "ls"]
    for flag in ("--unshare-all", "--share-net", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--clearenv"):  # fmt: skip
        assert flag in opts
    assert _pairs(opts, "--cap-drop") == ["ALL"]
    assert opts[opts.index("--ro-bind") : opts.index("--ro-bind") + 3] == ["--ro-bind", "/", "/"]
    # /run hidden with a private TMPDIR inside; /tmp, /var/tmp and /root are the host's, read-only.
    assert _pairs(opts, "--tmpfs")[:3] == ["/run", "/run/tmp", "/dev/shm"]
    assert _pairs(opts, "--remount-ro") == ["/run", "/dev"]
    assert _pairs(opts, "--bind") == [str(workspace)]
    assert _pairs(opts, "--chdir") == [str(workspace)]
    assert "--seccomp" not in opts


@pytest.mark.parametrize("mode", ["safe", "paranoid"])
def test_no_network_modes(workspace: Path, mode: str) -> None:
    assert "--share-net" not in Jail(SandboxConfig(), mode=mode, workspace=workspace).argv(["true"])
    assert "--share-net" in Jail(SandboxConfig(network=True), mode=mode, workspace=workspace).argv(
        ["true"]
    )


def test_paranoid_workspace_is_a_sized_tmpfs(workspace: Path) -> None:
    argv = Jail(SandboxConfig(max_file_size=12345), mode="paranoid", workspace=workspace).argv(
        ["true"]
    )  # type: ignore[arg-type]
    i = argv.index(str(workspace))
    assert argv[i - 3 : i + 1] == ["--size", "12345", "--tmpfs", str(workspace)]
    assert "--bind" not in argv


def test_seccomp_fd_is_passed(workspace: Path) -> None:
    argv = Jail(SandboxConfig(), mode="safe", workspace=workspace).argv(["true"], seccomp_fd=9)
    assert _pairs(_opts(argv), "--seccomp") == ["9"]


def test_trusted_is_the_plain_command(workspace: Path) -> None:
    jail = Jail(SandboxConfig(bwrap="/nonexistent"), mode="trusted", workspace=workspace)
    assert jail.argv(["ls", "-l"]) == ["ls", "-l"]
    assert jail.argv(["ls"], profile="host") == ["ls"]


def test_host_profile(workspace: Path) -> None:
    argv = Jail(SandboxConfig(), mode="normal", workspace=workspace).argv(
        ["apt-get", "update"], profile="host"
    )
    opts = _opts(argv)
    assert opts[1:4] == ["--dev-bind", "/", "/"]
    for flag in ("--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in opts
    assert "--unshare-user" not in opts and "--ro-bind" not in opts


def test_hidden_paths_come_after_the_workspace_and_skip_what_is_already_empty(
    workspace: Path, outside: Path
) -> None:
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".netrc").write_text("")
    (workspace / ".aws").mkdir()
    workspace.chmod(0o755)  # run() grants this itself; argv() only looks
    state = outside / "state"
    state.mkdir()
    cfg = SandboxConfig(
        hidden_paths=["~/.ssh", "~/.netrc", "~/.gnupg", "/tmp/whatever", str(workspace / ".aws")]
    )
    argv = Jail(
        cfg, mode="normal", workspace=workspace, hidden=[state, Path("/run/aios")], home=home
    ).argv(["true"])
    tmpfs = _pairs(argv, "--tmpfs")
    assert str(home / ".ssh") in tmpfs and str(state) in tmpfs
    assert str(workspace / ".aws") in tmpfs
    assert argv.index(str(workspace / ".aws")) > argv.index(
        "--bind"
    )  # after the bind that shows it
    assert str(home / ".gnupg") not in argv  # does not exist: nothing to hide
    assert "/run/aios" not in tmpfs and "/tmp/whatever" not in argv  # under a private tmpfs already
    i = argv.index(str(home / ".netrc"))
    assert argv[i - 2 : i + 1] == ["--ro-bind", "/dev/null", str(home / ".netrc")]  # a file


def test_default_hidden_set_covers_every_credential_kind_under_the_home(workspace: Path, outside: Path) -> None:
    """Issue 13 D: the jail hides the same credentials the policy calls secrets, files and
    directories alike, with the default config (no hidden_paths given)."""
    home = outside / "home"
    files = [".netrc", ".git-credentials", ".pgpass", ".vault-token"]
    dirs = [".ssh", ".gnupg", ".aws", ".kube", ".docker", ".config/gh", ".azure"]
    for f in files:
        (home / f).parent.mkdir(parents=True, exist_ok=True)
        (home / f).write_text("secret")
    for d in dirs:
        (home / d).mkdir(parents=True)
    workspace.chmod(0o755)
    argv = Jail(SandboxConfig(), mode="normal", workspace=workspace, home=home).argv(["true"])
    tmpfs = _pairs(argv, "--tmpfs")
    for d in dirs:
        assert str(home / d) in tmpfs, d
    for f in files:
        i = argv.index(str(home / f))
        assert argv[i - 2 : i + 1] == ["--ro-bind", "/dev/null", str(home / f)], f


@pytest.mark.skipif(not ROOT, reason="needs a directory the sandbox user cannot search")
def test_hidden_path_unreachable_by_the_sandbox_user_is_skipped(
    workspace: Path, outside: Path
) -> None:
    locked = outside / "locked"
    (locked / ".ssh").mkdir(parents=True)
    locked.chmod(0o700)
    cfg = SandboxConfig(hidden_paths=[str(locked / ".ssh")])
    assert str(locked / ".ssh") not in Jail(cfg, mode="normal", workspace=workspace).argv(["true"])
    # An ACL that lets the sandbox user search it makes it reachable, so it is hidden again.
    subprocess.run(["setfacl", "-m", f"u:{cfg.user}:x", str(locked)], check=True)
    assert str(locked / ".ssh") in Jail(cfg, mode="normal", workspace=workspace).argv(["true"])
    # A named-user ACL entry is limited by the mask.
    subprocess.run(["setfacl", "-m", "m::-", str(locked)], check=True)
    assert str(locked / ".ssh") not in Jail(cfg, mode="normal", workspace=workspace).argv(["true"])


def test_readonly_git_files(workspace: Path) -> None:
    (workspace / ".git" / "hooks").mkdir(parents=True)
    argv = Jail(SandboxConfig(), mode="normal", workspace=workspace).argv(["true"])
    hooks = str(workspace / ".git" / "hooks")
    i = argv.index(hooks)
    assert argv[i - 1 : i + 2] == ["--ro-bind", hooks, hooks]
    assert str(workspace / ".git" / "config") not in argv  # absent: nothing to protect


def test_bwrap_resolved_on_path(workspace: Path) -> None:
    argv = Jail(SandboxConfig(bwrap="bwrap"), mode="normal", workspace=workspace).argv(["true"])
    if os.path.exists("/usr/bin/bwrap"):
        assert os.path.isabs(argv[0])


def test_empty_command_is_refused(workspace: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        Jail(SandboxConfig(), mode="normal", workspace=workspace).argv([])


def test_dirs_between_a_writable_bind_and_a_mount_inside_it_are_pinned(
    workspace: Path, outside: Path
) -> None:
    (workspace / "a" / "b" / "secret").mkdir(parents=True)
    (workspace / ".git" / "hooks").mkdir(parents=True)
    data = outside / "data"
    (data / "x" / "keys").mkdir(parents=True)
    for p in (workspace, data, data / "x", workspace / "a", workspace / "a" / "b", workspace / ".git"):
        p.chmod(0o755)
    cfg = SandboxConfig(extra_binds=[f"{data}:/mnt/aios-data"], hidden_paths=[])
    jail = Jail(cfg, mode="normal", workspace=workspace, hidden=[workspace / "a" / "b" / "secret"])
    opts = _opts(jail.argv(["true"]))
    binds = [(opts[i + 1], opts[i + 2]) for i, a in enumerate(opts) if a == "--bind"]
    ws = str(workspace)
    assert (f"{ws}/a", f"{ws}/a") in binds and (f"{ws}/a/b", f"{ws}/a/b") in binds
    assert (f"{ws}/.git", f"{ws}/.git") in binds
    # A pin comes after the bind it lies in and before the mount it protects.
    order = [opts[i + 1] for i, a in enumerate(opts) if a in ("--bind", "--tmpfs", "--ro-bind")]
    assert order.index(ws) < order.index(f"{ws}/a") < order.index(f"{ws}/a/b")
    assert order.index(f"{ws}/a/b") < order.index(f"{ws}/a/b/secret")
    assert order.index(f"{ws}/.git") < order.index(f"{ws}/.git/hooks")
    # Nothing to pin without a mount below; /dev goes read-only after every mount.
    assert not any(dest.startswith("/mnt/aios-data/") for _src, dest in binds)
    assert _pairs(opts, "--remount-ro")[-1] == "/dev"
    assert opts.index("--remount-ro") > max(i for i, a in enumerate(opts) if a in ("--bind", "--tmpfs"))
    # Under a writable extra bind too.
    cfg2 = SandboxConfig(extra_binds=[str(data)], hidden_paths=[str(data / "x" / "keys")])
    opts2 = _opts(Jail(cfg2, mode="normal", workspace=workspace).argv(["true"]))
    i = opts2.index(f"{data}/x/keys")
    assert opts2[i - 8 : i - 5] == ["--bind", f"{data}/x", f"{data}/x"]

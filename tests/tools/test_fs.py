"""The layer under the file tools: opening beneath a descriptor, the write guard, the daemon's files.

Every opener test runs twice: with openat2 and with the component walk that kernels without it
(or a seccomp filter refusing it) use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from toolctx import make_context, with_flipper

from aios.config import load
from aios.tools import ToolResult, protected_paths
from aios.tools._files import read_file
from aios.tools._fs import DIR_FLAGS, HAVE_OPENAT2, Opener, PathRefused, hardlink_refusal, locate
from aios.tools._guard import canon, git_refusal, protected_refusal, write_block
from aios.tools._write import write_file

ROUNDS = 300


@pytest.fixture(params=["openat2", "walk"])
def opener(request: pytest.FixtureRequest) -> Opener:
    return Opener(use_openat2=request.param == "openat2")


@pytest.fixture
def root(scratch: Path) -> Iterator[int]:
    (scratch / "real" / "sub").mkdir(parents=True)
    (scratch / "real" / "sub" / "f.txt").write_text("inside")
    fd = os.open(scratch, DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def test_this_kernel_has_openat2() -> None:
    assert HAVE_OPENAT2  # Linux 5.6+: the fast path is the one tested here; the walk is forced below
    assert not Opener(use_openat2=False).openat2


def test_plain_paths_open(opener: Opener, root: int, scratch: Path) -> None:
    fd = opener.open(root, "real/sub/f.txt", os.O_RDONLY, base=str(scratch))
    with os.fdopen(fd) as f:
        assert f.read() == "inside"
    with opener.parent(root, "real/sub/f.txt", base=str(scratch)) as (pfd, leaf):
        assert leaf == "f.txt" and os.path.samestat(os.fstat(pfd), os.stat(scratch / "real" / "sub"))
    dirs = [sub for sub, _ in opener.walk_dirs(root, "real/sub/f.txt", base=str(scratch))]
    assert dirs == ["", "real", "real/sub"]


@pytest.mark.parametrize("where", ["real", "real/sub", "real/sub/f.txt"])
def test_a_symlink_anywhere_is_refused_and_named(opener: Opener, root: int, scratch: Path, where: str) -> None:
    # Replace one component by a symlink to the very place it was: harmless, and still refused.
    path = scratch / where
    os.rename(path, scratch / "moved")
    os.symlink(scratch / "moved", path)
    with pytest.raises(PathRefused, match=f"{path} is a symbolic link \\(to {scratch}/moved\\)"):
        os.close(opener.open(root, "real/sub/f.txt", os.O_RDONLY, base=str(scratch)))


def test_magic_links_and_dotdot_are_refused(opener: Opener) -> None:
    slash = os.open("/", DIR_FLAGS)
    try:
        with pytest.raises(PathRefused, match="/proc/self is a symbolic link"):
            opener.open(slash, "proc/self/root/etc/hostname", os.O_RDONLY, base="/")
        with pytest.raises(PathRefused, match=r"/bin is a symbolic link \(to usr/bin, i.e. /usr/bin\)"):
            opener.open(slash, "bin/sh", os.O_RDONLY, base="/")
        with pytest.raises(PathRefused, match=r"/proc/1/root is a symbolic link"):
            opener.open(slash, "proc/1/root/etc/hostname", os.O_RDONLY, base="/")
        with pytest.raises(PathRefused, match="'..'"):
            opener.open(slash, "etc/../etc/hostname", os.O_RDONLY, base="/")
    finally:
        os.close(slash)


def test_locate_folds_the_path_by_text(scratch: Path) -> None:
    ws = scratch / "ws"
    assert locate("a/../b", ws).shown == f"{ws}/b"
    assert locate("./.git//config", ws).rel == ".git/config"
    assert locate("..", ws) == locate(str(scratch), ws) and locate("..", ws).base == "/"
    assert locate("//etc///passwd", ws).shown == "/etc/passwd"
    assert locate(str(ws), ws).rel == "" and locate(str(ws), ws).base == str(ws)
    assert locate(f"{ws}x/file", ws).base == "/"  # a sibling with a common prefix is outside


def test_git_names_are_compared_as_git_would() -> None:
    for name in (".git", ".GIT", ".Git.", ".git ", "git~1", ".g\u200cit", ".git\ufeff"):
        assert canon(name) == ".git", name
    assert git_refusal("/ws/.GIT/hooks/pre-commit") and git_refusal("/ws/a/.gitattributes")
    assert git_refusal("/ws/a/.GitModules") and git_refusal("/ws/pointer/.git")
    assert git_refusal("/ws/my.git/config") is None and git_refusal("/ws/.github/workflows/ci.yml") is None
    assert git_refusal("/ws/docs/git.md") is None


def test_protected_paths_cover_config_state_units(scratch: Path) -> None:
    env = {"HOME": str(scratch / "home"), "XDG_CONFIG_HOME": str(scratch / "xdg"), "AIOS_CONFIG": str(scratch / "c.toml"),
           "AIOS_SYSTEM_CONFIG": str(scratch / "sys.toml"), "AIOS_PATHS__STATE_DIR": str(scratch / "state")}
    (scratch / "c.toml").write_text(f'[security]\nrules_file = "{scratch}/rules.toml"\n')
    (scratch / "rules.toml").write_text("")
    paths = protected_paths(load(environ=env), env)
    for p in (scratch / "c.toml", scratch / "sys.toml", scratch / "state" / "memory.db", scratch / "xdg" / "aios" / "x.toml",
              scratch / "rules.toml", Path("/etc/systemd/system/aios-runtime.service.d/x.conf"), Path("/etc/aios/config.toml"),
              scratch / "xdg" / "systemd" / "user" / "aios-runtime.socket"):
        assert protected_refusal(str(p), paths), p
    assert protected_refusal(str(scratch / "workspace" / "x"), paths) is None
    block = write_block(str(scratch / "c.toml"), paths)
    assert block is not None and block.action == "block" and block.targets == (str(scratch / "c.toml"),)


def test_a_hard_link_is_refused_only_without_the_kernels_protection(scratch: Path) -> None:
    (scratch / "a").write_text("x")
    os.link(scratch / "a", scratch / "b")
    st = os.stat(scratch / "b")
    assert hardlink_refusal(st, "b", protected=False) is not None
    assert hardlink_refusal(st, "b", protected=True) is None
    assert hardlink_refusal(os.stat(scratch), "dir", protected=False) is None


def test_the_kernel_stops_the_sandbox_user_from_linking_a_secret(scratch: Path) -> None:
    # What makes reading through an extra name safe with fs.protected_hardlinks = 1 (the default).
    import subprocess

    assert Path("/proc/sys/fs/protected_hardlinks").read_text().strip() == "1"
    secret = scratch / "secret"
    secret.write_text("S")
    secret.chmod(0o600)
    link = scratch / "ws"
    link.mkdir(mode=0o777)
    link.chmod(0o777)
    r = subprocess.run(["setpriv", "--reuid=aios-sandbox", "--regid=aios-sandbox", "--clear-groups",
                        "ln", str(secret), str(link / "copy")], capture_output=True, text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr


async def test_the_walk_without_openat2_holds_the_same_race(scratch: Path, outside: Path) -> None:
    ws = scratch / "ws"
    ws.mkdir()
    (outside / "data").write_text("OUTSIDE-SECRET")
    ctx = make_context(ws, home=scratch / "home")
    walk = Opener(use_openat2=False)
    outcomes: list[ToolResult] = []

    async def body() -> None:
        t = locate("d/data", ws)
        for i in range(ROUNDS):
            outcomes.append(await trio.to_thread.run_sync(partial(read_file, t, 0, 1000, walk)))
            w = locate(f"d/new{i}", ws)
            outcomes.append(await trio.to_thread.run_sync(partial(write_file, w, b"x", append=False, opener=walk)))

    await with_flipper(ws, ctx.jail, outside, "data", body)
    assert sorted(os.listdir(outside)) == ["data"], "a write followed the swapped link"
    assert not any("OUTSIDE-SECRET" in r.output for r in outcomes), "a read followed the swapped link"
    assert any(r.ok for r in outcomes)


async def test_the_gate_refuses_any_tool_whose_targets_are_the_daemons_files(scratch: Path) -> None:
    # Defence in depth for every tool (bash included): whatever rule or mode let an action
    # through, a target the policy names among the daemon's files ends it at the gate.
    from aios.security import Decision
    from aios.tools import gate

    config = scratch / "config.toml"
    ws = scratch / "ws"
    ws.mkdir()
    ctx = make_context(ws, home=scratch / "home", mode="trusted", protected=(config, scratch / "state"))
    for target in (str(config), f"{scratch}/state/memory.db", f"{ws}/../state/x"):
        allowed = Decision("allow", "mode.trusted", "allows: trusted mode", changes_system=True, targets=(target,))
        g = await gate(ctx, allowed, tool="bash", subject=f"echo x >> {target}", what={})
        assert not g.go and g.refusal is not None and g.decision.rule == "tools.protected", target
        assert g.refusal.metadata["exit_code"] == 126
    fine = Decision("allow", "mode.trusted", "allows: trusted mode", targets=(str(ws / "notes.txt"),))
    assert (await gate(ctx, fine, tool="bash", subject="echo x > notes.txt", what={})).go


def test_modes_reach_only_the_files_they_create(opener: Opener, root: int, scratch: Path) -> None:
    old = os.umask(0)
    try:
        fd = opener.open(root, "real/new.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640, base=str(scratch))
        os.close(fd)
        assert (scratch / "real" / "new.txt").stat().st_mode & 0o777 == 0o640
        fd = opener.open(root, "real/new.txt", os.O_WRONLY | os.O_APPEND, 0o777, base=str(scratch))  # mode ignored
        os.close(fd)
    finally:
        os.umask(old)


async def test_a_hard_link_to_git_metadata_is_not_written_through(scratch: Path) -> None:
    # `git init` in the jail makes .git/config the sandbox user's own, so the kernel lets that
    # user link it into the workspace under an innocent name; an append there would set
    # core.fsmonitor. A whole-file write replaces the name and leaves .git/config alone.
    from aios.tools._builtin import WriteTool

    ws = scratch / "ws"
    (ws / "repo" / ".git").mkdir(parents=True)
    config = ws / "repo" / ".git" / "config"
    config.write_text("[core]\n")
    os.link(config, ws / "notes.txt")
    ctx = make_context(ws, home=scratch / "home", mode="trusted")
    for append in (True, False):
        out = await WriteTool().execute({"path": "notes.txt", "content": "\tfsmonitor = touch /tmp/x\n", "append": append}, ctx)
        assert out.ok is (not append), out
        if append:
            assert "2 hard links" in (out.error or "")
        assert config.read_text() == "[core]\n"
    assert (ws / "notes.txt").read_text() == "\tfsmonitor = touch /tmp/x\n" and os.stat(config).st_nlink == 1

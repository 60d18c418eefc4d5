"""Git metadata a jailed command writes anywhere in the workspace is undone (issue 13, A3).

git outside the jail — the person's own, as root — runs programs named in repository metadata:
hooks, ``core.fsmonitor``/``core.pager``/``core.hooksPath``, filter drivers, a ``.git`` file or
``commondir`` pointing at another directory. The jail keeps ``WS/.git/{hooks,config,commondir}``
read-only; everything else (nested repositories, bare ones, submodules' ``.git/modules``) is
checked after the command. Each attack writes a marker when git runs it; the person's git then
runs in the spot and the marker must not appear. Controls: ``git init``/``git clone`` in the jail
still leave a usable repository, and harmless attributes stay.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import uuid
from pathlib import Path

import pytest
import trio

from aios.config import SandboxConfig
from aios.sandbox import Jail

from .conftest import ROOT, needs_bwrap

pytestmark = needs_bwrap

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b -c safe.directory='*'"


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _persons_git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git as the person runs it later: outside the jail, as the test's user (root here)."""
    return subprocess.run(
        ["git", "-c", "safe.directory=*", "-c", "user.name=p", "-c", "user.email=p@p", "-C", str(repo), *args],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": str(repo)},
    )  # fmt: skip


@pytest.fixture
def marker(workspace: Path) -> Path:
    return workspace.parent / f"aios-git-pwned-{uuid.uuid4().hex[:8]}"


async def run(jail: Jail, script: str) -> tuple[int, str, tuple[str, ...]]:
    r = await jail.run(["bash", "-c", f"set -e; {script}"])
    return r.exit_code, r.stderr, r.undone


# A repository with two commits (so that commit, diff and status have something to do).
MKREPO = (f"{G} init -q sub && echo a > sub/f && {G} -C sub add f && {G} -C sub commit -qm 1 && "
          f"echo b > sub/f && {G} -C sub commit -qam 2")  # fmt: skip
HOOK = "printf '#!/bin/sh\\ntouch {m}\\n' > {path} && chmod +x {path}"

# Each: (what the command does, the path that must be undone, how the person's git reaches it).
# The marker path is filled in as {m}.
ATTACKS = {
    "nested repo hook": (
        f"{MKREPO} && " + HOOK.format(m="{m}", path="sub/.git/hooks/post-commit"),
        "sub/.git/hooks/post-commit", ("sub", "commit", "-q", "--allow-empty", "-m", "p")),
    "nested repo fsmonitor": (
        f"{MKREPO} && {G} -C sub config core.fsmonitor 'touch {{m}}; false'",
        "sub/.git/config", ("sub", "status")),
    "hooksPath into the work tree": (
        f"{MKREPO} && mkdir sub/h && " + HOOK.format(m="{m}", path="sub/h/post-commit")
        + f" && {G} -C sub config core.hooksPath h",
        "sub/.git/config", ("sub", "commit", "-q", "--allow-empty", "-m", "p")),
    "bare repository diff driver": (
        f"{MKREPO} && {G} clone -q --bare sub evil.git && {G} -C evil.git config diff.external 'touch {{m}}; true'",
        "evil.git/config", ("evil.git", "diff", "HEAD~1", "HEAD")),
    "gitfile to a planted git dir": (
        f"cp -r .git planted && {G} --git-dir=planted config core.fsmonitor 'touch {{m}}; false' && "
        "mkdir -p sub && echo 'gitdir: ../planted' > sub/.git",
        "planted/config", ("sub", "status")),
    "submodule git dir": (
        f"{MKREPO} && mkdir -p .git/modules && {G} clone -q --bare sub .git/modules/m && "
        f"{G} --git-dir=.git/modules/m config diff.external 'touch {{m}}; true'",
        ".git/modules/m/config", (".git/modules/m", "diff", "HEAD~1", "HEAD")),
    "filter driver in attributes": (
        f"{G} init -q sub && {G} -C sub config filter.x.clean 'touch {{m}}; cat' && "
        "echo '* filter=x' > sub/.gitattributes && echo hi > sub/f",
        "sub/.git/config", ("sub", "add", "f")),
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_planted_git_metadata_is_undone(cfg: SandboxConfig, workspace: Path, marker: Path, name: str) -> None:
    await trio.run_process(["git", "init", "-q", str(workspace)])
    _give_to_jail(workspace / ".git")
    script, path, persons = ATTACKS[name]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    code, stderr, undone = await run(jail, script.format(m=marker))
    assert code == 0, stderr
    assert any(path in u for u in undone), undone
    assert "[aios: undid git metadata" in stderr and path in stderr
    repo, *args = persons
    _persons_git(workspace / repo, *args)
    assert not _exists(marker), f"{name}: the person's git ran the planted program"


async def test_a_changed_config_of_an_existing_nested_repo_is_restored(cfg: SandboxConfig, workspace: Path, marker: Path) -> None:
    sub = workspace / "sub"
    await trio.run_process(["git", "init", "-q", str(sub)])
    await trio.run_process(["git", "-C", str(sub), "config", "user.name", "Person"])
    _give_to_jail(sub)
    before = (sub / ".git" / "config").read_bytes()
    st = (sub / ".git" / "config").stat()
    jail = Jail(cfg, mode="normal", workspace=workspace)
    code, stderr, undone = await run(jail, f"{G} -C sub config core.fsmonitor 'touch {marker}; false'")
    assert code == 0, stderr
    assert undone == ("restored sub/.git/config (git config setting core.fsmonitor)",)
    assert (sub / ".git" / "config").read_bytes() == before
    after = (sub / ".git" / "config").stat()
    assert (after.st_uid, after.st_mode) == (st.st_uid, st.st_mode)
    _persons_git(sub, "status")
    assert not _exists(marker)


async def test_git_init_and_clone_in_the_jail_still_work(cfg: SandboxConfig, workspace: Path) -> None:
    # Control: the everyday use keeps a repository git can use, hook samples, harmless attributes.
    jail = Jail(cfg, mode="normal", workspace=workspace)
    code, stderr, undone = await run(
        jail,
        f"{G} init -q src && echo hi > src/f && {G} -C src add f && {G} -C src commit -qm one && "
        f"{G} clone -q src copy && echo '*.png binary' > copy/.gitattributes && "
        f"{G} -C copy remote add up ../src && {G} -C copy config user.email me@example.org",
    )
    assert code == 0, stderr
    assert undone == (), undone
    assert "undid" not in stderr
    assert (workspace / "copy" / ".gitattributes").exists()
    assert any(p.name.endswith(".sample") for p in (workspace / "copy" / ".git" / "hooks").iterdir())
    log = _persons_git(workspace / "copy", "log", "--oneline")
    assert log.returncode == 0 and "one" in log.stdout
    remotes = _persons_git(workspace / "copy", "remote")
    assert remotes.stdout.split() == ["origin", "up"]


async def test_paranoid_and_host_profile_are_not_walked(cfg: SandboxConfig, workspace: Path) -> None:
    # paranoid's workspace is a tmpfs thrown away; the host profile was approved by a person.
    r = await Jail(cfg, mode="normal", workspace=workspace).run(
        ["bash", "-c", f"{G} init -q sub && printf x > sub/.git/hooks/pre-commit"], profile="host"
    )
    assert r.exit_code == 0 and r.undone == ()
    assert (workspace / "sub" / ".git" / "hooks" / "pre-commit").exists()


def _give_to_jail(*paths: Path) -> None:
    """Make paths the jail's user's own (a tree shared with it)."""
    if ROOT:
        entry = pwd.getpwnam(SandboxConfig().user)
        for p in paths:
            for q in [p, *p.rglob("*")]:
                os.chown(q, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


async def test_a_read_only_run_cannot_write_the_workspace_and_needs_no_walk(cfg: SandboxConfig, workspace: Path, marker: Path) -> None:
    """``readonly=True`` (the git tool's reads): the workspace is bound read-only, so neither a
    file nor git metadata can be written (nothing to undo); a normal run of the same line can."""
    await trio.run_process(["git", "init", "-q", str(workspace)])
    _give_to_jail(workspace)
    jail = Jail(cfg, mode="normal", workspace=workspace)
    line = f"echo x > planted; mkdir -p sub/.git/hooks; {G} -C . config core.fsmonitor 'touch {marker}'"
    ro = await jail.run(["bash", "-c", line], readonly=True)
    assert ro.exit_code != 0 and "Read-only file system" in ro.stderr, ro.stderr
    assert not _exists(workspace / "planted") and not _exists(workspace / "sub")
    assert ro.undone == () and ro.changed == ()
    rw = await jail.run(["bash", "-c", "echo x > planted"])
    assert rw.exit_code == 0 and (workspace / "planted").read_text() == "x\n"


async def test_a_writable_bind_inside_the_workspace_is_still_walked_in_a_read_only_run(workspace: Path, marker: Path) -> None:
    """A configured writable bind inside the workspace stays writable in a read-only run: git
    metadata planted there is undone as after any run."""
    inner = workspace / "data"
    inner.mkdir()
    await trio.run_process(["git", "init", "-q", str(inner / "sub")])
    _give_to_jail(inner)
    cfg = SandboxConfig(output_limit=64 * 1024, extra_binds=[str(inner)])  # type: ignore[arg-type]
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", f"{G} -C data/sub config core.fsmonitor 'touch {marker}; false'"], readonly=True)
    assert r.exit_code == 0, r.stderr
    assert r.undone == ("restored data/sub/.git/config (git config setting core.fsmonitor)",)
    _persons_git(inner / "sub", "status")
    assert not _exists(marker)

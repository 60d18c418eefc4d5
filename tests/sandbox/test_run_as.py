"""``Jail(run_as=…)``: a request from another local user runs as that user (issue 13, C).

Before, every jailed command ran as the sandbox user and the host profile as root, whoever asked:
a second local uid allowed on the socket got the sandbox user's access and root's host profile.
Now the jail, the host profile and trusted mode run as the requester, with their own groups, and
no ACL is ever granted on their behalf. The test creates a real throwaway user and deletes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aios.config import SandboxConfig
from aios.errors import SandboxError
from aios.sandbox import Identity, Jail

from .conftest import ROOT, needs_bwrap

pytestmark = [needs_bwrap, pytest.mark.skipif(not ROOT, reason="creating a user needs root")]


@pytest.fixture
def person() -> Iterator[Identity]:
    """A throwaway local user (deleted afterwards, with their group)."""
    name = f"aios-t{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        import pwd

        entry = pwd.getpwnam(name)
        yield Identity.for_uid(entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture
def their_workspace(person: Identity) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aios-ws", dir="/tmp"))
    os.chown(d, person.uid, person.gid)
    d.chmod(0o700)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


def _owner(path: Path) -> int:
    return path.stat().st_uid


def _acl(path: Path) -> str:
    return subprocess.run(["getfacl", "-cp", str(path)], capture_output=True, text=True).stdout


def _named_users(path: Path) -> list[str]:
    return [line for line in _acl(path).splitlines() if line.startswith("user:") and not line.startswith("user::")]


async def test_the_jail_runs_as_the_requester(cfg: SandboxConfig, person: Identity, their_workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=their_workspace, run_as=person)
    r = await jail.run(["bash", "-c", "id -u; id -g; echo hi > made"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split() == [str(person.uid), str(person.gid)]
    assert _owner(their_workspace / "made") == person.uid
    # Control: without run_as the same jail is the sandbox user's, who cannot enter this 0700
    # directory, so the runner would grant it ACLs; for the requester it never does.
    assert _named_users(their_workspace) == []


async def test_the_requester_reads_only_what_they_could_read_alone(
    cfg: SandboxConfig, person: Identity, their_workspace: Path, outside: Path, workspace: Path
) -> None:
    (outside / "root-only").write_text("ROOT SECRET")
    (outside / "root-only").chmod(0o600)
    (outside / "theirs").write_text("THEIR NOTE")
    os.chown(outside / "theirs", person.uid, person.gid)
    (outside / "theirs").chmod(0o600)
    jail = Jail(cfg, mode="normal", workspace=their_workspace, run_as=person)
    r = await jail.run(["bash", "-c", f"cat {outside}/root-only; cat {outside}/theirs"])
    assert "ROOT SECRET" not in r.stdout and "THEIR NOTE" in r.stdout
    # Control: the sandbox user (the owner's jail) reads neither: the difference is the uid.
    sandbox = await Jail(cfg, mode="normal", workspace=workspace).run(["cat", str(outside / "theirs")])
    assert "THEIR NOTE" not in sandbox.stdout


@pytest.mark.parametrize("mode", ["normal", "trusted"])
async def test_host_profile_and_trusted_mode_run_as_the_requester_not_root(
    cfg: SandboxConfig, person: Identity, their_workspace: Path, mode: str
) -> None:
    marker = f"/etc/aios-run-as-{uuid.uuid4().hex[:8]}"
    jail = Jail(cfg, mode=mode, workspace=their_workspace, run_as=person)
    try:
        r = await jail.run(["bash", "-c", f"id -u; echo $USER $HOME; touch {marker}"], profile="host")
        assert r.stdout.split()[0] == str(person.uid)
        assert r.stdout.split()[1] == person.name  # their environment, not the daemon's
        assert r.exit_code != 0 and "Permission denied" in r.stderr
        assert not _exists(marker)
    finally:
        _remove(marker)


async def test_a_workspace_the_requester_cannot_write_is_refused_without_granting(
    cfg: SandboxConfig, person: Identity, workspace: Path
) -> None:
    _chmod(workspace, 0o755)  # root's, readable but not writable by them
    before = _acl(workspace)
    with pytest.raises(SandboxError, match="cannot write the workspace"):
        await Jail(cfg, mode="normal", workspace=workspace, run_as=person).run(["true"])
    assert _acl(workspace) == before


async def test_the_daemons_own_uid_is_the_sandbox_user(cfg: SandboxConfig, workspace: Path) -> None:
    # A requester who is the daemon's own user is no one else: never a jail running as root.
    jail = Jail(cfg, mode="normal", workspace=workspace, run_as=Identity.for_uid(os.geteuid()))
    r = await jail.run(["id", "-un"])
    assert r.stdout.strip() == cfg.user

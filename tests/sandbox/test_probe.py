"""probe(): starts a real jail to decide, explains failures (used by `aios doctor`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aios.config import SandboxConfig
from aios.errors import SandboxUnavailable
from aios.sandbox import Jail, SandboxStatus, probe
from aios.sandbox._access import Identity
from aios.sandbox._probe import diagnose

from .conftest import ROOT, needs_bwrap


@needs_bwrap
def test_usable_here() -> None:
    status = probe(SandboxConfig())
    assert status.usable and status.seccomp
    assert status.bwrap is not None and status.bwrap.endswith("bwrap")
    assert status.version is not None and status.version[0].isdigit()
    assert status.reason is None and status.fix is None
    assert probe(SandboxConfig()) is status  # cached per process
    assert json.loads(json.dumps(status.to_json())) == {
        "usable": True, "bwrap": status.bwrap, "version": status.version,
        "reason": None, "fix": None, "seccomp": True,
    }  # fmt: skip


def test_missing_bwrap() -> None:
    status = probe(SandboxConfig(bwrap="aios-no-such-bwrap"))
    assert status == SandboxStatus(False, None, None, status.reason, status.fix, False)
    assert "not found" in (status.reason or "")
    assert "apt-get install bubblewrap" in (status.fix or "")


def test_bwrap_that_cannot_start_a_jail(workspace: Path) -> None:
    fake = workspace / "bwrap"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'bubblewrap 0.8.0' && exit 0\n"
                    "echo 'bwrap: No permissions to create new namespace' >&2; exit 1\n")  # fmt: skip
    fake.chmod(0o755)
    workspace.chmod(0o755)  # the sandbox user runs it
    status = probe(SandboxConfig(bwrap=str(fake)))
    assert not status.usable
    assert status.version == "0.8.0"
    assert "No permissions to create new namespace" in (status.reason or "")
    assert status.fix


@pytest.mark.skipif(not ROOT, reason="the sandbox user matters only for a root daemon")
async def test_missing_sandbox_user(tmp_path: Path) -> None:
    cfg = SandboxConfig(user="aios-no-such-user")
    status = probe(cfg)
    assert not status.usable and "useradd" in (status.reason or "")
    with pytest.raises(SandboxUnavailable, match="useradd"):
        await Jail(cfg, mode="safe", workspace=tmp_path).run(["true"])


IDENT = Identity(995, 994, (994,), "aios-sandbox", True)


@pytest.mark.parametrize(
    ("stderr", "expect"),
    [
        ("bwrap: Unknown option --disable-userns", "upgrade bubblewrap"),
        ("bwrap: Can't mount proc on /newroot/proc: Operation not permitted", "unmask=/proc"),
        ("bwrap: setting up uid map: Permission denied", "aios-sandbox"),
    ],
)
def test_diagnose(stderr: str, expect: str) -> None:
    reason, fix = diagnose(stderr, IDENT)
    assert stderr.splitlines()[-1] in reason
    assert expect in reason + fix

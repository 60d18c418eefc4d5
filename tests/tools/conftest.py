"""Fixtures for the tool tests: short scratch directories and a real throwaway user."""

from __future__ import annotations

import grp
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from toolctx import User


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short temporary directory (removed afterwards), reachable by every user."""
    root = Path(tempfile.mkdtemp(prefix="aios-ft", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside the workspace and outside /tmp, like a system path."""
    Path("/srv").mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="aios-fo", dir="/srv"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def throwaway_user() -> Iterator[User]:
    """A real local user (and a supplementary group of theirs), deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    name, group = f"aiosft{tag}", f"aiosftg{tag}"
    subprocess.run(["groupadd", group], check=True)
    try:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", group, name], check=True)
        try:
            entry = pwd.getpwnam(name)
            yield User(name, entry.pw_uid, entry.pw_gid, group, grp.getgrnam(group).gr_gid)
        finally:
            subprocess.run(["userdel", name], check=False)
    finally:
        subprocess.run(["groupdel", group], check=False)

"""Shared fixtures: an isolated environment, a real daemon process per test, throwaway local users."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from collections.abc import Callable, Iterator

import pytest

from harness import Daemon, Env, make_env, remove_env


@pytest.fixture
def env() -> Iterator[Env]:
    e = make_env()
    try:
        yield e
    finally:
        remove_env(e)


@pytest.fixture
def daemon(env: Env) -> Iterator[Daemon]:
    d = env.start_daemon()
    try:
        yield d
    finally:
        d.kill()

@pytest.fixture
def make_user() -> Iterator[Callable[[], pwd.struct_passwd]]:
    """Create real local users for one test (needs root); ``userdel`` them afterwards, always."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root to create a second local user (CI runs as root)")
    made: list[str] = []

    def make() -> pwd.struct_passwd:
        name = f"aios-t{secrets.token_hex(3)}"
        subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        made.append(name)
        return pwd.getpwnam(name)

    try:
        yield make
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def other_user(make_user: Callable[[], pwd.struct_passwd]) -> pwd.struct_passwd:
    """One real local user who is not the daemon's owner."""
    return make_user()

"""Fixtures of the red-team tests: throwaway local users (created and always deleted)."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def make_user() -> Iterator[Callable[[], pwd.struct_passwd]]:
    """Real throwaway local users (needs root); always deleted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root to create a second local user")
    made: list[str] = []

    def make() -> pwd.struct_passwd:
        name = f"aios-r{secrets.token_hex(3)}"
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
    return make_user()

"""The client's fast socket lookup agrees with the full config loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.client import user_socket
from aios.config import load


@pytest.mark.parametrize(
    ("extra", "user_toml"),
    [
        ({}, ""),
        ({"XDG_RUNTIME_DIR": "/run/user/4242"}, ""),
        ({"AIOS_PATHS__RUNTIME_DIR": "/tmp/rt-x"}, ""),
        ({"AIOS_PATHS__SOCKET": "/tmp/explicit.sock"}, ""),
        ({}, '[paths]\nruntime_dir = "/tmp/from-file"\n'),
        ({}, '[paths]\nsocket = "~/s.sock"\n'),
        ({"AIOS_PATHS__RUNTIME_DIR": "/tmp/env-wins"}, '[paths]\nruntime_dir = "/tmp/from-file"\n'),
    ],
)
def test_client_and_loader_agree(tmp_path: Path, extra: dict[str, str], user_toml: str) -> None:
    user = tmp_path / "user.toml"
    user.write_text(user_toml)
    env = {"HOME": str(tmp_path / "home"), "AIOS_CONFIG": str(user), "AIOS_SYSTEM_CONFIG": str(tmp_path / "none.toml"), **extra}
    assert user_socket(env) == load(environ=env).paths.socket


def test_file_socket_beats_env_runtime_dir(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[paths]\nsocket = "/tmp/file.sock"\n')
    env = {"HOME": str(tmp_path), "AIOS_CONFIG": str(user), "AIOS_SYSTEM_CONFIG": str(tmp_path / "none"), "AIOS_PATHS__RUNTIME_DIR": "/tmp/envdir"}
    assert user_socket(env) == load(environ=env).paths.socket == Path("/tmp/file.sock")

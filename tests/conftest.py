"""Shared fixtures: an isolated environment and a real daemon process per test."""

from __future__ import annotations

from collections.abc import Iterator

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

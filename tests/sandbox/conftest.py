"""Fixtures for the sandbox tests: real bwrap, real processes, short directories.

Directories meant to be *hidden* by the jail live outside /tmp, /var/tmp, /run and /root (which
every jail replaces with an empty tmpfs anyway), so that the hiding itself is what is tested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aios.config import SandboxConfig
from aios.sandbox import probe

STATUS = probe(SandboxConfig())
ROOT = os.geteuid() == 0

needs_bwrap = pytest.mark.skipif(
    not STATUS.usable, reason=f"bubblewrap cannot start a jail here: {STATUS.reason} ({STATUS.fix})"
)


@pytest.fixture
def cfg() -> SandboxConfig:
    return SandboxConfig(output_limit=64 * 1024)  # type: ignore[arg-type]


@pytest.fixture
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aios-ws", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _outside_base() -> str | None:
    for base in ("/srv", "/opt", "/mnt"):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            return base
    return None


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory that the jail does not cover with a tmpfs, readable by everyone."""
    base = _outside_base()
    if base is None:
        pytest.skip(
            "no writable directory outside /tmp, /run and /root (needs root, or a writable /srv)"
        )
    path = Path(tempfile.mkdtemp(prefix="aios-out", dir=base))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

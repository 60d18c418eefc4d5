"""Podman for the admin benchmarks: the engine's environment, the project's images, and
containers that are always removed (also on Ctrl-C, SIGTERM or a failure)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
CONF = str(REPO / "containers" / "containers.conf")
IMAGE = os.environ.get("AIOS_IMAGE", "localhost/aios:latest")


def podman_env() -> dict[str, str]:
    """Podman 4.3 from Debian needs the project's containers.conf here (docs/containers.md)."""
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", CONF)}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``podman ARGS``; RuntimeError with podman's last line when it fails and ``check``."""
    proc = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(f"podman {' '.join(args[:2])} failed: {tail[-1] if tail else f'exit {proc.returncode}'}")
    return proc


def image_problem(image: str = IMAGE) -> str | None:
    """Why containers of ``image`` cannot be run here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    if os.geteuid() != 0:
        return "needs root (the project's images are in root's podman storage)"
    if podman("image", "exists", image, check=False).returncode != 0:
        return f"the image {image} is not built (containers/build-image.sh makes it)"
    return None


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """A signal handler: end the run as Ctrl-C does, so every ``finally`` runs."""
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def container(image: str, options: list[str], command: list[str] | None = None, prefix: str = "aios-bench") -> Iterator[str]:
    """A detached container (``podman run -d OPTIONS IMAGE COMMAND``); yields its name and removes it with its
    anonymous volumes afterwards, whatever happened (SIGTERM is turned into an exception so the
    removal runs then too)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        podman("run", "-d", "--name", name, "--label", "aios-benchmark=1", *options, image, *(command or []), timeout=300)
        yield name
    finally:
        podman("rm", "-f", "-v", "-t", "0", name, check=False, timeout=120)
        signal.signal(signal.SIGTERM, previous)

"""Helpers shared by the benchmarks: an isolated environment, a real daemon, statistics."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    """Milliseconds of each of ``reps`` calls of ``fn``."""
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def timed_ms(fn, inputs: list[str], reps: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds of each ``fn(x)`` call, for every input, ``reps`` times over."""
    out = []
    for _ in range(reps):
        for x in inputs:
            t = time.perf_counter()
            fn(x)
            out.append((time.perf_counter() - t) * 1000)
    return out


def line(name: str, value: float, unit: str, baseline: str | None = None, base_value: float | None = None, goal: str | None = None) -> None:
    """Print one figure beside its baseline: ``name: value unit   baseline b: v unit   ratio r``."""
    text = f"{name}: {value:.3f} {unit}"
    if baseline is not None and base_value is not None:
        text += f"   baseline {baseline}: {base_value:.3f} {unit}   ratio {value / base_value:.2f}x"
    if goal:
        text += f"   (goal: {goal})"
    print(text, flush=True)


def isolated_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOS_")}
    (root / "home").mkdir(exist_ok=True)
    env.update(
        HOME=str(root / "home"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "st"),
        XDG_RUNTIME_DIR=str(root / "xrt"),
        AIOS_SYSTEM_CONFIG=str(root / "system.toml"),
        AIOS_CONFIG=str(root / "user.toml"),
        AIOS_PATHS__STATE_DIR=str(root / "state"),
        AIOS_PATHS__RUNTIME_DIR=str(root / "run"),
        AIOS_PATHS__WORKSPACE=str(root / "workspace"),
        AIOS_DAEMON__AUTOSTART="false",
    )
    (root / "workspace").mkdir(exist_ok=True)
    return env


@contextmanager
def running_daemon(extra_env: dict[str, str] | None = None, cpu: int | None = None) -> Iterator[tuple[Path, dict[str, str]]]:
    """A real aios-runtime in a temporary environment; yields (socket path, environment).

    ``cpu`` pins the daemon to that CPU (when the machine has it).
    """
    root = Path(tempfile.mkdtemp(prefix="aios-b", dir="/tmp"))
    env = {**isolated_env(root), **(extra_env or {})}
    sock = root / "run" / "aios.sock"
    proc = subprocess.Popen([str(BIN / "aios-runtime")], env=env, stdout=subprocess.DEVNULL, stderr=open(root / "log", "wb"))
    if cpu is not None and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(proc.pid, {cpu})
    try:
        wait_socket(sock, proc)
        yield sock, env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def wait_socket(path: Path, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(path))
            s.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {path}")

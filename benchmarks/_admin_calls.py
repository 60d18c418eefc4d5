"""Timing a typed tool's read action through the daemon beside the command it runs.

Shared by bench_admin.py (on the host) and _admin_systemd.py (inside a container whose PID 1 is
systemd). Only the standard library and ``aios.client``: it also runs with the container's Python.

The baseline is the command line the daemon recorded for the call (the subject of its memory
record, ``TOOL ACTION: LINE``), run directly with the same clean environment — so it stays the
tool's own argv when the tool changes, rather than a copy kept here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any, NamedTuple

from _common import timed

from aios.client import Client

ENV = {"LANG": "C", "LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


class Case(NamedTuple):
    """One figure: the call through the daemon beside a baseline."""

    name: str
    via_tool: Callable[[], Any]
    own: Callable[[], Any]
    baseline: str = "the backend run directly"


def interleaved(a: Callable[[], Any], b: Callable[[], Any], reps: int) -> tuple[list[float], list[float]]:
    """Both timed in turn, ``reps`` times each: a load spike on a shared machine hits both alike."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(reps):
        ta += timed(a, 1)
        tb += timed(b, 1)
    return ta, tb


def direct(argv: list[str], env: dict[str, str] | None = None, cwd: str = "/") -> Callable[[], Any]:
    """``argv`` run directly (no shell), output captured, as the tool's backend runs it."""
    full = {**ENV, **(env or {})}
    return lambda: subprocess.run(argv, capture_output=True, env=full, cwd=cwd, check=False)


def warm(name: str, via_tool: Callable[[], Any], own: Callable[[], Any]) -> None:
    """One untimed run of each; SystemExit when the baseline failed (its time would mean nothing)."""
    via_tool()
    res = own()
    code = getattr(res, "returncode", getattr(res, "exit_code", 0))
    if code != 0:
        err = getattr(res, "stderr", b"")
        tail = (err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)).strip().splitlines()
        raise SystemExit(f"{name}: the baseline failed (exit {code}): {tail[-1] if tail else 'no output'}")


class Tools:
    """Read actions through one persistent connection to a daemon."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        """One ``tools.call``; SystemExit naming the call when it did not succeed."""
        res: dict[str, Any] = self.client.call("tools.call", {"tool": tool, "arguments": args})
        if not res["ok"]:
            raise SystemExit(f"{tool} {json.dumps(args)} failed: {res['error'] or res['output'][-500:]}")
        return res

    def caller(self, tool: str, args: dict[str, Any]) -> Callable[[], Any]:
        return lambda: self.call(tool, args)

    def recorded_argv(self, tool: str, args: dict[str, Any]) -> list[str]:
        """The command line the daemon judged and recorded for this call (one call, untimed)."""
        res = self.call(tool, args)
        memory = self.client.call("memory.get", {"id": res["metadata"]["memory_id"]})
        subject: str = memory["content"]
        return shlex.split(subject.split(": ", 1)[1])

"""One jailed `true` through Jail.run, beside the same `bwrap … true` argv (same seccomp filter,
same user) run directly with subprocess, and beside plain `true`, interleaved in one run.
Goal: the runner adds at most 3 ms over raw bwrap."""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from _common import line, p50, percentile

from aios.config import SandboxConfig
from aios.sandbox import (  # the raw baseline rebuilds the runner's argv by hand
    Jail,
    _limits,
    _seccomp,
    probe,
)


def raw_kwargs(cfg: SandboxConfig) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(cfg.user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def run_raw(jail: Jail, kwargs: dict[str, Any]) -> float:
    fd = _seccomp.filter_fd()
    try:
        argv = jail.argv(["true"], seccomp_fd=fd)
        t0 = time.perf_counter()
        subprocess.run(argv, pass_fds=(fd,), cwd="/", check=True, stdin=subprocess.DEVNULL, capture_output=True, **kwargs)
        return (time.perf_counter() - t0) * 1e3
    finally:
        os.close(fd)


def run_plain() -> float:
    t0 = time.perf_counter()
    subprocess.run(["true"], check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return (time.perf_counter() - t0) * 1e3


async def run_jail(jail: Jail) -> float:
    t0 = time.perf_counter()
    r = await jail.run(["true"])
    elapsed = (time.perf_counter() - t0) * 1e3
    if r.exit_code != 0:
        raise RuntimeError(f"jailed true failed: {r.stderr}")
    return elapsed


async def bench(rounds: int, per_round: int, workspace: Path) -> None:
    cfg = SandboxConfig()
    status = probe(cfg)
    if not status.usable:
        print(f"bubblewrap cannot start a jail here: {status.reason} ({status.fix})", file=sys.stderr)
        raise SystemExit(1)
    jail = Jail(cfg, mode="normal", workspace=workspace)
    kwargs = raw_kwargs(cfg)
    await run_jail(jail)  # warm-up: probe cache, workspace ACL, filter built
    run_raw(jail, kwargs)
    res: dict[str, list[float]] = {"jail": [], "raw": [], "plain": []}
    diffs: list[float] = []
    for _ in range(rounds):
        j = [await run_jail(jail) for _ in range(per_round)]
        r = [run_raw(jail, kwargs) for _ in range(per_round)]
        res["plain"] += [run_plain() for _ in range(per_round)]
        res["jail"] += j
        res["raw"] += r
        diffs.append(p50(j) - p50(r))
    jail_ms, raw_ms, plain_ms = res["jail"], res["raw"], res["plain"]
    print(f"jailed `true` (normal mode, seccomp {'on' if status.seccomp else 'off'}): "
          f"{rounds} interleaved rounds x {per_round} runs, p50")  # fmt: skip
    if os.geteuid() == 0 and not _limits._can_prlimit_others():
        how = "prlimit(1) exec'd before bwrap (root without CAP_SYS_RESOURCE)" if _limits._prlimit_argv(_limits._limits(cfg)) else "preexec setrlimit (root without CAP_SYS_RESOURCE, no prlimit binary)"
    else:
        how = "prlimit(2) between bwrap's --info-fd and --block-fd"
    print(f"rlimits set by: {how}")
    line("Jail.run true p50", p50(jail_ms), "ms", "raw bwrap argv via subprocess", p50(raw_ms))
    line("Jail.run true p50", p50(jail_ms), "ms", "plain true", p50(plain_ms))
    line("runner overhead over raw bwrap (p50 difference)", p50(jail_ms) - p50(raw_ms), "ms", goal="at most 3 ms")
    print(f"median of per-round differences: {p50(diffs):.3f} ms (rounds: {', '.join(f'{d:.2f}' for d in diffs)})")
    print(f"p99: Jail.run {percentile(jail_ms, 99):.2f} ms, raw bwrap {percentile(raw_ms, 99):.2f} ms, "
          f"plain {percentile(plain_ms, 99):.2f} ms")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds, per_round = (2, 10) if args.quick else (10, 40)
    workspace = Path(tempfile.mkdtemp(prefix="aios-bs", dir="/tmp"))
    try:
        trio.run(bench, rounds, per_round, workspace)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    main()

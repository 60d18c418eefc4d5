"""Typed admin tools: each read action (and packages plan) through the daemon, beside the backend's
own command run directly in the same run.

The tool's figure includes the whole pipeline: the RPC, the policy verdict on the line it runs,
the record in memory, parsing the backend's output (and, for git in the workspace, the jail).
Goal: within 1.2x the backend's own time plus 20 ms. Services need systemd as PID 1; on a host
without it the figure is reported as not measurable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import line, p50, running_daemon

from aios.client import Client

ENV = {"LANG": "C", "LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
CONF = str(Path(__file__).resolve().parent.parent / "containers" / "containers.conf")


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def direct(argv: list[str], cwd: str = "/") -> Callable[[], Any]:
    env = {**ENV, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", CONF)}
    return lambda: subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)


def _cached_baseline(pkg: str, via_tool: Callable[[], Any], cache_dir: str) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    """Where the host's apt config turns apt's binary cache off (the tool then keeps one of its
    own), the plan again beside apt-get -s given a binary cache the same way: both benefit."""
    out = subprocess.run(["apt-config", "shell", "P", "Dir::Cache::pkgcache"], capture_output=True, text=True).stdout
    if out.strip() != "P=''":
        print("packages plan: the host's apt keeps its own binary cache (no second baseline)", flush=True)
        return []
    opts = ["-o", f"Dir::Cache::pkgcache={cache_dir}/pkgcache.bin", "-o", f"Dir::Cache::srcpkgcache={cache_dir}/srcpkgcache.bin"]
    return [(f"packages plan install {pkg} (baseline: apt-get -s with the same binary cache)", via_tool,
             direct(["apt-get", *opts, "-s", "-q", "install", pkg]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    reps = 3 if ap.parse_args().quick else 15
    extra = {"CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", CONF)}
    with running_daemon(extra) as (sock, env), tempfile.TemporaryDirectory(prefix="aios-bapt") as cache_dir:
        ws = Path(env["AIOS_PATHS__WORKSPACE"])
        client = Client.connect(sock, timeout=300)

        def tool(name: str, args: dict[str, Any]) -> Callable[[], Any]:
            def call() -> Any:
                res = client.call("tools.call", {"tool": name, "arguments": args})
                if not res["ok"]:
                    raise SystemExit(f"{name} {json.dumps(args)} failed: {res['error']}")
                return res
            return call

        client.call("tools.call", {"tool": "bash", "arguments": {"command": "git init -q && git -c safe.directory='*' -c user.name=b -c user.email=b@b commit -q --allow-empty -m b"}})
        pkg = next((n for n in ("sl", "cowsay", "figlet") if subprocess.run(["apt-cache", "show", n], capture_output=True).returncode == 0), "bash")
        cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
            ("packages list_installed bash", tool("packages", {"action": "list_installed", "names": ["bash"]}),
             direct(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Status}\n", "bash"])),
            (f"packages plan install {pkg}", tool("packages", {"action": "plan", "install": [pkg]}),
             direct(["apt-get", "-s", "-q", "install", pkg])),
            *_cached_baseline(pkg, tool("packages", {"action": "plan", "install": [pkg]}), cache_dir),
            ("git status (tool runs it in the jail)", tool("git", {"action": "status"}),
             direct(["git", "-c", "safe.directory=*", "status", "--porcelain=v1", "--branch"], cwd=str(ws))),
        ]
        if shutil.which("podman") or shutil.which("docker"):
            engine = "podman" if shutil.which("podman") else "docker"
            cases.append(("containers list", tool("containers", {"action": "list"}), direct([engine, "ps", "--all", "--format", "json"])))
        for name, via_tool, own in cases:
            via_tool()
            own()
            t, b = p50(timed(via_tool, reps)), p50(timed(own, reps))
            line(f"{name}: p50 through aios", t, "ms", "the backend run directly", b,
                 goal=f"<= 1.2x + 20 ms = {1.2 * b + 20:.1f} ms")
        if not Path("/run/systemd/system").is_dir():
            print("services status: not measurable here (systemd is not PID 1 on this host)", flush=True)
        client.close()


if __name__ == "__main__":
    sys.exit(main())

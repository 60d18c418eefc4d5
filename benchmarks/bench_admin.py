"""Typed admin tools: every read action (and packages plan) through the daemon, beside the
backend's own command run directly in the same run.

The tool's figure includes the whole pipeline: the RPC, the policy verdict on the line it runs,
the record in memory, parsing the backend's output (and, for git in the workspace, the jail). The
baseline is the command line the daemon recorded for the call, run directly (for git with the
settings the tool adds when it runs it). Both are timed in turn, several times, and the p50s
compared. Goal: within 1.2x the backend's own time plus 20 ms.

- packages, git: on this host; containers: a container of the project's image (when podman and
  the image are here), removed afterwards;
- services: systemd is not PID 1 on most hosts running this, so they are measured inside a Podman
  container whose PID 1 is systemd, with an aios daemon in it (_admin_systemd.py); when podman or
  the image is missing, one line says so.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import _admin_systemd
import trio
from _admin_calls import Case, Tools, direct, interleaved, warm
from _admin_podman import IMAGE, container, image_problem, podman_env, raise_interrupt
from _common import line, p50, running_daemon

from aios.client import Client
from aios.config import SandboxConfig
from aios.sandbox import Jail
from aios.tools._git import IN_JAIL, SAFE

SYSTEMD_HERE = Path("/run/systemd/system").is_dir()
GIT = "git -c safe.directory='*' -c user.name=b -c user.email=b@b"
GIT_SETUP = (f"{GIT} init -q && for i in 1 2 3 4 5; do seq 1 $((i * 400)) > f$i.txt && {GIT} add -A"
             f" && {GIT} commit -q -m \"commit $i\"; done && {GIT} branch topic && seq 1 2000 | sed 's/7/seven/' > f5.txt")


def report(name: str, tool_ms: list[float], own_ms: list[float], baseline: str = "the backend run directly") -> None:
    t, b = p50(tool_ms), p50(own_ms)
    line(f"{name}: p50 through aios", t, "ms", baseline, b, goal=f"<= 1.2x + 20 ms = {1.2 * b + 20:.1f} ms")


def apt_cache_opts(cache_dir: str) -> list[str] | None:
    """Where the host's apt config turns apt's binary cache off, the tool keeps one of its own: the
    options that give the baseline a binary cache the same way (None when apt keeps its own)."""
    if shutil.which("apt-config") is None:
        return None
    out = subprocess.run(["apt-config", "shell", "P", "Dir::Cache::pkgcache"], capture_output=True, text=True).stdout
    if out.strip() != "P=''":
        return None
    return ["-o", f"Dir::Cache::pkgcache={cache_dir}/pkgcache.bin", "-o", f"Dir::Cache::srcpkgcache={cache_dir}/srcpkgcache.bin"]


def package_cases(tools: Tools, cache_dir: str) -> list[Case]:
    # A small package the configured sources offer (asked through the tool: any backend).
    pkg = next((n for n in ("sl", "cowsay", "figlet")
                if tools.client.call("tools.call", {"tool": "packages", "arguments": {"action": "info", "names": [n]}})["ok"]), "bash")
    opts = apt_cache_opts(cache_dir)
    if opts is None:
        print("packages: no second baseline (apt keeps its own binary cache here, or this is not apt)", flush=True)
    cases: list[Case] = []
    for name, args in ((f"packages search {pkg}", {"action": "search", "query": pkg}),
                       (f"packages info {pkg}", {"action": "info", "names": [pkg]}),
                       ("packages list_installed bash", {"action": "list_installed", "names": ["bash"]}),
                       (f"packages plan install {pkg}", {"action": "plan", "install": [pkg]})):
        argv = tools.recorded_argv("packages", args)
        cases.append(Case(name, tools.caller("packages", args), direct(argv)))
        if opts is not None and argv[0] in ("apt-get", "apt-cache"):
            cases.append(Case(name, tools.caller("packages", args), direct([argv[0], *opts, *argv[1:]]),
                              f"{argv[0]} with the same binary cache"))
    return cases


def git_cases(tools: Tools, env: dict[str, str]) -> list[Case]:
    """Each git read beside git alone and beside the same git in the same jail without the daemon
    (Jail.run in this process, as the daemon builds it): what the jail costs, and what is left."""
    ws = Path(env["AIOS_PATHS__WORKSPACE"])
    tools.call("bash", {"command": GIT_SETUP})
    jail = Jail(SandboxConfig(), mode="normal", workspace=ws, home=Path(env["HOME"]),
                hidden=[Path(env["AIOS_PATHS__STATE_DIR"]), Path(env["AIOS_PATHS__RUNTIME_DIR"])])
    cases: list[Case] = []
    for name, args in (("git status", {"action": "status"}), ("git diff", {"action": "diff"}),
                       ("git log", {"action": "log"}), ("git show", {"action": "show"}),
                       ("git branch", {"action": "branch"})):
        argv = tools.recorded_argv("git", args)
        # What the tool runs for a read in the workspace (aios.tools._git.GitTool._git): the
        # recorded line with the settings it adds, in a jail whose workspace is read-only.
        run = [argv[0], *SAFE, "--no-optional-locks", *IN_JAIL, *argv[1:]]
        genv = {"GIT_CONFIG_GLOBAL": "/dev/null"}
        cases.append(Case(f"{name} (the tool runs it in the jail)", tools.caller("git", args), direct(run, env=genv, cwd=str(ws))))
        cases.append(Case(f"{name} (the tool runs it in the jail)", tools.caller("git", args),
                          functools.partial(trio.run, functools.partial(jail.run, run, profile="jail", readonly=True, env=genv)),
                          "the same git in the same jail, without the daemon"))
    return cases


@contextmanager
def container_cases(tools: Tools) -> Iterator[list[Case]]:
    """containers list, and inspect and logs of a container of the project's image that wrote 300
    lines (removed when the block ends)."""
    engine = "podman" if shutil.which("podman") else "docker" if shutil.which("docker") else None
    if engine is None:
        print("containers: not measurable here (neither podman nor docker is installed)", flush=True)
        yield []
        return
    env = {"CONTAINERS_CONF": podman_env()["CONTAINERS_CONF"]}
    cases: list[Case] = [Case("containers list", tools.caller("containers", {"action": "list"}),
                              direct(tools.recorded_argv("containers", {"action": "list"}), env))]
    why = image_problem(IMAGE) if engine == "podman" else "docker: the project's image is built for podman"
    if why is not None:
        print(f"containers inspect, logs: not measurable here ({why})", flush=True)
        yield cases
        return
    with container(IMAGE, ["--network", "none", "--entrypoint", "/bin/sh"], ["-c", "seq 1 300; exec sleep infinity"]) as name:
        for action in ("inspect", "logs"):
            args = {"action": action, "name": name}
            cases.append(Case(f"containers {action}", tools.caller("containers", args),
                              direct(tools.recorded_argv("containers", args), env)))
        yield cases


def services(reps: int, quick: bool) -> None:
    """Services in a container whose PID 1 is systemd (on a host where it is, they were measured
    with the other tools)."""
    if SYSTEMD_HERE:
        return
    try:
        results, note = _admin_systemd.measure(reps, build=not quick)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"services: not measured ({exc})", flush=True)
        return
    if not results:
        print(f"services: not measurable here ({note})", flush=True)
        return
    print(f"services: inside a Podman container whose PID 1 is systemd ({note})", flush=True)
    for r in results:
        report(f"{r['name']} (in the container)", r["tool"], r["direct"], "the same command run directly there")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    quick = ap.parse_args().quick
    reps = 3 if quick else 15
    print(f"each figure: p50 of {reps} calls through the daemon and {reps} of the baseline, timed in turn", flush=True)
    with ExitStack() as stack:
        sock, env = stack.enter_context(running_daemon({"CONTAINERS_CONF": podman_env()["CONTAINERS_CONF"]}))
        cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="aios-bapt"))
        client = Client.connect(sock, timeout=300)
        stack.callback(client.close)
        tools = Tools(client)
        cases = [*package_cases(tools, cache_dir), *git_cases(tools, env),
                 *stack.enter_context(container_cases(tools))]
        if SYSTEMD_HERE:
            print("services: on this host (systemd is PID 1 here)", flush=True)
            cases += _admin_systemd.service_cases(tools, "systemd-journald", " (100 lines)")
        for name, via_tool, own, baseline in cases:
            warm(name, via_tool, own)
            report(name, *interleaved(via_tool, own, reps), baseline)
    services(reps, quick)


if __name__ == "__main__":
    os.environ.setdefault("CONTAINERS_CONF", podman_env()["CONTAINERS_CONF"])
    signal.signal(signal.SIGTERM, raise_interrupt)  # so the daemon and containers are cleaned up then too
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench_admin: interrupted (its daemon and containers were removed)", file=sys.stderr)
        sys.exit(130)

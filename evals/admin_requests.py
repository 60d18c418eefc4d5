#!/usr/bin/env python3
"""Twenty plain admin requests against a provider: valid tool calls, sensible commands, time.

    .venv/bin/python evals/admin_requests.py                  # the provider aios would choose
    .venv/bin/python evals/admin_requests.py --config F.toml  # e.g. [llm] pointing at Ollama
    .venv/bin/python evals/admin_requests.py --json           # one JSON document
    .venv/bin/python evals/admin_requests.py --no-typed       # bash/read/write/list only

Each request gets one model call with the same system prompt and tools as the daemon's chat.
"valid" means the reply is a call of a registered tool whose arguments pass its schema;
"sensible" means the command matches what an administrator would run for that request (a
pattern per request below: several accepted answers, not one). Nothing is executed.

The typed admin tools (packages, services, containers, git) are offered unless --no-typed; the
TYPED requests are answered sensibly either by the typed tool and action named beside them or by
a bash line matching the pattern. Run it both ways to compare (docs/tools.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import trio

from aios.agent import EmbeddedServer, ToolSpec, make_provider, select_provider, system_prompt
from aios.agent._loop import check_arguments
from aios.agent._messages import Done, Message
from aios.agent._prompt import few_shot
from aios.config import load
from aios.tools import ToolRegistry

REQUESTS: list[tuple[str, str]] = [
    ("List the files in the current directory.", r"\bls\b|\bfind\b|\btree\b"),
    ("How much disk space is free?", r"\bdf\b"),
    ("How much memory is free?", r"\bfree\b|/proc/meminfo|\bvmstat\b|\btop\b"),
    ("Which process is listening on port 22?", r"\bss\b|\bnetstat\b|\blsof\b|\bfuser\b"),
    ("Show the status of the ssh service.", r"systemctl\s+status|\bservice\b.*status"),
    ("Which kernel version is this machine running?", r"uname|/proc/version"),
    ("How long has the machine been up?", r"\buptime\b|/proc/uptime"),
    ("Who is logged in right now?", r"\bwho\b|\bw\b|\busers\b|\blast\b"),
    ("Show the last lines of the system log.", r"journalctl|/var/log/(syslog|messages)|\btail\b|dmesg"),
    ("Which processes use the most CPU?", r"\bps\b|\btop\b|\bhtop\b"),
    ("What is the IP address of this machine?", r"\bip\b.*\ba(ddr(ess)?)?\b|ifconfig|hostname\s+-I"),
    ("What is the hostname?", r"hostname|/etc/hostname|uname\s+-n"),
    ("Which Linux distribution is installed?", r"os-release|lsb_release|/etc/issue|hostnamectl"),
    ("How many CPU cores does the machine have?", r"nproc|lscpu|/proc/cpuinfo"),
    ("Show the size of the /var/log directory.", r"\bdu\b"),
    ("Is the python3 command installed, and which version?", r"python3\s+(--version|-V)|which\s+python3|command\s+-v"),
    ("List the mounted file systems.", r"\bmount\b|\bfindmnt\b|\bdf\b|/proc/mounts|lsblk"),
    ("Show the current date and time.", r"\bdate\b|timedatectl"),
    ("List the users defined on this machine.", r"/etc/passwd|getent\s+passwd|compgen"),
    ("Which packages are installed?", r"dpkg|apt\s+list|rpm\s+-qa"),
]

# Requests a typed admin tool answers: (request, bash pattern, (tool, action)).
TYPED: list[tuple[str, str, tuple[str, str]]] = [
    ("Install the htop package.", r"apt(-get)?\s+install\s+(-y\s+)?htop", ("packages", "install")),
    ("Restart the nginx service.", r"systemctl\s+restart\s+nginx", ("services", "restart")),
    ("Show the last errors of the cron service.", r"journalctl.*-u\s*cron", ("services", "logs")),
    ("List the containers on this machine.", r"(podman|docker)\s+(ps|container\s+ls)", ("containers", "list")),
    ("What would upgrading all packages change?", r"apt(-get)?\s+(-s\s+)?(upgrade|list\s+--upgradable)", ("packages", "plan")),
    ("Show the uncommitted changes in this git repository.", r"git\s+(status|diff)", ("git", "status")),
    ("Is the ssh service enabled and running?", r"systemctl\s+(status|is-active|is-enabled)", ("services", "status")),
    ("Show the logs of the container named web.", r"(podman|docker)\s+logs\s+web", ("containers", "logs")),
]

# Phrasings and intents that the worked examples in aios/agent/_hints.py do not spell out:
# reported separately, so the examples cannot flatter the figure.
HELD_OUT: list[tuple[str, str]] = [
    ("Is there enough room left on the root partition?", r"\bdf\b"),
    ("What is using port 443?", r"\bss\b|netstat|lsof|fuser"),
    ("Print the contents of /etc/hosts.", r"(cat|less|more|head|tail)\s+/etc/hosts"),
    ("Is apache2 active?", r"systemctl|service"),
    ("Show the 5 largest files in /var.", r"\bdu\b|\bfind\b.*-size|\bls\b.*-S"),
    ("How many files are in /etc?", r"\bls\b|\bfind\b|\bwc\b"),
    ("Show the system's architecture.", r"uname\s+-m|\barch\b|lscpu|print-architecture"),
    ("Which shell am I using?", r"SHELL|\bps\b|readlink"),
    ("Show the open TCP connections.", r"\bss\b|netstat"),
    ("When was the system last rebooted?", r"uptime|last\s+reboot|who\s+-b|journalctl"),
]


def _sensible(pattern: str, typed: tuple[str, str] | None, tool: str, args: dict[str, Any]) -> bool:
    if typed is not None and tool == typed[0]:
        # the logs request is as well answered by status (it shows the last lines' state)
        return args.get("action") == typed[1] or (typed[1] == "logs" and args.get("action") == "status")
    command = args.get("command") or args.get("path") or ""
    return bool(re.search(pattern, command))


async def run(config_file: str | None, typed_tools: bool = True) -> dict[str, Any]:
    loaded = load(config_file=config_file)
    choice = select_provider(loaded.config.llm)
    registry = ToolRegistry.load(plugins=False, disabled=() if typed_tools else ("packages", "services", "containers", "git"))
    tools = [ToolSpec(e.tool.name, e.tool.description, e.tool.parameters) for e in registry.entries.values()]
    specs = {t.name: t for t in tools}
    results = []
    async with trio.open_nursery() as nursery:
        base_url = api_key = None
        if choice.config.kind == "embedded":
            server = EmbeddedServer(choice.config, Path("/tmp/aios-eval-embedded.log"))
            base_url = await server.ensure_started(nursery)
            api_key = server.api_key
        provider = make_provider(choice, base_url=base_url, api_key=api_key)
        prompt = system_prompt(
            host={"os": "Debian GNU/Linux 12", "kernel": "Linux", "hostname": "eval"}, mode="normal",
            workspace="/home/user", tools=tools, structured=provider.structured,
        )
        cases = [(r, p, None, "main") for r, p in REQUESTS] + [(r, p, None, "held-out") for r, p in HELD_OUT]
        cases += [(r, p, t, "typed") for r, p, t in TYPED]
        for request, pattern, typed, which in cases:
            start = time.perf_counter()
            row: dict[str, Any] = {"request": request, "valid": False, "sensible": False, "set": which}
            try:
                done: Done | None = None
                async for ev in provider.stream([Message("system", prompt), *(few_shot(tools, request) if provider.structured else []), Message("user", request)], tools):
                    if isinstance(ev, Done):
                        done = ev
                assert done is not None
                if done.message.tool_calls:
                    call = done.message.tool_calls[0]
                    args, err = check_arguments(call, specs)
                    row["tool"] = call.name
                    row["arguments"] = args if args is not None else call.arguments
                    row["valid"] = err is None
                    row["sensible"] = row["valid"] and _sensible(pattern, typed, call.name, args or {})
                else:
                    row["answer"] = done.message.content[:200]
            except Exception as exc:  # one failed request is a row, not the end of the eval
                row["error"] = f"{type(exc).__name__}: {exc}"
            row["seconds"] = round(time.perf_counter() - start, 2)
            results.append(row)
            print(f"{'ok ' if row['valid'] else 'BAD'} {'sensible' if row['sensible'] else '        '} {row['seconds']:6.2f}s  "
                  f"{request}  ->  {json.dumps(row.get('arguments', row.get('answer', row.get('error'))))}", file=sys.stderr, flush=True)
        nursery.cancel_scope.cancel()
    out: dict[str, Any] = {"provider": choice.describe(), "typed_tools": typed_tools, "results": results}
    for name in ("main", "held-out", "typed"):
        rows = [r for r in results if r["set"] == name]
        times = sorted(r["seconds"] for r in rows)
        out[name] = {
            "requests": len(rows),
            "valid_tool_calls": sum(r["valid"] for r in rows),
            "sensible_commands": sum(r["sensible"] for r in rows),
            "median_seconds": times[len(times) // 2],
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="a config file selecting the provider")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-typed", action="store_true", help="offer only bash, read, write and list")
    args = ap.parse_args()
    summary = trio.run(run, args.config, not args.no_typed)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        p = summary["provider"]
        print(f"\nprovider {p['name']} ({p['kind']}, {p['model']}), typed tools {'on' if summary['typed_tools'] else 'off'}")
        for name in ("main", "held-out", "typed"):
            s = summary[name]
            print(f"  {name:8}: {s['valid_tool_calls']}/{s['requests']} valid tool calls, "
                  f"{s['sensible_commands']}/{s['requests']} sensible commands, median {s['median_seconds']} s per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The daemon's own cost per agent tool round, with the model's time taken out (a scripted
server that answers at once), beside the jail's cost alone for the same command.

A turn of K tool rounds and a turn of none are timed through the real daemon and client; the
difference divided by K is the cost of one round (model request, argument check, policy,
jail, memory record, notifications). Goal: at most 15 ms per round above the jail."""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import trio  # noqa: E402
from _common import line, p50, running_daemon  # noqa: E402

from aios.client import Client  # noqa: E402
from aios.config import SandboxConfig  # noqa: E402
from aios.sandbox import Jail  # noqa: E402
from llmserver import LLMServer, text, tool_call  # noqa: E402


def turn(sock: Path, server: LLMServer, rounds: int) -> float:
    server.script([*(tool_call("bash", {"command": "true"}, chunks=4) for _ in range(rounds)), text("done")])
    start = time.perf_counter()
    with Client.connect(sock) as c:
        result = c.call("chat", {"message": "run true a few times"}, on_notification=lambda m, p: None)
    elapsed = time.perf_counter() - start
    assert result["rounds"] == rounds + 1, result
    return elapsed


async def jail_true(workspace: Path, n: int) -> list[float]:
    jail = Jail(SandboxConfig(), mode="normal", workspace=workspace)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await jail.run(["/bin/bash", "-c", "true"])
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    k, reps = (3, 2) if quick else (10, 5)
    with LLMServer() as server:
        cfg = {
            "AIOS_LLM__DEFAULT_PROVIDER": "bench",
            "AIOS_LLM__PROVIDERS__BENCH__KIND": "openai",
            "AIOS_LLM__PROVIDERS__BENCH__BASE_URL": server.base_url,
            "AIOS_LLM__PROVIDERS__BENCH__MODEL": "scripted",
            "AIOS_LLM__MAX_ROUNDS": str(k + 2),
            "AIOS_RECOVERY__ENABLED": "false",
        }
        with running_daemon(cfg) as (sock, env):
            turn(sock, server, 1)  # warm up: imports, jail probe, registry
            with_tools, without = [], []
            for _ in range(reps):
                with_tools.append(turn(sock, server, k))
                without.append(turn(sock, server, 0))
            per_round = (p50(with_tools) - p50(without)) / k
            workspace = Path(env["AIOS_PATHS__WORKSPACE"])
            jail = p50(trio.run(jail_true, workspace, reps * 3))
    line("one agent tool round (bash true), daemon + jail", per_round * 1e3, "ms", "the jail alone (Jail.run bash -c true)", jail * 1e3)
    print(f"daemon overhead per round above the jail: {(per_round - jail) * 1e3:.2f} ms   (goal: at most 15 ms)", flush=True)


if __name__ == "__main__":
    main()

"""The embedded model itself, through the real daemon: no key, no network, one tool call."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from harness import Env


@pytest.mark.slow
def test_embedded_model_answers_with_one_tool_call(env: Env) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.env.pop(key, None)
    (env.workspace / "hello.txt").write_text("hi\n")
    d = env.start_daemon()
    try:
        info = env.cli_json("info")
        assert info["provider"]["kind"] == "embedded"
        proc = env.cli("chat", "--json", "List the files in the current directory.", timeout=240)
        assert proc.returncode == 0, proc.stderr + d.log()
        result = json.loads(proc.stdout)
        assert result["kind"] == "embedded" and result["model"] == "SmolLM2-135M-Instruct"
        assert result["status"] == "ok"
        # The grammar guarantees a valid call; the tiny model's choice of command is not tested.
        assert len(result["calls"]) == 1 and result["calls"][0]["tool"] == "bash"
        assert isinstance(result["calls"][0]["exit_code"], int)
        assert result["text"].strip()
        chats = env.cli_json("memory", "search", "--type", "Chat")
        assert [c["metadata"]["session"] for c in chats] == [result["session"]]
        assert env.cli_json("memory", "search", "--type", "Command")[0]["metadata"]["origin"] == "agent"
        # The model server is the daemon's child and goes with it, even when the daemon is killed.
        server = subprocess.run(["pgrep", "-P", str(d.proc.pid), "-f", "llama-server"], capture_output=True, text=True)
        pids = [int(p) for p in server.stdout.split()]
        assert len(pids) == 1, server
        d.kill()
        deadline = time.monotonic() + 10
        while _running(pids[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(pids[0]), "the model server outlived a killed daemon"
    finally:
        d.kill()


def _running(pid: int) -> bool:
    """Alive, not a zombie: once its parent (the killed daemon) is gone, a dead child waits to be
    reaped by PID 1, which on some machines does that late; its /proc entry stays meanwhile."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

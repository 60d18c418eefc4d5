"""rt7: a confirmed git commit takes files the confirmation did not list.

The git tool's ``commit`` plans first: a read-only ``git status`` lists the files it takes, and
the confirmation shows them ("commit 1 file(s) in …: a.txt"). The commit itself is run later,
after the person answered, as ``git add -- PATHS`` + ``git commit -- PATHS`` (or a plain
``git commit`` of whatever is staged then): nothing ties it to the confirmed list. Whatever a
jailed command (another session of the model, a build still writing) adds to the workspace while
the person reads the prompt goes into the commit unseen.

The commit asks the person in safe mode (``mode.safe``: confirm), and in /etc. Here: safe mode,
a repository in the workspace, the test answers the ``confirm`` request as the person does; before
answering, another client's ``aios run`` writes (and stages) ``planted.txt``.

Spelling 1: ``paths: ["."]`` — the plan lists the one changed file; ``planted.txt`` appears.
Spelling 2: no ``paths`` (what is staged) — the plan lists the staged file; ``planted.txt`` is
staged by the other command.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from harness import Daemon, Env, LineReader, connect

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
SETUP = f"{G} init -q r && cd r && echo one > a.txt && {G} add a.txt && {G} commit -qm 1 && echo two > a.txt"
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # arguments, what the workspace holds before the commit, what happens during the prompt
    "paths-dot": ({"paths": ["."]}, "true", "echo planted > r/planted.txt"),
    "staged": ({}, f"cd r && {G} add a.txt", f"cd r && echo planted > planted.txt && {G} add planted.txt"),
}


@pytest.mark.parametrize("spelling", sorted(CASES))
def test_the_commit_takes_a_file_written_while_the_person_reads_the_plan(env: Env, daemon: Daemon, spelling: str) -> None:
    extra, before, during = CASES[spelling]
    made = env.cli("run", "--", f"{SETUP} && cd .. && {before}")
    assert made.returncode == 0, made.stderr
    sock = connect(env.socket, timeout=120)
    reader = LineReader(sock)
    args = {"action": "commit", "path": "r", "message": "only a.txt", **extra}
    call = {"tool": "git", "arguments": args, "mode": "safe", "cwd": str(env.workspace)}
    sock.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": call}).encode() + b"\n")
    result = None
    while result is None:
        msg = reader.read()
        if msg.get("method") == "confirm":
            plan = msg["params"].get("plan") or {}
            assert plan.get("files") == ["a.txt"], msg["params"]
            # the person reads the prompt; meanwhile another command writes the workspace
            wrote = env.cli("run", "--", during)
            assert wrote.returncode == 0, wrote.stderr
            sock.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"approve": True}}).encode() + b"\n")
        elif msg.get("id") == 1:
            result = msg
    sock.close()
    assert "result" in result, result
    assert result["result"]["metadata"]["decision"] == "confirm", result["result"]["metadata"]
    committed = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(env.workspace / "r"), "show", "--name-only", "--format=", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.split()
    assert committed == ["a.txt"], f"the person confirmed a commit of a.txt; the commit took {committed}"

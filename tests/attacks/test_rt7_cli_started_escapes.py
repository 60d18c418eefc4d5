"""rt7: the CLI's "▶ tool: …" line copies the model's escape sequences to the person's terminal.

When a tool call starts, ``aios`` prints its subject (``▶ git: git commit: git -C … commit -m
MESSAGE``, ``▶ bash: COMMAND``). The commit message and the command line are the model's text;
the line is printed as it is, ESC included (checked on a pty with ``script``: the bytes arrive
unchanged). ``ESC[1A ESC[2K`` moves up and erases lines, ``ESC[8m`` makes everything printed after
it invisible — the confirmation that follows (plan, reason) included; ``ESC]0;…BEL`` retitles the
window. The confirmation's own description escapes them (``\\x1b``); this line, printed just
before it, does not. (rt15 found the same in ``aios daemon logs``; the audit commands pass their
text through ``printable``.)

Spelling 1: the git tool's commit message (safe mode: the commit is confirmed, denied here).
Spelling 2: a bash command line.
"""

from __future__ import annotations

import json

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
ESC = "\x1b[1A\x1b[2K\x1b[8m"


@pytest.mark.parametrize("spelling", ["git-commit-message", "bash-command"])
def test_the_started_line_prints_the_models_escape_sequences(env: Env, daemon: Daemon, spelling: str) -> None:
    if spelling == "git-commit-message":
        made = env.cli("run", "--", f"{G} init -q r && cd r && echo one > a && {G} add a")
        assert made.returncode == 0, made.stderr
        proc = env.cli("tools", "call", "git", json.dumps({"action": "commit", "path": "r", "message": f"fix{ESC}"}), "--mode", "safe")
    else:
        proc = env.cli("tools", "call", "bash", json.dumps({"command": f"true # {ESC}"}))
    shown = proc.stdout + proc.stderr
    assert "Traceback" not in shown, shown
    assert "\x1b" not in shown, f"the CLI wrote the model's escape sequences to the terminal: {shown[:300]!r}"

"""The git tool's push names where it goes and pushes exactly there (real daemon, real git; the
"remote" is a bare repository in the workspace)."""

from __future__ import annotations

import json

from harness import Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b -c safe.directory=*"
SETUP = (f"{G} init -q --bare up.git && {G} clone -q up.git sub 2>/dev/null && cd sub && echo one > f && "
         f"{G} add f && {G} commit -qm 1 && {G} push -q origin main")


def test_push_plan_names_the_destination_and_a_detached_head_is_refused(env: Env) -> None:
    env.write_config("[tools.git]\nallow_push = true\n")
    d = env.start_daemon()
    try:
        assert env.cli("run", "--", SETUP).returncode == 0
        assert env.cli("run", "--", f"cd sub && echo two >> f && {G} commit -qam 2").returncode == 0
        push = env.cli("tools", "call", "git", json.dumps({"action": "push", "path": "sub"}), "--yes", "--json", timeout=120)
        meta = json.loads(push.stdout)["metadata"]
        assert meta["plan"]["to"].endswith("up.git") and meta["plan"]["ref"] == "refs/heads/main", meta
        log = env.cli("run", "--", f"{G} -C up.git log --format=%s main")
        assert log.stdout.split() == ["2", "1"], log.stdout
        assert env.cli("run", "--", f"{G} -C sub checkout -q --detach").returncode == 0
        detached = env.cli("tools", "call", "git", json.dumps({"action": "push", "path": "sub"}), "--yes", "--json", timeout=120)
        assert "HEAD is not on a branch" in detached.stdout + detached.stderr and "Traceback" not in detached.stderr
    finally:
        d.kill()

"""rt6: git metadata a jailed command plants is live until the command ends.

The runner undoes program-running git metadata in nested repositories *after* each jailed
command (``aios.sandbox._workspace.after``); only ``WS/.git/{hooks,config,commondir}`` are kept
read-only *while* it runs. A command that plants a nested repository's ``core.fsmonitor`` or
hook and then simply keeps running (here: ``sleep``, well inside ``sandbox.timeout``) leaves it
in place for the person's own git — outside the jail, as root here — for as long as it runs.
The command writes a ``ready`` file once the plant is in place; the test waits for it (no
timing assumption), runs the person's git in the nested repository, then lets the command end.

Spelling 1: ``core.fsmonitor`` and ``git status``. Spelling 2: a ``post-commit`` hook and
``git commit``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harness import BIN, Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
PLANTS = {
    "fsmonitor": ("printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' >> r/.git/config", ("status", "--short")),
    "hook": ("printf '#!/bin/sh\\ntouch {marker}\\n' > r/.git/hooks/post-commit && chmod +x r/.git/hooks/post-commit",
             ("-c", "user.name=p", "-c", "user.email=p@p", "commit", "-q", "--allow-empty", "-m", "p")),
}


@pytest.mark.parametrize("spelling", sorted(PLANTS))
def test_planted_git_metadata_runs_while_the_planting_command_still_runs(env: Env, daemon: Daemon, spelling: str) -> None:
    out = env.outside()
    out.chmod(0o755)
    marker = out / "ran"
    plant, persons_args = PLANTS[spelling]
    ready = env.workspace / "ready"
    (env.workspace / "setup.sh").write_text(
        f"{G} init -q r && {G} -C r commit -q --allow-empty -m 1\n{plant.format(marker=marker)}\n: > ready\nsleep 20\n"
    )
    runner = subprocess.Popen([str(BIN / "aios"), "run", "--", "bash setup.sh"], env=env.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # the jail may be slow to start on a loaded machine: wait for the file, up to 60 s
            if ready.exists() or runner.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), f"the command never got to plant: {runner.poll()}"
        assert not marker.exists(), "the jail itself wrote the marker"
        subprocess.run(["git", "-c", "safe.directory=*", "-C", str(env.workspace / "r"), *persons_args],
                       capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(env.workspace)}, check=False)
        assert not Path(marker).exists(), f"the person's git ran the planted {spelling} while the jailed command was still running"
    finally:
        runner.wait(timeout=120)

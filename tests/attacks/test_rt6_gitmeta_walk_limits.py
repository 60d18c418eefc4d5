"""rt6: git metadata a jailed command plants beyond the workspace walk's limits stays.

After every jailed command the runner walks the workspace and undoes git metadata that would
make git outside the jail run programs (``aios.sandbox._workspace``). The walk stops after
``WALK_LIMIT`` (50,000) entries or below ``MAX_DEPTH`` (64) directories and only says so in a
note. Both limits are the command's to reach: it plants a nested repository whose config names
``core.fsmonitor``, then makes the walk stop before it gets there. The person's own ``git status``
in that repository — outside the jail, as root here — then runs the program, which writes a
marker in a directory the jail cannot write.

Spelling 1: 50,001 empty files in the workspace root (the root's entries alone exceed the
limit, so nothing at all is checked). Spelling 2: the repository 70 directories deep.
Both run as a workspace script (``bash setup.sh``) through ``aios run`` and the real daemon.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
PLANT = "{G} init -q {repo} && printf '[core]\\n\\tfsmonitor = \"touch {marker}; false\"\\n' >> {repo}/.git/config"
SCRIPTS = {
    "50001 entries": "{plant}\nfor i in $(seq 50001); do : > \"pad$i\"; done\n",
    "70 levels deep": "d=$(printf 'd/%.0s' $(seq 70))\nmkdir -p \"$d\"\n{plant_deep}\n",
}


@pytest.mark.parametrize("spelling", sorted(SCRIPTS))
def test_git_metadata_past_the_walk_limits_makes_the_persons_git_run_a_program(env: Env, daemon: Daemon, spelling: str) -> None:
    out = env.outside()
    out.chmod(0o755)  # readable; the jail still cannot write it
    marker = out / "ran-fsmonitor"
    plant = PLANT.format(G=G, repo="r", marker=marker)
    plant_deep = PLANT.format(G=G, repo='"$d"r', marker=marker)
    (env.workspace / "setup.sh").write_text(SCRIPTS[spelling].format(plant=plant, plant_deep=plant_deep))
    ran = env.cli("run", "--", "bash setup.sh", timeout=300)
    assert ran.returncode == 0, ran.stderr
    repo = next(p.parent for p in env.workspace.rglob(".git") if p.is_dir())
    assert not marker.exists(), "the jail itself wrote the marker"
    subprocess.run(["git", "-c", "safe.directory=*", "-C", str(repo), "status", "--short"], capture_output=True,
                   timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(env.workspace)}, check=False)
    assert not Path(marker).exists(), (
        f"the person's git ran core.fsmonitor planted by a jailed command ({spelling}); the runner said: "
        f"{[ln for ln in (ran.stdout + ran.stderr).splitlines() if '[aios:' in ln]!r}"
    )

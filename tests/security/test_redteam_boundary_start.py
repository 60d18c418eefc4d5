"""Red team of issue 13 A1: code another user planted, run by a daemon started by hand.

_pathguard's promise: "a daemon started some other way (``aios-runtime`` by hand, an old unit
file) still must not import code from a directory another user can write". The authors test a
world-writable working directory. Here the directory comes through ``PYTHONPATH`` (``sudo -E``,
``env_keep``, a service manager's environment) and belongs to another user. The guard runs in
``main()``: whatever the interpreter imports before it (``sitecustomize``, the package itself)
is not guarded. Each test PASSES when the planted code never ran.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import BIN, Env

PLANTS = {
    # site.py imports sitecustomize from sys.path at start-up, PYTHONPATH first
    "sitecustomize": ("sitecustomize.py", "open({m!r}, 'w').write('ran')\n"),
    # the console script runs `from aios.daemon import main`: a package named aios found first
    "aios-package": ("aios/__init__.py", "open({m!r}, 'w').write('ran')\n"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
@pytest.mark.parametrize("how", ["aios-runtime", "python -m aios.daemon"])
def test_a_daemon_started_by_hand_runs_nothing_from_another_users_pythonpath(
    env: Env, other_user: pwd.struct_passwd, plant: str, how: str
) -> None:
    marker = env.root / f"planted-{plant}-ran"
    theirs = env.root / "theirs"
    name, code = PLANTS[plant]
    (theirs / name).parent.mkdir(parents=True)
    (theirs / name).write_text(code.format(m=str(marker)))
    for p in (theirs, *theirs.rglob("*")):
        os.chown(p, other_user.pw_uid, other_user.pw_gid)
    argv = [str(BIN / "aios-runtime")] if how == "aios-runtime" else [sys.executable, "-m", "aios.daemon"]
    log = open(env.root / "by-hand.log", "wb")
    proc = subprocess.Popen(argv, cwd="/", env={**env.env, "PYTHONPATH": str(theirs)},
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    try:
        for _ in range(200):  # until it serves or exits (the planted package stops it early)
            if env.socket.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert not marker.exists(), (f"{how} ran {name} from {theirs} (owned by uid {other_user.pw_uid}) as uid "
                                     f"{os.geteuid()}: {Path(env.root / 'by-hand.log').read_text()[-300:]}")
    finally:
        proc.terminate()
        proc.wait(30)

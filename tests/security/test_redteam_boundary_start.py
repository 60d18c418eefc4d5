"""Red team of issue 13 A1: code another user planted, run by a daemon started by hand.

_pathguard's promise: "a daemon started some other way (``aios-runtime`` by hand, an old unit
file) still must not import code from a directory another user can write". The authors test a
world-writable working directory. Here the directory comes through ``PYTHONPATH`` (``sudo -E``,
``env_keep``, a service manager's environment) and belongs to another user. The guard runs in
``main()``: whatever the interpreter imports before it (``sitecustomize``, the package itself)
is not guarded. Each test PASSES when the planted code never ran.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import BIN, Daemon, Env

PLANTS = {
    # site.py imports sitecustomize from sys.path at start-up, PYTHONPATH first
    "sitecustomize": ("sitecustomize.py", "open({m!r}, 'w').write('ran')\n"),
    # the console script runs `from aios.daemon import main`: a package named aios found first
    "aios-package": ("aios/__init__.py", "open({m!r}, 'w').write('ran')\n"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
# Only the installed launcher: `python -m aios.daemon` typed by hand without -I runs site.py and
# imports `aios` from PYTHONPATH before any aios code exists to refuse it — no program can defend
# an interpreter its caller started that way (docs/security.md, "Threat model").
@pytest.mark.parametrize("how", ["aios-runtime"])
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


def test_the_daemons_own_code_is_never_written(env: Env, daemon: Daemon) -> None:
    """A4's reason ("an approved write outside the workspace must not be able to set mode =
    trusted for the next start") holds even more for the code the daemon imports at its next
    start: a module in its package, a ``.pth`` in its interpreter's site-packages (run by
    site.py at every start, ``-I`` or not). Each path lies in a directory that does not exist,
    so nothing is written even when the guard lets it through (the write tool never creates
    directories); the test asks that the guard refuse it as the daemon's own."""
    import shutil
    import sysconfig

    import aios

    probe = f"rt-probe-{os.getpid()}"
    package = Path(aios.__file__).parent
    site = Path(sysconfig.get_paths()["purelib"])
    targets = [package / probe / "x.py", package / "daemon" / probe / "x.py", site / probe / "x.pth"]
    try:
        for target in targets:
            for flags in (("--yes",), ("--mode", "trusted")):
                proc = env.cli("tools", "call", "write", json.dumps({"path": str(target), "content": "import os\n"}),
                               "--json", *flags)
                out = json.loads(proc.stdout)
                assert out["metadata"].get("rule") == "tools.protected", (
                    f"{target} ({' '.join(flags)}) is not one of the daemon's own files: {out['metadata'].get('rule')}: "
                    f"{out.get('error')}")
    finally:
        for target in targets:  # only ever a directory named for this run
            if target.parent.name == probe:
                shutil.rmtree(target.parent, ignore_errors=True)

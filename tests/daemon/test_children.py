"""The daemon's children live as long as their work, and no longer than the daemon.

Both halves rest on one kernel detail: a parent-death signal (bwrap's ``--die-with-parent``,
the model server's PR_SET_PDEATHSIG) follows the *thread* that forked the child. trio forks in
worker threads that exit after 10 s idle, which once killed every jailed command at 10 s.
"""

from __future__ import annotations

import os
import random
import subprocess
import time

from harness import BIN, Env


def _pids(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split() if int(p) != os.getpid()]


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_a_jailed_command_runs_past_ten_seconds(env: Env) -> None:
    d = env.start_daemon()
    try:
        start = time.monotonic()
        proc = env.cli("run", "--", "sleep 12 && echo still-here", timeout=90)
        took = time.monotonic() - start
        assert proc.returncode == 0, f"exit {proc.returncode} after {took:.1f} s: {proc.stdout}{proc.stderr}"
        assert "still-here" in proc.stdout and took >= 12
    finally:
        d.stop()


def test_jailed_commands_die_with_a_killed_daemon(env: Env) -> None:
    d = env.start_daemon()
    seconds = f"{random.randint(300, 399)}.{random.randint(10**5, 10**6 - 1)}"  # a unique argv to find
    (env.workspace / "hold.sh").write_text(f"exec sleep {seconds}\n")
    client = subprocess.Popen(
        [str(BIN / "aios"), "run", "--", "bash hold.sh"], env=env.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert _wait_for(lambda: _pids(f"sleep {seconds}"), 20), client.communicate(timeout=5)
        d.kill()  # SIGKILL: the daemon cleans nothing up itself
        assert _wait_for(lambda: not _pids(f"sleep {seconds}"), 10), "the jailed command outlived the daemon"
        _, err = client.communicate(timeout=20)
        assert client.returncode != 0 and err.strip()  # the client says the daemon went away
    finally:
        if client.poll() is None:
            client.kill()
        for pid in _pids(f"sleep {seconds}"):
            os.kill(pid, 9)

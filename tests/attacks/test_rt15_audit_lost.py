"""rt15: a writer holding the shared memory database makes actions run without an audit record.

The record is written after the action (``_tooling.tool_context.record``: memory first, then the
audit row). memory.db is the store containers share ("anything in a store shared with other
containers" is untrusted): a process that holds its write lock longer than
``memory.busy_timeout`` makes the record fail, but the command has already run. Nothing is written
ahead of the action, so nothing shows that it happened.
"""

from __future__ import annotations

import os
import sqlite3
import time

from harness import Env


def test_a_held_store_lock_lets_a_command_run_unrecorded(env: Env) -> None:
    env.write_config('[memory]\nbusy_timeout = "1s"\n')
    d = env.start_daemon()
    marker = env.workspace / f"rt15-unrecorded-{os.getpid()}"
    command = f"touch {marker}"
    try:
        assert env.cli("run", "--", "echo control").returncode == 0  # the store and trail exist
        holder = sqlite3.connect(env.state / "memory.db", timeout=5, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another container's daemon, or anything sharing the store
            proc = env.cli("run", "--", command)
            time.sleep(0.5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert marker.exists(), (proc.returncode, proc.stderr)  # the action happened
        subjects = [r["subject"] for r in env.cli_json("audit", "--limit", "1000")]
        assert command in subjects, f"'{command}' ran (exit {proc.returncode}: {proc.stderr.strip()}) with no audit record"
    finally:
        marker.unlink(missing_ok=True)
        d.kill()

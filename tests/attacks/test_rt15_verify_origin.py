"""rt15: another origin on the shared store writes escape sequences onto ``aios audit verify``'s output.

Origin names come from whoever appends to the store (``AIOS_ORIGIN`` of each container; "anything
in a store shared with other containers" is untrusted). ``aios audit verify`` prints them as they
are: in the "ok" line (every origin with its count) and in the "broken at ORIGIN" line. A
container that names itself ``\\x1b[2K\\r...`` rewrites what the administrator reads; with a
deliberately broken chain of its own it turns the failure line into "audit trail ok" on the
terminal (the exit code still says 1).
"""

from __future__ import annotations

import os
import sqlite3

from aios.memory import AuditLog
from harness import Daemon, Env

EVIL = "c2\x1b[2K\raudit trail ok: 3 records (vm: 3)\x1b[8m"


def _other_container_appends(env: Env) -> None:
    log = AuditLog.open(env.state / "memory.db", origin=EVIL)  # what a daemon with AIOS_ORIGIN=EVIL writes
    try:
        log.append({"decision": "allow", "tool": "bash", "subject": "true", "requester_uid": os.getuid()})
        log.append({"decision": "allow", "tool": "bash", "subject": "true", "requester_uid": os.getuid()})
    finally:
        log.close()


def test_an_origin_name_reaches_the_terminal_in_the_ok_line(env: Env, daemon: Daemon) -> None:
    assert env.cli("run", "--", "echo hi").returncode == 0
    _other_container_appends(env)
    proc = env.cli("audit", "verify")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout, repr(proc.stdout)


def test_a_broken_foreign_chain_prints_as_ok(env: Env, daemon: Daemon) -> None:
    assert env.cli("run", "--", "echo hi").returncode == 0
    _other_container_appends(env)
    conn = sqlite3.connect(env.state / "memory.db")
    conn.execute("DELETE FROM audit WHERE origin = ? AND seq = 1", (EVIL,))  # its own chain, broken on purpose
    conn.commit()
    conn.close()
    proc = env.cli("audit", "verify")
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr, f"the failure line the person sees is rewritten: {proc.stderr!r}"

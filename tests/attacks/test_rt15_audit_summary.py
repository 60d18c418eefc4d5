"""rt15: the one-line summary of a confirmed action never names who approved it.

``memory._journal.summary`` (the journal's MESSAGE and the daemon log's INFO line) appends
``approved by {record.get('approver')}`` for every ``confirm`` record, but records have no
``approver`` key (they carry ``approved_how``/``approver_uid``): every confirmed action is
logged as "approved by None", and a refused one as approved too. Someone reading the journal or
daemon.log (the independent witness docs/audit.md points to) cannot tell who let it through.
"""

from __future__ import annotations

import os
import socket

from harness import Env
from journalreader import parse_native


def test_the_journal_line_of_a_confirmed_action_names_its_approver(env: Env) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(env.root / "journal.sock"))
    listener.settimeout(30)
    d = env.start_daemon()
    try:
        target = env.outside() / "by-flag"
        assert env.cli("run", "--yes", "--", f"touch {target}").returncode == 0
        entry = parse_native(listener.recv(65536))
        assert entry["AIOS_DECISION"] == "confirm" and entry["AIOS_APPROVED_HOW"] == "flag"
        assert "None" not in entry["MESSAGE"], entry["MESSAGE"]
        assert f"uid {os.getuid()}" in entry["MESSAGE"].split("approved", 1)[-1], entry["MESSAGE"]
    finally:
        d.kill()
        listener.close()


def test_the_log_line_of_a_refused_action_does_not_say_approved(env: Env) -> None:
    d = env.start_daemon()
    try:
        target = env.outside() / "no-tty"
        assert env.cli("run", "--", f"touch {target}").returncode == 126  # no terminal: refused
        [line] = [ln for ln in d.log().splitlines() if "aios.audit" in ln and "no-tty" in ln]
        assert "approved by" not in line, f"a refused action is logged as approved: {line}"
    finally:
        d.kill()

"""Every detail the attack tests of issue 15 assume beyond the issue's text, in one place.

The issue fixes the commands (``aios config reload``, ``aios audit [--json]``, ``aios audit
verify``, ``aios status`` showing ``config: error``), the protocol method ``config.reload``,
SIGHUP, ``daemon.watch_config`` and that audit records live in ``memory.db`` in a table of their
own. It does not fix the JSON field names of a record, the name of that table or its columns, or
how the approver is spelled. Those guesses are the functions below: adapt them here, once, if
the finished feature spells them differently.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import Env

# --- the CLI ---------------------------------------------------------------------------------


def status_mode(env: Env) -> str:
    """The daemon's own security mode, from a clean ``aios status --json`` (key ``mode``, as today).

    The exit code is not checked: ``status`` exits 1 while the config is in error (with the
    document on stdout and ``aios: config: error: …`` on stderr)."""
    proc = env.cli("status", "--json")
    try:
        return str(json.loads(proc.stdout)["mode"])
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"aios status --json gave no mode (exit {proc.returncode}): {proc.stdout}{proc.stderr}") from None


def status_text(env: Env) -> str:
    """``aios status`` as a person sees it (the issue: it shows ``config: error`` with the message)."""
    proc = env.cli("status")
    return proc.stdout + proc.stderr


def config_error_shown(env: Env) -> bool:
    """Whether ``aios status`` reports a config that failed to (re)load."""
    return "config: error" in status_text(env)


def daemon_logs(env: Env) -> str:
    """What ``aios daemon logs -n 200`` shows (plus the harness's copy of the daemon's stderr)."""
    proc = env.cli("daemon", "logs", "-n", "200")
    try:
        own = (env.root / "daemon.log").read_text(errors="replace")
    except OSError:
        own = ""
    return proc.stdout + proc.stderr + own


def new_lines(before: str, after: str) -> str:
    """The lines of ``after`` not already in ``before`` (log text written since ``before``)."""
    seen = set(before.splitlines())
    return "\n".join(line for line in after.splitlines() if line not in seen)


def pin_named(text: str) -> bool:
    """Whether a message says a pin refused something ("pin.security.mode", "pinned"; not "ping")."""
    low = text.lower()
    return "pin.security" in low or "pinned" in low or "pin " in low


def wait_until(pred: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``pred`` until it holds (watch debounce and SIGHUP are asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


# --- audit records as `aios audit --json` prints them ------------------------------------------


def audit_records(env: Env) -> list[dict[str, Any]]:
    """All records, through ``aios audit --json`` (one JSON array; the issue's field names)."""
    proc = env.cli("audit", "--json", "--limit", "10000")  # the most audit.list returns at once
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert isinstance(data, list), data
    return [r for r in data if isinstance(r, dict)]


def rec_subject(rec: dict[str, Any]) -> str:
    """The command or path a record is about (``command`` or ``path``)."""
    return str(rec.get("command") or rec.get("subject") or rec.get("path") or "")


def rec_decision(rec: dict[str, Any]) -> str:
    return str(rec.get("decision"))


def rec_exit_code(rec: dict[str, Any]) -> Any:
    return rec.get("exit_code")


def rec_requester_uid(rec: dict[str, Any]) -> Any:
    """``requester`` is either an object with ``uid`` or flattened to ``requester_uid``."""
    req = rec.get("requester")
    if isinstance(req, dict):
        return req.get("uid")
    return rec.get("requester_uid", req)


def approver_kind(rec: dict[str, Any]) -> str:
    """Who approved and how, reduced to one of: ``never`` (never asked), ``flag`` (--yes),
    ``grant``, ``no-tty``, ``timeout``, ``person``, or ``?`` (not recognised).

    The issue lists "person on a terminal: uid + tty; --yes; a grant id; never asked"; the
    fields may be ``approver``/``approved_by``/``approval`` (string or object) and/or
    ``approved_how`` (today's memory metadata); all are read, as text.
    """
    parts = [rec.get(k) for k in ("approver", "approved_by", "approval", "approved_how", "approver_kind", "how")]
    text = " ".join(json.dumps(p) if not isinstance(p, str) else p for p in parts if p not in (None, "")).lower()
    for kind, needles in (
        ("never", ("never",)),
        ("no-tty", ("no-tty", "no_tty", "notty")),
        ("timeout", ("timeout",)),
        ("flag", ("--yes", "flag", '"yes"')),
        ("grant", ("grant",)),
        ("person", ("person", "tty", "uid")),
    ):
        if any(n in text for n in needles):
            return kind
    return "?"


def audit_verify(env: Env) -> subprocess.CompletedProcess[str]:
    """``aios audit verify``: exit 0 when the chain holds, 1 (assumed) naming the first broken record."""
    return env.cli("audit", "verify", timeout=120)


# --- the audit table in memory.db, as an attacker with the file sees it -------------------------


def audit_table(db: Path) -> str:
    """The audit table's name, from sqlite_master: the one table whose name contains "audit"
    (FTS shadow tables and views excluded)."""
    with sqlite3.connect(db, timeout=30) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%audit%'")]
    main = [n for n in names if not any(n.endswith(s) for s in ("_data", "_idx", "_content", "_docsize", "_config"))]
    assert len(main) == 1, f"expected one audit table in {db}, found {names}"
    return main[0]


def columns(c: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in c.execute(f'PRAGMA table_info("{table}")')]


def hash_columns(cols: list[str]) -> tuple[str | None, str | None]:
    """(own hash column, previous-hash column) by name: ``prev`` marks the link."""
    hashes = [c for c in cols if "hash" in c.lower() or c.lower() in ("prev", "digest")]
    prev = next((c for c in hashes if "prev" in c.lower()), None)
    own = next((c for c in hashes if c != prev), None)
    return own, prev


def id_columns(cols: list[str]) -> list[str]:
    """Columns that may name a record in ``audit verify``'s message."""
    return [c for c in cols if c.lower() in ("id", "seq", "record_id", "ulid", "n", "number")]


def position_columns(cols: list[str]) -> list[str]:
    """Columns that may order the trail (ids, sequence numbers, times): a reorder keeps them."""
    return id_columns(cols) + [
        c for c in cols if any(t in c.lower() for t in ("time", "created", "_at")) or c.lower() in ("ts", "at", "when")
    ]

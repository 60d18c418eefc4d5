"""Issue 15 attacks, part 3: the audit trail — tampering, reach, completeness.

Written from the issue's text, not from the implementation. After real decisions (allowed,
blocked, ``--yes``-confirmed and failing commands through ``aios run``), the audit table in
``memory.db`` is edited as someone holding the file would; ``aios audit verify`` must catch each
edit and name the record (exit 1 assumed). A jailed command and the write tool must not reach the
database at all. Every decision leaves exactly one record with the right decision and approver.

Guessed field and column names are in :mod:`issue15_assume` and :mod:`issue15_chain`.
"""

from __future__ import annotations

import json
import os
import pty
import pwd
import secrets
import select
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from issue15_assume import (
    approver_kind,
    audit_records,
    audit_table,
    audit_verify,
    hash_columns,
    id_columns,
    position_columns,
    rec_decision,
    rec_exit_code,
    rec_requester_uid,
    rec_subject,
)
from issue15_chain import Row, edit_decision, hash_function, names, opened, put, put_many, read_rows
from issue15_util import as_other, marker, open_socket

from harness import BIN, Daemon, Env, LineReader, connect

BLOCKWORD = "issue15auditblock"


def base_config(env: Env, extra: str = "") -> str:
    """A block pattern for a harmless blocked command; snapshots of one small directory only."""
    (env.outside() / "etc-like").mkdir(exist_ok=True)
    return (
        f'[security]\ndangerous_patterns = ["{BLOCKWORD}"]\n'
        f'[recovery]\npaths = ["{env.outside() / "etc-like"}"]\npackages = false\n{extra}'
    )


@pytest.fixture
def trail(env: Env) -> Iterator[Daemon]:
    """A daemon with a trail of real decisions: allowed, blocked, --yes-confirmed, refused, failed."""
    env.write_config(base_config(env))
    d = env.start_daemon()
    target = marker(env)
    try:
        assert env.cli("run", "--", "echo first-allowed").returncode == 0
        assert env.cli("run", "--", f"echo {BLOCKWORD}").returncode == 126
        assert env.cli("run", "--yes", "--", f"touch {target}").returncode == 0
        assert env.cli("run", "--", f"touch {target}.2").returncode == 126  # no terminal: refused
        assert env.cli("run", "--", "echo fails; exit 7").returncode == 7
        assert env.cli("run", "--", "echo last-allowed").returncode == 0
        yield d
    finally:
        target.unlink(missing_ok=True)
        d.kill()


def db(env: Env) -> Path:
    return env.state / "memory.db"


def intact(env: Env) -> list[Row]:
    """The chain verifies now; its rows (at least the six decisions of :func:`trail`)."""
    proc = audit_verify(env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = read_rows(db(env))
    assert len(got) >= 6, got
    return got


def broken(env: Env, *expected: Row) -> str:
    """``aios audit verify`` fails, naming one of ``expected`` (when given)."""
    proc = audit_verify(env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"tampering not detected (exit {proc.returncode}): {out}"
    assert "Traceback" not in out
    if expected:
        assert names(out, *expected), f"verify did not name the broken record {[r['_rowid'] for r in expected]}: {out}"
    return out


def block_row(all_rows: list[Row]) -> int:
    """The index of the blocked command's record (an attacker hides a block first)."""
    for i, r in enumerate(all_rows):
        if BLOCKWORD in json.dumps(r, default=str) and "block" in json.dumps(r, default=str):
            return i
    raise AssertionError("the blocked command has no audit record")


# --- 3a. tampering with the stored trail -------------------------------------------------------


def test_edited_decision_is_detected(env: Env, trail: Daemon) -> None:
    all_rows = intact(env)
    i = block_row(all_rows)
    with opened(db(env)) as (c, table, _):
        put(c, table, all_rows[i]["_rowid"], edit_decision(all_rows[i]))
    broken(env, all_rows[i])


def test_edited_command_text_is_detected(env: Env, trail: Daemon) -> None:
    all_rows = intact(env)
    i = block_row(all_rows)
    row = {k: (v.replace(BLOCKWORD, "harmless-ls") if isinstance(v, str) else v) for k, v in all_rows[i].items()}
    with opened(db(env)) as (c, table, _):
        put(c, table, row["_rowid"], row)
    broken(env, all_rows[i])


def test_deleted_record_is_detected(env: Env, trail: Daemon) -> None:
    all_rows = intact(env)
    i = block_row(all_rows)
    with opened(db(env)) as (c, table, _):
        c.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (all_rows[i]["_rowid"],))
    broken(env, all_rows[i], all_rows[i + 1])


def test_swapped_records_are_detected(env: Env, trail: Daemon) -> None:
    all_rows = intact(env)
    a, b = all_rows[1], all_rows[2]
    # What orders the trail (ids, sequence numbers, times) stays in place; the records move.
    keep = set(position_columns(list(a)))
    with opened(db(env)) as (c, table, _):
        put_many(c, table, {
            a["_rowid"]: {k: (a[k] if k in keep else b[k]) for k in a},
            b["_rowid"]: {k: (b[k] if k in keep else a[k]) for k in b},
        })
    broken(env, a, b)


def test_truncated_tail_is_detected(env: Env, trail: Daemon) -> None:
    """The last records cut off leave a valid prefix: only an anchor outside the table (the
    daemon's record of the newest hash, or a count) can notice. The issue promises that pruning
    is never silent, so a silent cut must be reported."""
    all_rows = intact(env)
    with opened(db(env)) as (c, table, _):
        for r in all_rows[-2:]:
            c.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (r["_rowid"],))
    broken(env)


def test_replayed_record_with_its_own_valid_hash_is_detected(env: Env, trail: Daemon) -> None:
    """Record 1's whole content (its own hash was computed by the daemon, so it is self-consistent)
    written over record 3: only the link to the previous record can tell."""
    all_rows = intact(env)
    replay = {k: v for k, v in all_rows[1].items() if k not in ("id", "seq", "ulid", "record_id")}
    try:
        with opened(db(env)) as (c, table, _):
            put(c, table, all_rows[3]["_rowid"], {**all_rows[3], **replay})
    except sqlite3.IntegrityError:
        return  # the table's own UNIQUE constraints refuse a replayed record: the attack cannot be stored
    broken(env, all_rows[3], all_rows[4])


def test_edit_with_recomputed_own_hash_is_detected(env: Env, trail: Daemon) -> None:
    """An attacker who knows the hash function edits a record and recomputes its own hash:
    the record is self-consistent, the next record's link is what breaks."""
    all_rows = intact(env)
    f = hash_function(all_rows[:3])
    i = block_row(all_rows)
    edited = edit_decision(all_rows[i])
    own, _ = hash_columns(list(edited))
    assert own is not None
    edited[own] = f(edited)
    with opened(db(env)) as (c, table, _):
        put(c, table, edited["_rowid"], edited)
    broken(env, all_rows[i], all_rows[i + 1])


def test_forged_record_appended_with_a_made_up_hash_is_detected(env: Env, trail: Daemon) -> None:
    all_rows = intact(env)
    last = all_rows[-1]
    own, prev = hash_columns(list(last))
    assert own is not None
    forged = edit_decision({**last, "_rowid": last["_rowid"] + 1})
    forged = {k: (v.replace("last-allowed", "forged-entry") if isinstance(v, str) else v) for k, v in forged.items()}
    for k in id_columns(list(forged)):  # a fresh id after the last one, as the daemon would write
        if isinstance(forged[k], int):
            forged[k] += 1
        elif isinstance(forged[k], str):
            forged[k] = forged[k][:-6] + secrets.token_hex(3).upper()
    if prev is not None:
        forged[prev] = last[own]
    made_up = last[own]
    forged[own] = b"\xff" * len(made_up) if isinstance(made_up, bytes) else "f" * len(str(made_up))
    with opened(db(env)) as (c, table, _):
        put(c, table, forged["_rowid"], forged)
    broken(env, forged)


# --- 3b. nothing a tool runs reaches the database -----------------------------------------------


def unchanged(env: Env, before: list[Row]) -> None:
    after = read_rows(db(env))
    assert after[: len(before)] == before, "records the daemon wrote were changed"
    assert db(env).read_bytes()[:16] == b"SQLite format 3\x00"
    proc = audit_verify(env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("spelling", ["sqlite3", "python-sqlite", "python-overwrite", "sqlite3-yes", "shell-truncate-yes"])
def test_a_jailed_command_cannot_reach_the_audit_table(env: Env, trail: Daemon, spelling: str) -> None:
    before = intact(env)
    path = db(env)
    table = audit_table(path)
    for p in (env.root, env.state):  # even a readable state dir: the jail itself must hide it
        p.chmod(0o755)
    command = {
        "sqlite3": f"sqlite3 {path} 'DELETE FROM \"{table}\"'",
        "python-sqlite": f"python3 -c \"import sqlite3; c = sqlite3.connect('{path}'); c.execute('DELETE FROM {table}'); c.commit()\"",
        "python-overwrite": f"python3 -c \"open('{path}', 'r+b').write(b'X' * 4096)\"",
        "sqlite3-yes": f"sqlite3 {path} 'DELETE FROM \"{table}\"'",
        "shell-truncate-yes": f": > {path}",
    }[spelling]
    yes = ["--yes"] if spelling.endswith("-yes") else []
    env.cli("run", *yes, "--", command)
    unchanged(env, before)


@pytest.mark.parametrize("which", ["db", "wal", "relative", "journal"])
def test_the_write_tool_cannot_reach_the_database(env: Env, trail: Daemon, which: str) -> None:
    before = intact(env)
    path = {
        "db": str(db(env)),
        "wal": str(db(env)) + "-wal",
        "relative": "../state/memory.db",
        "journal": str(db(env)) + "-journal",
    }[which]
    proc = env.cli("tools", "call", "write", json.dumps({"path": path, "content": "overwritten"}), "--yes")
    assert proc.returncode != 0, proc.stdout
    unchanged(env, before)


def test_the_models_write_tool_cannot_reach_the_database(env: Env) -> None:
    from llmserver import LLMServer, text, tool_call

    with LLMServer() as llm:
        env.write_config(base_config(
            env,
            f'[llm]\ndefault_provider = "scripted"\n[llm.providers.scripted]\nkind = "openai"\n'
            f'base_url = "{llm.base_url}"\nmodel = "scripted-model"\nmax_retries = 1\n',
        ))
        d = env.start_daemon()
        try:
            assert env.cli("run", "--", "echo before-the-model").returncode == 0
            before = intact_min(env)
            llm.script([
                tool_call("write", {"path": str(db(env)), "content": "gone"}),
                tool_call("bash", {"command": f"sqlite3 {db(env)} 'DELETE FROM {tablename(env)}'"}),
                text("done"),
            ])
            env.cli("chat", "--yes", "clean up the database")
            unchanged(env, before)
        finally:
            d.kill()


def intact_min(env: Env) -> list[Row]:
    proc = audit_verify(env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return read_rows(db(env))


def tablename(env: Env) -> str:
    return audit_table(db(env))


# --- 3c. every decision is exactly one record, with the right decision and approver -------------


def only(env: Env, needle: str) -> dict[str, Any]:
    found = [r for r in audit_records(env) if needle in rec_subject(r)]
    assert len(found) == 1, f"{len(found)} records for {needle!r}: {found}"
    return found[0]


def test_each_decision_leaves_one_record_with_its_approver(env: Env) -> None:
    env.write_config(base_config(env))
    d = env.start_daemon()
    tag = secrets.token_hex(4)
    target = marker(env)
    try:
        assert env.cli("run", "--", f"echo allowed-{tag}").returncode == 0
        assert env.cli("run", "--", f"echo {BLOCKWORD}-{tag}").returncode == 126
        assert env.cli("run", "--yes", "--", f"touch {target}").returncode == 0
        assert env.cli("run", "--", f"touch {target}.notty").returncode == 126
        assert env.cli("run", "--", f"echo failing-{tag}; exit 7").returncode == 7
        assert env.cli("run", "--", f"issue15-no-such-command-{tag}").returncode == 127
        assert env.cli("run", "--timeout", "1", "--", f"sleep 30 # timeout-{tag}").returncode == 124

        allowed = only(env, f"allowed-{tag}")
        assert rec_decision(allowed) == "allow" and approver_kind(allowed) == "never"
        blocked = only(env, f"{BLOCKWORD}-{tag}")
        assert rec_decision(blocked) == "block" and approver_kind(blocked) == "never"
        flagged = [r for r in audit_records(env) if rec_subject(r).endswith(target.name)]
        assert len(flagged) == 1 and rec_decision(flagged[0]) == "confirm" and approver_kind(flagged[0]) == "flag"
        assert rec_exit_code(flagged[0]) == 0
        notty = only(env, f"{target.name}.notty")
        assert rec_decision(notty) == "confirm" and approver_kind(notty) == "no-tty"
        failing = only(env, f"failing-{tag}")
        assert rec_decision(failing) == "allow" and rec_exit_code(failing) == 7
        missing = only(env, f"issue15-no-such-command-{tag}")
        assert rec_exit_code(missing) == 127
        killed = only(env, f"timeout-{tag}")
        assert rec_exit_code(killed) == 124
    finally:
        target.unlink(missing_ok=True)
        d.kill()


def protocol_call(env: Env, command: str, answer: Callable[[dict[str, Any]], Any] | None) -> dict[str, Any]:
    """A raw protocol client's ``tools.call`` (no CLI), answering ``confirm`` with ``answer``."""
    with connect(env.socket, timeout=60) as s:
        req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": command}}}
        s.sendall(json.dumps(req).encode() + b"\n")
        reader = LineReader(s)
        while True:
            msg = reader.read()
            if msg.get("method") == "confirm" and answer is not None:
                s.sendall(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": answer(msg["params"])}).encode() + b"\n")
            elif msg.get("id") == 1:
                return dict(msg)


def test_protocol_clients_leave_one_record_each_with_the_person_named(env: Env) -> None:
    env.write_config(base_config(env))
    d = env.start_daemon()
    tag = secrets.token_hex(4)
    target = marker(env)
    try:
        protocol_call(env, f"echo protocol-{tag}", None)
        protocol_call(env, f"touch {target}.denied", lambda p: {"approve": False, "how": "person"})
        protocol_call(env, f"touch {target}.approved", lambda p: {"approve": True, "how": "person"})
        plain = only(env, f"protocol-{tag}")
        assert rec_decision(plain) == "allow" and approver_kind(plain) == "never"
        denied = only(env, f"{target.name}.denied")
        assert rec_decision(denied) == "confirm" and approver_kind(denied) == "person"
        assert rec_exit_code(denied) == 126
        approved = only(env, f"{target.name}.approved")
        assert rec_decision(approved) == "confirm" and approver_kind(approved) == "person"
        assert rec_exit_code(approved) == 0
        assert not (env.outside() / f"{target.name}.denied").exists()
    finally:
        for suffix in (".denied", ".approved"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        d.kill()


def test_audit_filters_return_only_what_they_name(env: Env, trail: Daemon) -> None:
    for decision in ("block", "confirm", "allow"):
        proc = env.cli("audit", "--decision", decision, "--json")
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout)
        assert got and all(rec_decision(r) == decision for r in got), (decision, got)
    limited = json.loads(env.cli("audit", "--limit", "2", "--json").stdout)
    assert len(limited) == 2
    bad = env.cli("audit", "--decision", "whatever")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_another_uids_request_is_recorded_as_theirs(env: Env, other_user: pwd.struct_passwd) -> None:
    """A non-owner's call must not be filed under the daemon's owner: the requester is the uid the
    kernel reports for the socket (a request naming its own requester is refused as invalid params
    today, so only the plain call is tried)."""
    env.write_config(base_config(env, f"[daemon]\nallowed_uids = [{other_user.pw_uid}]\n"))
    d = env.start_daemon()
    tag = secrets.token_hex(4)
    try:
        open_socket(env)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)  # the requester must be able to write it
        params = {"tool": "bash", "arguments": {"command": f"echo other-{tag}"}}
        reply = as_other(env, other_user, "tools.call", params)
        assert '"result"' in reply, reply
        rec = only(env, f"other-{tag}")
        assert rec_requester_uid(rec) == other_user.pw_uid, rec
    finally:
        d.kill()


def test_a_person_saying_no_on_a_terminal_is_one_record_naming_the_terminal(env: Env) -> None:
    """``aios run`` on a real pseudo-terminal, answered "n": one record, decision confirm, approver
    a person, and (the issue: "person on a terminal: uid + tty") the terminal named."""
    env.write_config(base_config(env))
    d = env.start_daemon()
    target = marker(env)
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "aios"), "run", "--", f"touch {target}"], env={**env.env, "TERM": "dumb"},
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "run it?" not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                seen += os.read(master, 65536).decode(errors="replace")
        os.write(master, b"n\n")
        assert proc.wait(60) == 126
        assert not target.exists()
        rec = only(env, target.name)
        assert rec_decision(rec) == "confirm" and approver_kind(rec) == "person"
        assert "/dev/pts/" in json.dumps(rec) or "pts/" in json.dumps(rec), rec
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        target.unlink(missing_ok=True)
        d.kill()


def test_follow_streams_each_new_record_once(env: Env) -> None:
    """``aios audit --follow --json``: one JSON object per line, as decisions happen."""
    env.write_config(base_config(env))
    d = env.start_daemon()
    tag = secrets.token_hex(4)
    # Unbuffered bytes: a line already read into a buffer would hide from select().
    follow = subprocess.Popen([str(BIN / "aios"), "audit", "--follow", "--json"], env=env.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert follow.stdout is not None
    got: list[dict[str, Any]] = []

    def read_until(pred: Callable[[], bool], timeout: float, act: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, got
            if act is not None:
                act()
            assert follow.stdout is not None
            ready, _, _ = select.select([follow.stdout], [], [], 0.5)
            if ready:
                line = follow.stdout.readline()
                assert line, follow.stderr.read() if follow.stderr else b""
                got.append(json.loads(line))

    try:
        # The subscription is live once a warm-up command shows (no sleep: run until one does).
        read_until(lambda: any(f"warm-{tag}" in rec_subject(r) for r in got), 30,
                   lambda: env.cli("run", "--", f"echo warm-{tag}"))
        got.clear()
        assert env.cli("run", "--", f"echo follow-{tag}").returncode == 0
        assert env.cli("run", "--", f"echo {BLOCKWORD}-follow-{tag}").returncode == 126
        read_until(lambda: len([r for r in got if f"follow-{tag}" in rec_subject(r)]) >= 2, 30)
        mine = [r for r in got if f"follow-{tag}" in rec_subject(r)]
        assert [rec_decision(r) for r in mine] == ["allow", "block"]
    finally:
        follow.kill()
        follow.wait()
        d.kill()

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
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from issue15_assume import (
    audit_table,
    audit_verify,
    hash_columns,
    id_columns,
    position_columns,
    rec_decision,
)
from issue15_chain import Row, edit_decision, hash_function, names, opened, put, put_many, read_rows
from issue15_util import BLOCKWORD, base_config, marker

from harness import Daemon, Env


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

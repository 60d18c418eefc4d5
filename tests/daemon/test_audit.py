"""The audit trail end to end: a real daemon, the real CLI, real jails, raw protocol clients.

Every decision on an action is one record, whoever asked, with how it was approved; the trail
verifies, and an edit of the database file is found and named.
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import time
from typing import Any

from harness import BIN, Daemon, Env, LineReader, connect, rpc
from journalreader import parse_native


def records(env: Env, *args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = env.cli_json("audit", "--limit", "1000", *args)
    return out


def one(env: Env, subject: str) -> dict[str, Any]:
    found = [r for r in records(env) if r.get("subject") == subject]
    assert len(found) == 1, (subject, found)
    return found[0]


def _raw_call(env: Env, command: str, answer: dict[str, Any] | None = None) -> dict[str, Any]:
    """A program other than the aios CLI calling tools.call; answers ``confirm`` with ``answer``."""
    with connect(env.socket) as s:
        req = {"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": {"tool": "bash", "arguments": {"command": command}}}
        s.sendall(json.dumps(req).encode() + b"\n")
        reader = LineReader(s)
        while True:
            msg = reader.read()
            if msg.get("method") == "confirm":
                reply = {"jsonrpc": "2.0", "id": msg["id"], "result": answer or {"approve": False, "how": "no-tty"}}
                s.sendall(json.dumps(reply).encode() + b"\n")
            elif msg.get("id") == 1:
                result: dict[str, Any] = msg["result"]
                return result


def test_cli_and_protocol_calls_are_recorded_with_their_approver(env: Env, daemon: Daemon) -> None:
    out = env.outside()
    me = os.getuid()
    assert env.cli("run", "--", "echo hi").returncode == 0
    assert env.cli("run", "--yes", "--", f"touch {out}/by-flag").returncode == 0
    assert env.cli("run", "--", f"touch {out}/no-tty").returncode == 126
    assert env.cli("run", "--yes", "--", "rm -rf /").returncode == 126
    grant = json.loads(env.cli("policy", "grant", "--json", "--", "touch", f"{out}/granted").stdout)
    env.cli("run", "--", f"touch {out}/granted")  # allowed by the grant, so jailed: /srv is read-only there
    raw = _raw_call(env, f"touch {out}/by-person", {"approve": True, "how": "person"})
    assert raw["ok"], raw

    allowed = one(env, "echo hi")
    assert allowed["decision"] == "allow" and allowed["approved_how"] == "never-asked" and allowed["approved"] is True
    assert allowed["client"] == "cli" and allowed["requester_uid"] == me and allowed["requester_pid"] > 0
    assert allowed["exit_code"] == 0 and allowed["output_bytes"] == 3 and allowed["duration_ms"] > 0
    assert allowed["tool"] == "bash" and allowed["agent"] == "main" and allowed["mode"] == "normal"
    assert allowed["origin"] and allowed["seq"] >= 1 and allowed["memory_id"]

    flag = one(env, f"touch {out}/by-flag")
    assert flag["decision"] == "confirm" and flag["approved_how"] == "flag" and flag["approver_uid"] == me
    assert flag["exit_code"] == 0 and flag["approver_tty"] is None

    refused = one(env, f"touch {out}/no-tty")
    assert refused["approved"] is False and refused["approved_how"] == "no-tty" and refused["exit_code"] == 126

    blocked = one(env, "rm -rf /")
    assert blocked["decision"] == "block" and blocked["approved_how"] == "never-asked" and blocked["exit_code"] == 126
    assert blocked["rule"] and blocked["reason"]

    granted = one(env, f"touch {out}/granted")
    assert granted["decision"] == "allow" and granted["grant_id"] == grant["id"], granted

    person = one(env, f"touch {out}/by-person")
    assert person["client"] == "protocol" and person["approved_how"] == "person" and person["approver_uid"] == me

    assert [r["decision"] for r in records(env, "--decision", "block")] == ["block"]
    assert {r["tool"] for r in records(env, "--tool", "bash")} == {"bash"}
    assert records(env, "--tool", "write") == []
    table = env.cli("audit")
    assert table.returncode == 0 and "rm -rf /" in table.stdout and "never-asked" in table.stdout
    assert env.cli("audit", "verify").returncode == 0
    assert env.cli_json("audit", "verify")["ok"] is True


def test_a_person_on_a_terminal_is_recorded_with_the_terminal(env: Env, daemon: Daemon) -> None:
    target = env.outside() / "asked"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([str(BIN / "aios"), "run", "--", f"touch {target}"], env=env.env, stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, b"y\n")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        tty = os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)
    record = one(env, f"touch {target}")
    assert record["approved_how"] == "person" and record["approver_uid"] == os.getuid()
    assert record["approver_tty"] == tty, record


def test_bad_options_get_one_line(env: Env, daemon: Daemon) -> None:
    for args in (("--decision", "maybe"), ("--since", "yesterday-ish"), ("--limit", "0")):
        proc = env.cli("audit", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), args


def _tamper(env: Env, statement: str) -> None:
    conn = sqlite3.connect(env.state / "memory.db")
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_verify_names_an_edited_a_deleted_and_a_reordered_record(env: Env, daemon: Daemon) -> None:
    for i in range(6):
        assert env.cli("run", "--", f"echo {i}").returncode == 0
    assert env.cli("audit", "verify").returncode == 0
    _tamper(env, "UPDATE audit SET fields = replace(fields, '\"decision\":\"allow\"', '\"decision\":\"block\"') WHERE seq = 5")
    edited = env.cli("audit", "verify")
    assert edited.returncode == 1 and "seq 5" in edited.stderr and "edited" in edited.stderr, edited.stderr
    _tamper(env, "DELETE FROM audit WHERE seq = 5")
    deleted = json.loads(env.cli("audit", "verify", "--json").stdout)
    assert deleted["ok"] is False and deleted["broken"]["seq"] == 6 and "deleted" in deleted["broken"]["problem"]
    _tamper(env, "UPDATE audit SET seq = 5 WHERE seq = 6")  # close the gap: now the hashes give it away
    _tamper(env, "UPDATE audit SET seq = -2 WHERE seq = 2")
    _tamper(env, "UPDATE audit SET seq = 2 WHERE seq = 3")
    _tamper(env, "UPDATE audit SET seq = 3 WHERE seq = -2")
    reordered = env.cli("audit", "verify")
    assert reordered.returncode == 1 and "seq 2" in reordered.stderr, reordered.stderr


def test_follow_streams_new_records(env: Env, daemon: Daemon) -> None:
    follower = subprocess.Popen([str(BIN / "aios"), "audit", "--follow", "--json", "--decision", "allow"], env=env.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # the subscription is open before the call (not a timing assertion)
        assert env.cli("run", "--", "rm -rf /").returncode == 126  # filtered out
        assert env.cli("run", "--", "echo followed").returncode == 0
        assert follower.stdout is not None
        line = follower.stdout.readline()
        record = json.loads(line)
        assert record["subject"] == "echo followed" and record["decision"] == "allow"
    finally:
        follower.terminate()
        follower.wait(10)


def test_old_records_are_pruned_with_a_record_that_says_so(env: Env) -> None:
    from aios.memory import AuditLog

    old = AuditLog.open(env.state / "memory.db")
    for i in range(3):
        old.append({"decision": "allow", "tool": "bash", "subject": f"echo old-{i}"}, at=time.time() - 400 * 86400)
    old.close()
    env.write_config('[memory]\ncleanup_interval = "1s"\naudit_days = 365\n')
    d = env.start_daemon()
    try:
        assert env.cli("run", "--", "echo new").returncode == 0
        deadline = time.monotonic() + 30
        while not [r for r in records(env) if r.get("kind") == "prune"] and time.monotonic() < deadline:
            time.sleep(0.5)
        [prune] = [r for r in records(env) if r.get("kind") == "prune"]
        assert prune["pruned"] == 3 and "pruned 3 records" in prune["reason"] and prune["continues_from"] in prune["reason"]
        assert not [r for r in records(env) if str(r.get("subject", "")).startswith("echo old")]
        assert env.cli_json("audit", "verify")["ok"] is True
    finally:
        d.kill()


def test_the_model_and_jailed_commands_cannot_touch_the_trail(env: Env, daemon: Daemon) -> None:
    db = env.state / "memory.db"
    assert env.cli("run", "--", "echo before").returncode == 0
    attacks = [
        ["run", "--yes", "--", f"sqlite3 {db} 'DELETE FROM audit'"],
        ["run", "--yes", "--", f"python3 -c \"import sqlite3; c=sqlite3.connect('{db}'); c.execute('DELETE FROM audit'); c.commit()\""],
        ["run", "--yes", "--", f": > {db}"],
        ["tools", "call", "write", json.dumps({"path": str(db), "content": "gone"}), "--yes"],
    ]
    for argv in attacks:
        proc = env.cli(*argv)
        assert proc.returncode != 0, (argv, proc.stdout)
    kept = records(env)
    assert [r for r in kept if r.get("subject") == "echo before"], kept
    assert env.cli_json("audit", "verify")["ok"] is True
    # each attempt is itself on the trail
    assert len([r for r in kept if str(db) in str(r.get("subject"))]) == len(attacks)


def test_audit_methods_over_the_protocol(env: Env, daemon: Daemon) -> None:
    assert env.cli("run", "--", "echo proto").returncode == 0
    with connect(env.socket) as s:
        listed = rpc(s, "audit.list", {"tool": "bash", "limit": 5})
        assert listed[0]["subject"] == "echo proto" and len(listed[0]["hash"]) == 64
        assert rpc(s, "audit.verify", {})["ok"] is True


OTHER_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
buf = b""
def call(i, method, params):
    global buf
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}).encode() + b"\n")
    while True:
        while b"\n" not in buf:
            buf += s.recv(65536)
        line, _, buf = buf.partition(b"\n")
        msg = json.loads(line)
        if msg.get("id") == i:
            return msg
first = call(1, "tools.call", {"tool": "bash", "arguments": {"command": "echo from-the-other-user"}})
print(json.dumps(first), file=sys.stderr)
print(json.dumps([call(2, "audit.list", {"limit": 100}), call(3, "audit.list", {"tool": "bash", "decision": "block"})]))
"""


def test_another_uid_sees_only_its_own_records(env: Env, other_user: Any) -> None:
    env.write_config(f"[daemon]\nallowed_uids = [{other_user.pw_uid}]\n")
    d = env.start_daemon()
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(env.socket, 0o666)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)  # a test directory: theirs to work in
        assert env.cli("run", "--", "echo from-the-owner").returncode == 0
        assert env.cli("run", "--", "rm -rf /").returncode == 126
        proc = subprocess.run(["/usr/bin/python3", "-c", OTHER_CLIENT, str(env.socket)], user=other_user.pw_uid,
                              group=other_user.pw_gid, extra_groups=[], cwd="/", capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        everything, blocks = (m["result"] for m in json.loads(proc.stdout))
        assert [r["subject"] for r in everything] == ["echo from-the-other-user"], (everything, proc.stderr)
        assert everything[0]["requester_uid"] == other_user.pw_uid and blocks == []
        mine = {r["subject"] for r in records(env)}
        assert {"echo from-the-owner", "rm -rf /", "echo from-the-other-user"} <= mine
    finally:
        d.kill()


def test_each_record_reaches_the_journal_socket(env: Env) -> None:
    """The harness points memory.audit_journal at env.root/journal.sock: a real datagram listener there."""
    import socket as socketlib

    listener = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_DGRAM)
    listener.bind(str(env.root / "journal.sock"))
    listener.settimeout(30)
    d = env.start_daemon()
    try:
        assert env.cli("run", "--", "rm -rf /").returncode == 126
        entry = parse_native(listener.recv(65536))
        assert entry["SYSLOG_IDENTIFIER"] == "aios" and entry["PRIORITY"] == "4"
        assert entry["AIOS_DECISION"] == "block" and entry["AIOS_SUBJECT"] == "rm -rf /" and entry["AIOS_CLIENT"] == "cli"
        assert "block bash 'rm -rf /'" in entry["MESSAGE"] and entry["AIOS_REQUESTER_UID"] == str(os.getuid())
        assert "audit: block bash" in d.log()  # and the INFO line in the daemon's log
    finally:
        d.kill()
        listener.close()


ONE_CALL = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools.call", "params": json.loads(sys.argv[2])}).encode() + b"\n")
buf = b""
while True:
    while b"\n" not in buf:
        buf += s.recv(65536)
    line, _, buf = buf.partition(b"\n")
    if json.loads(line).get("id") == 1:
        print(line.decode())
        break
"""


def test_an_approvers_grant_is_recorded_with_the_approver(env: Env, other_user: Any) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(env.socket, 0o666)
        os.chown(env.workspace, other_user.pw_uid, other_user.pw_gid)
        target = env.outside() / "approved-by-owner"
        params = {"tool": "bash", "arguments": {"command": f"touch {target}"}}
        proc = subprocess.Popen(["/usr/bin/python3", "-c", ONE_CALL, str(env.socket), json.dumps(params)], user=other_user.pw_uid,
                                group=other_user.pw_gid, extra_groups=[], cwd="/", stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        pending: list[dict[str, Any]] = []
        while not pending and time.monotonic() < deadline:
            pending = env.cli_json("approvals")
            time.sleep(0.2)
        assert pending, d.log()
        assert env.cli("approve", pending[0]["id"]).returncode == 0
        out, _ = proc.communicate(timeout=60)
        assert json.loads(out)["result"]["ok"] is True, out
        record = one(env, f"touch {target}")
        assert record["approved_how"] == "approver" and record["approver_uid"] == os.getuid(), record
        assert record["requester_uid"] == other_user.pw_uid and record["client"] == "protocol"
    finally:
        d.kill()

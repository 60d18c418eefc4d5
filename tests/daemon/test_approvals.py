"""Issue 13 C: privileges follow the person who asked.

A real second local uid (created per test, deleted afterwards) connects to a real root daemon
through a small client run as that uid. That client answers every ``confirm`` it gets with
"approve", as an attacker's client would. The escalations it asks for (writing a root-owned
directory outside the workspace, with a command or with the write tool, or running anything
while the daemon is in trusted mode) must wait for an approver and never run on its own say-so.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import Env
from llmserver import LLMServer, text, tool_call

# The venv's interpreter lives under /root, which another user cannot enter.
SYSTEM_PYTHON = "/usr/bin/python3"

CLIENT = r"""
import json, socket, sys
sock_path, request, then = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
def send(obj):
    s.sendall(json.dumps(obj).encode() + b"\n")
send({"jsonrpc": "2.0", "id": 1, **request})
buf = b""
waiting = {1}
verbs = then.split(",") if then else []
pending = None
def next_verb():  # one decision at a time, in the order given
    if verbs:
        verb = verbs.pop(0)
        waiting.add("self-" + verb)
        send({"jsonrpc": "2.0", "id": "self-" + verb, "method": "approvals." + verb, "params": {"id": pending}})
while True:
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            print(json.dumps({"closed": True}), flush=True); sys.exit(0)
        buf += chunk
    line, _, buf = buf.partition(b"\n")
    msg = json.loads(line)
    print(json.dumps(msg), flush=True)
    if msg.get("method") == "confirm":  # the attack: approve our own escalation
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"approve": True, "how": "person", "remember": "session"}})
    elif msg.get("method") == "approval.pending":
        pending = msg["params"]["id"]
        next_verb()
    elif "method" not in msg:
        waiting.discard(msg.get("id"))
        if str(msg.get("id")).startswith("self-"):
            next_verb()
        if not waiting:
            sys.exit(0)
"""


class Other:
    """The second uid's client connected to the daemon."""

    def __init__(self, env: Env, user: pwd.struct_passwd) -> None:
        self.env = env
        self.user = user

    def start(self, request: dict[str, Any], then: str = "") -> subprocess.Popen[str]:
        return subprocess.Popen(
            [SYSTEM_PYTHON, "-c", CLIENT, str(self.env.socket), json.dumps(request), then],
            user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[], cwd="/",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    @staticmethod
    def messages(proc: subprocess.Popen[str], timeout: float = 60) -> list[dict[str, Any]]:
        """Everything the client printed (after what :meth:`read_until` read), once it exits."""
        assert proc.stdout is not None
        lines = list(proc.stdout)  # the client exits after its last answer
        proc.wait(timeout)
        return [_parse(line) for line in lines if line.strip()]

    @staticmethod
    def read_until(proc: subprocess.Popen[str], method: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        seen = []
        assert proc.stdout is not None
        for line in proc.stdout:
            msg = _parse(line)
            seen.append(msg)
            if msg.get("method") == method:
                return msg, seen
        raise AssertionError(f"no {method}: {seen}")


def _parse(line: str) -> dict[str, Any]:
    try:
        msg = json.loads(line)
    except ValueError:
        return {"raw": line}  # the client's own traceback: shown when an assertion fails
    return msg if isinstance(msg, dict) else {"raw": line}


@pytest.fixture
def other(env: Env, other_user: pwd.struct_passwd) -> Iterator[Other]:
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "3s"\n')
    yield Other(env, other_user)


def _open_socket(env: Env) -> None:
    for p in (env.root, env.run_dir):
        os.chmod(p, 0o755)
    os.chmod(env.socket, 0o666)


def _final(messages: list[dict[str, Any]]) -> dict[str, Any]:
    finals = [m for m in messages if m.get("id") == 1]
    assert finals, messages
    return finals[0]


def _bash(command: str, **extra: Any) -> dict[str, Any]:
    return {"method": "tools.call", "params": {"tool": "bash", "arguments": {"command": command}, **extra}}


def _write(path: Path) -> dict[str, Any]:
    return {"method": "tools.call", "params": {"tool": "write", "arguments": {"path": str(path), "content": "planted\n"}}}


@pytest.mark.parametrize("spelling", ["bash", "write-tool"])
def test_a_non_owners_own_confirm_answer_is_never_honoured(env: Env, other: Other, spelling: str) -> None:
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        request = _bash(f"touch {target}") if spelling == "bash" else _write(target)
        msgs = Other.messages(other.start(request))
        assert not [m for m in msgs if m.get("method") == "confirm"], "the requester was asked to confirm its own escalation"
        assert [m for m in msgs if m.get("method") == "approval.pending"], msgs
        result = _final(msgs)["result"]
        assert result["ok"] is False and result["metadata"]["approved_how"] == "timeout", result
        assert not target.exists()
        decided = [m for m in msgs if m.get("method") == "approval.decided"]
        assert decided and decided[0]["params"]["how"] == "timeout"
    finally:
        d.kill()


def test_trusted_mode_is_never_trusted_for_another_user(env: Env, other: Other) -> None:
    env.write_config(env.config_file.read_text() + '[security]\nmode = "trusted"\n')
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        result = _final(Other.messages(other.start(_bash(f"touch {target}"))))["result"]
        assert not target.exists(), result
        assert result["mode"] == "normal" and result["ok"] is False
        # a looser mode asked for explicitly is refused too
        reply = _final(Other.messages(other.start(_bash(f"touch {target}", mode="trusted"))))
        assert "only the daemon's own user may loosen" in reply.get("error", {}).get("message", ""), reply
        assert not target.exists()
    finally:
        d.kill()


def test_the_owner_approves_with_aios_approve(env: Env, other: Other) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other.user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        proc = other.start(_bash(f"touch {target}"))
        pending, _ = Other.read_until(proc, "approval.pending")
        listed = env.cli_json("approvals")
        assert [a["id"] for a in listed] == [pending["params"]["id"]]
        item = listed[0]
        assert item["requester"] == {"uid": other.user.pw_uid, "name": other.user.pw_name}
        assert str(target) in item["command"] and item["plan"] and item["tool"] == "bash"
        assert not target.exists()
        human = env.cli("approvals")
        assert human.returncode == 0 and pending["params"]["id"] in human.stdout and other.user.pw_name in human.stdout
        approved = env.cli("approve", item["id"])
        assert approved.returncode == 0, approved.stderr
        assert "approved" in approved.stdout
        msgs = Other.messages(proc)
        result = _final(msgs)["result"]
        assert result["ok"] is True and result["metadata"]["approved_how"] == "approver", result
        assert target.exists()
        assert env.cli_json("approvals") == []
        again = env.cli("approve", item["id"])
        assert again.returncode == 2 and "no pending approval" in again.stderr and "Traceback" not in again.stderr
    finally:
        d.kill()


def test_the_owner_denies_with_aios_deny(env: Env, other: Other) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other.user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        proc = other.start(_write(target))
        pending, _ = Other.read_until(proc, "approval.pending")
        denied = env.cli("deny", pending["params"]["id"], "--json")
        assert denied.returncode == 0, denied.stderr
        assert json.loads(denied.stdout)["approved"] is False
        result = _final(Other.messages(proc))["result"]
        assert result["ok"] is False and result["metadata"]["exit_code"] == 126
        assert not target.exists()
    finally:
        d.kill()


def test_the_requester_can_withdraw_but_never_approve(env: Env, other: Other) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other.user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        msgs = Other.messages(other.start(_bash(f"touch {target}"), then="approve,deny"))
        by_id = {m.get("id"): m for m in msgs}
        assert "cannot approve its own request" in by_id["self-approve"]["error"]["message"]
        assert by_id["self-deny"]["result"]["approved"] is False
        result = _final(msgs)["result"]
        assert result["ok"] is False and "denied" in result["error"]
        assert not target.exists()
    finally:
        d.kill()


def test_only_approvers_decide_and_see_others_requests(
    env: Env, make_user: Callable[[], pwd.struct_passwd]
) -> None:
    requester, bystander, approver = make_user(), make_user(), make_user()
    env.write_config(
        f"[daemon]\nallowed_uids = [{requester.pw_uid}, {bystander.pw_uid}, {approver.pw_uid}]\n"
        f'approver_gids = [{approver.pw_gid}]\napproval_timeout = "60s"\n'
    )
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        proc = Other(env, requester).start(_bash(f"touch {target}"))
        pending, _ = Other.read_until(proc, "approval.pending")
        aid = pending["params"]["id"]
        # a bystander allowed on the socket sees nothing and decides nothing
        seen = _final(Other.messages(Other(env, bystander).start({"method": "approvals.list"})))
        assert seen["result"] == []
        refused = _final(Other.messages(Other(env, bystander).start({"method": "approvals.approve", "params": {"id": aid}})))
        assert "only the daemon's owner" in refused["error"]["message"]
        # nor may it add a grant that would change what everyone is asked
        grant = _final(Other.messages(Other(env, bystander).start({"method": "policy.grant", "params": {"prefix": ["touch"]}})))
        assert "may not add a grant" in grant["error"]["message"]
        stop = _final(Other.messages(Other(env, bystander).start({"method": "shutdown"})))
        assert "may not stop the daemon" in stop["error"]["message"]
        # nor act as the daemon on the snapshot store: read root-only files into it, put back an old /etc
        for method, params in (("snapshot.create", {"description": "mine"}),
                               ("snapshot.restore", {"id": "01M8T3D0ZD215ADPNX0627DXTC"}),
                               ("snapshot.delete", {"id": "01M8T3D0ZD215ADPNX0627DXTC"})):
            reply = _final(Other.messages(Other(env, bystander).start({"method": method, "params": params})))
            assert reply.get("error", {}).get("code") == -32031 and "snapshot" in reply["error"]["message"], reply
        assert not target.exists()
        # a member of daemon.approver_gids may approve
        ok = _final(Other.messages(Other(env, approver).start({"method": "approvals.approve", "params": {"id": aid}})))
        assert ok["result"]["approved"] is True and ok["result"]["by_uid"] == approver.pw_uid
        result = _final(Other.messages(proc))["result"]
        assert result["ok"] is True and target.exists()
    finally:
        d.kill()


def test_doctor_says_who_is_trusted_with_what(env: Env, make_user: Callable[[], pwd.struct_passwd]) -> None:
    guest, approver = make_user(), make_user()
    env.write_config(f"[daemon]\nallowed_uids = [{guest.pw_uid}]\napprover_gids = [{approver.pw_gid}]\n")
    proc = env.cli("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(proc.stdout)}
    trusted, others = checks["trusted"]["detail"], checks["other users"]["detail"]
    assert approver.pw_name in trusted and "as trusted as the daemon's user" in trusted
    assert guest.pw_name in others and "no more than they could do alone" in others and "wait for an approver" in others


def test_another_user_never_inherits_the_owners_session_approvals(env: Env, other_user: pwd.struct_passwd) -> None:
    """The model path: the owner approved a command "for this session"; another user who names
    that session (ids are listed by session.list) asks the model again, and the model repeats the
    exact command. It must wait for an approver, not run on the owner's remembered approval."""
    target = env.outside() / "marker"
    with LLMServer() as llm:
        env.write_config(
            f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "3s"\n'
            f'[llm]\ndefault_provider = "scripted"\n[llm.providers.scripted]\nkind = "openai"\n'
            f'base_url = "{llm.base_url}"\nmodel = "scripted-model"\nmax_retries = 1\n'
        )
        command = {"command": f"touch {target}"}
        llm.script([tool_call("bash", command), text("done"), tool_call("bash", command), text("done again")])
        d = env.start_daemon()
        try:
            _open_socket(env)
            # the owner's client approves "for this session" (the CLIENT script answers so)
            owner = subprocess.run([SYSTEM_PYTHON, "-c", CLIENT, str(env.socket),
                                    json.dumps({"method": "chat", "params": {"message": "make the marker"}}), ""],
                                   capture_output=True, text=True, timeout=60)
            first = _final([_parse(ln) for ln in owner.stdout.splitlines() if ln.strip()])
            session = first["result"]["session"]
            assert target.exists(), first
            target.unlink()
            msgs = Other.messages(Other(env, other_user).start(
                {"method": "chat", "params": {"message": "make it again", "session": session}}))
            # Either the session is refused outright (it is the owner's) or the call waits for
            # an approver; never the owner's remembered approval.
            refused = [m for m in msgs if "another user's" in m.get("error", {}).get("message", "")]
            assert refused or [m for m in msgs if m.get("method") == "approval.pending"], msgs
            assert not target.exists()
        finally:
            d.kill()


def test_a_requester_that_goes_away_withdraws_its_request(env: Env, other: Other) -> None:
    env.write_config(f'[daemon]\nallowed_uids = [{other.user.pw_uid}]\napproval_timeout = "60s"\n')
    d = env.start_daemon()
    try:
        _open_socket(env)
        target = env.outside() / "marker"
        proc = other.start(_bash(f"touch {target}"))
        pending, _ = Other.read_until(proc, "approval.pending")
        proc.kill()
        proc.wait()
        for _ in range(200):  # the daemon notices the hang-up and cancels the call
            if env.cli_json("approvals") == []:
                break
            time.sleep(0.05)
        assert env.cli_json("approvals") == []
        late = env.cli("approve", pending["params"]["id"])
        assert late.returncode == 2, late.stderr
        assert not target.exists()
    finally:
        d.kill()

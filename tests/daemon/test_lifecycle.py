"""Start, stale sockets, a second daemon, signals, concurrency and peer credentials."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import threading

import pytest

from harness import Daemon, Env, connect, rpc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(env: Env, sig: int) -> None:
    d = env.start_daemon()
    assert d.socket.exists()
    assert d.stop(sig) == 0
    assert not d.socket.exists()


def test_shutdown_method_stops_cleanly(env: Env) -> None:
    d = env.start_daemon()
    with connect(d.socket) as s:
        assert rpc(s, "shutdown")["stopping"] is True
    assert d.proc.wait(20) == 0
    assert not d.socket.exists()


def test_refuses_to_start_when_a_daemon_answers(env: Env, daemon: Daemon) -> None:
    second = env.start_daemon(wait=False)
    assert second.proc.wait(20) == 1
    log = (env.root / "daemon.log").read_text()
    assert "already" in log
    with connect(daemon.socket) as s:
        assert rpc(s, "ping") == "pong"


def test_refuses_when_another_daemon_answers_on_the_socket_file(env: Env) -> None:
    """A live listener on the socket path (not holding our lock) is never replaced."""
    env.run_dir.mkdir(parents=True, exist_ok=True)
    other = socket.socket(socket.AF_UNIX)
    other.bind(str(env.socket))
    other.listen(1)
    try:
        d = env.start_daemon(wait=False)
        assert d.proc.wait(20) == 1
        assert "already answers" in (env.root / "daemon.log").read_text()
    finally:
        other.close()


def test_replaces_a_stale_socket_file(env: Env) -> None:
    env.run_dir.mkdir(parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(env.socket))
    stale.close()  # the file stays, nobody listens
    assert env.socket.exists()
    d = env.start_daemon()
    try:
        with connect(d.socket) as s:
            assert rpc(s, "ping") == "pong"
    finally:
        assert d.stop() == 0


def test_kill_9_leaves_a_stale_socket_that_the_next_start_replaces(env: Env) -> None:
    d = env.start_daemon()
    d.kill()
    assert env.socket.exists()
    d2 = env.start_daemon()
    try:
        with connect(d2.socket) as s:
            assert rpc(s, "ping") == "pong"
    finally:
        assert d2.stop() == 0


def test_fifty_concurrent_clients_times_a_hundred_pings(daemon: Daemon) -> None:
    errors: list[BaseException] = []
    answered = [0] * 50

    def client(i: int) -> None:
        try:
            with connect(daemon.socket, timeout=60) as s:
                for n in range(100):
                    assert rpc(s, "ping", id=n) == "pong"
                    answered[i] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert sum(answered) == 5000


# The venv's interpreter lives under /root, which another user cannot enter.
SYSTEM_PYTHON = "/usr/bin/python3"

CONNECT_AS = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(json.dumps({"connect_error": e.strerror})); sys.exit(0)
try:
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\\n')
except (BrokenPipeError, ConnectionResetError):
    pass  # a refused peer may be closed before the request is written; its answer is still there
data = b""
while not data.endswith(b"\\n"):
    try:
        chunk = s.recv(4096)
    except ConnectionResetError:
        break
    if not chunk: break
    data += chunk
print(data.decode() or json.dumps({"closed": True}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a second user (CI runs as root)")
def test_connection_from_another_uid_is_refused(env: Env, other_user: pwd.struct_passwd) -> None:
    user = other_user
    # Let the other user reach the socket file itself, so only SO_PEERCRED stands in the way.
    env.write_config("[daemon]\n")
    d = env.start_daemon()
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(d.socket, 0o666)
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", CONNECT_AS, str(d.socket)],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, text=True, timeout=30,
        )
        out = proc.stdout.strip()
        assert '"code":-32004' in out.replace(" ", ""), out + proc.stderr
        assert "permission denied" in out
        assert "pong" not in out
        # the daemon's own uid is still served
        with connect(d.socket) as s:
            assert rpc(s, "ping") == "pong"
    finally:
        d.kill()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a second user (CI runs as root)")
def test_allowed_uids_lets_another_user_in(env: Env, other_user: pwd.struct_passwd) -> None:
    user = other_user
    env.write_config(f"[daemon]\nallowed_uids = [{user.pw_uid}]\n")
    d = env.start_daemon()
    try:
        for p in (env.root, env.run_dir):
            os.chmod(p, 0o755)
        os.chmod(d.socket, 0o666)
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", CONNECT_AS, str(d.socket)],
            user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, text=True, timeout=30,
        )
        assert '"result":"pong"' in proc.stdout.replace(" ", ""), proc.stdout + proc.stderr
    finally:
        d.kill()


def test_bad_config_stops_the_daemon_with_file_and_key(env: Env) -> None:
    env.write_config("[daemon]\nmax_line = \"huge\"\n")
    d = env.start_daemon(wait=False)
    assert d.proc.wait(20) == 1
    log = (env.root / "daemon.log").read_text()
    assert str(env.config_file) in log and "daemon.max_line" in log

"""Bad input over the real socket gets the matching JSON-RPC error, and other clients keep
being served throughout."""

from __future__ import annotations

import json
import socket
import stat
import time

import pytest

from harness import Daemon, Env, LineReader, RPCError, connect, rpc


def _exchange(sock: socket.socket, raw: bytes) -> dict:
    sock.sendall(raw)
    return LineReader(sock).read()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json\n", -32700),
        (b"\x0b\n", -32700),  # vertical tab and form feed are not JSON whitespace
        (b"\x0c\n", -32700),
        (b"\xff\xfe\xfd\n", -32700),
        (b"[1, 2]\n", -32600),
        (b"42\n", -32600),
        (b'"ping"\n', -32600),
        (b'{"jsonrpc": "2.0", "id": 1}\n', -32600),
        (b'{"id": 1, "method": "ping"}\n', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 7}\n', -32600),
        (b'{"jsonrpc": "2.0", "id": [1], "method": "ping"}\n', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "no.such.method"}\n', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}\n', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "memory.get", "params": {}}\n', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "memory.get", "params": {"id": 5}}\n', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "memory.search", "params": {"query": "x", "limit": "ten"}}\n', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "memory.search", "params": {"query": "x", "bogus": 1}}\n', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "memory.add", "params": {"content": "x", "type": "Nonsense"}}\n', -32602),
    ],
)
def test_bad_input_gets_matching_error_and_others_are_served(daemon: Daemon, raw: bytes, code: int) -> None:
    with connect(daemon.socket) as bad, connect(daemon.socket) as good:
        reply = _exchange(bad, raw)
        assert reply["jsonrpc"] == "2.0"
        assert reply["error"]["code"] == code, reply
        assert reply["error"]["message"]
        assert rpc(good, "ping") == "pong"
        # the connection that sent bad input is still usable
        assert rpc(bad, "ping", id=2) == "pong"


def test_error_reply_keeps_the_request_id(daemon: Daemon) -> None:
    with connect(daemon.socket) as s:
        reply = _exchange(s, b'{"jsonrpc":"2.0","id":"abc","method":"nope"}\n')
        assert reply["id"] == "abc"
        reply = _exchange(s, b"{oops\n")
        assert reply["id"] is None


def test_notifications_get_no_reply(daemon: Daemon) -> None:
    with connect(daemon.socket) as s:
        s.sendall(b'{"jsonrpc":"2.0","method":"ping"}\n')
        assert rpc(s, "ping", id=9) == "pong"


def test_overlong_line_is_refused_and_connection_closed(env, daemon: Daemon) -> None:
    with connect(daemon.socket) as big, connect(daemon.socket) as good:
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < 2 * 1024 * 1024:
                big.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader = LineReader(big)
        reply = reader.read()
        assert reply["error"]["code"] == -32600
        assert "longer than" in reply["error"]["message"]
        with pytest.raises((ConnectionError, OSError)):
            reader.read()
        assert rpc(good, "ping") == "pong"


def test_line_limit_comes_from_config(env) -> None:
    env.write_config("[daemon]\nmax_line = \"2KiB\"\n")
    d = env.start_daemon()
    try:
        with connect(d.socket) as s:
            ok = rpc(s, "memory.search", {"query": "y" * 1500})
            assert ok == []
            reply = _exchange(s, b'{"jsonrpc":"2.0","id":1,"method":"memory.search","params":{"query":"' + b"z" * 3000 + b'"}}\n')
            assert reply["error"]["code"] == -32600
    finally:
        d.kill()


def test_half_line_then_vanish_costs_nothing(daemon: Daemon) -> None:
    for _ in range(20):
        s = connect(daemon.socket)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"meth')
        s.close()
    with connect(daemon.socket) as good:
        assert rpc(good, "ping") == "pong"
        status = rpc(good, "status")
    deadline = time.monotonic() + 5
    while status["clients"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        with connect(daemon.socket) as good:
            status = rpc(good, "status")
    assert status["clients"] == 1


def test_slow_and_silent_clients_do_not_delay_others(daemon: Daemon) -> None:
    silent = [connect(daemon.socket) for _ in range(10)]
    slow = connect(daemon.socket)
    slow.setblocking(False)
    request = b'{"jsonrpc":"2.0","id":1,"method":"config.show"}\n'
    # a client that asks for large replies and never reads them fills its own buffers
    try:
        for _ in range(5000):
            slow.send(request)
    except BlockingIOError:
        pass
    try:
        with connect(daemon.socket, timeout=5) as good:
            for i in range(50):
                assert rpc(good, "ping", id=i) == "pong"
    finally:
        slow.close()
        for s in silent:
            s.close()


def test_socket_is_private(env) -> None:
    fresh = env.root / "fresh-run"
    d = env.start_daemon(env={"AIOS_PATHS__RUNTIME_DIR": str(fresh)})
    try:
        assert stat.S_IMODE((fresh / "aios.sock").stat().st_mode) == 0o600
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    finally:
        d.kill()


def test_half_closed_client_still_gets_its_answer(daemon: Daemon) -> None:
    with connect(daemon.socket) as s:
        s.sendall(b'{"jsonrpc":"2.0","id":5,"method":"status"}\n')
        s.shutdown(socket.SHUT_WR)
        reply = LineReader(s).read()
        assert reply["id"] == 5 and reply["result"]["pid"] > 0


def test_rpc_methods_lists_everything(daemon: Daemon) -> None:
    with connect(daemon.socket) as s:
        names = {m["method"] for m in rpc(s, "rpc.methods")}
    assert {"ping", "status", "info", "memory.search", "memory.add", "memory.get", "config.show", "shutdown"} <= names


def test_replies_are_single_json_lines(daemon: Daemon) -> None:
    with connect(daemon.socket) as s:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"config.show"}\n')
        data = b""
        while not data.endswith(b"\n"):
            data += s.recv(65536)
        assert data.count(b"\n") == 1
        assert json.loads(data)["result"]["config"]["security"]["mode"] == "normal"


@pytest.mark.parametrize("rid", [1.5, 1.0, -0.25, 2**70, -(2**63) - 1, 2**64, 12345678901234567890123456789])
def test_any_json_number_is_a_valid_id_and_comes_back_unchanged(daemon: Daemon, rid: float) -> None:
    with connect(daemon.socket) as s:
        for method in ("ping", "memory.search", "no.such.method"):
            line = b'{"jsonrpc":"2.0","id":%s,"method":"%s"}\n' % (json.dumps(rid).encode(), method.encode())
            reply = _exchange(s, line)
            assert reply["id"] == rid and type(reply["id"]) is type(rid), reply
            assert ("error" in reply) == (method == "no.such.method"), reply


def test_a_burst_of_nonblocking_connects_is_not_refused(daemon: Daemon) -> None:
    """Clients such as node's net connect without blocking: a short listen queue answers
    EAGAIN to a burst of them before the daemon's accept loop catches up."""
    socks = []
    try:
        for _ in range(500):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            s.connect(str(daemon.socket))
        for i, s in enumerate(socks):
            s.setblocking(True)
            s.settimeout(20)
            assert rpc(s, "ping", id=i) == "pong"
    finally:
        for s in socks:
            s.close()


def test_a_message_cut_short_by_a_timeout_is_still_written_whole(env: Env) -> None:
    """The confirm request is cut off by confirm_timeout while the client is not reading: what
    was begun must still end as one line, not run into the next message."""
    env.write_config("[security]\nconfirm_timeout = 0.5\n")
    d = env.start_daemon()
    try:
        target = env.outside() / ("a" * 600_000)  # the confirm request is larger than the socket buffers
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools.call",
                   "params": {"tool": "bash", "arguments": {"command": f"touch {target}"}}}
        with connect(d.socket, timeout=20) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while b"\n" not in data:  # tool.started, then stop reading mid-confirm
                data += s.recv(65536)
            time.sleep(2)  # past confirm_timeout
            reader = LineReader(s)
            reader.buf = data
            messages = []
            while not messages or messages[-1].get("id") != 1:
                messages.append(reader.read())  # raises on a broken line
        assert [m.get("method") for m in messages] == ["tool.started", "confirm", "tool.finished", None]
        assert messages[-1]["result"]["metadata"]["approved_how"] == "timeout"
        with connect(d.socket) as s:
            assert rpc(s, "ping") == "pong"
    finally:
        d.kill()


def test_answers_to_confirm_are_read_while_many_requests_wait(env: Env) -> None:
    """More requests than the daemon serves at once on one connection (64), each asking the
    client to confirm: the client's answers must still be read, not wait behind the queue
    until confirm_timeout turns every one into a denial by timeout."""
    env.write_config("[security]\nconfirm_timeout = 10\n")
    d = env.start_daemon()
    n = 100
    try:
        out = env.outside()
        with connect(d.socket, timeout=60) as s:
            for i in range(n):
                request = {"jsonrpc": "2.0", "id": i, "method": "tools.call",
                           "params": {"tool": "bash", "arguments": {"command": f"touch {out}/f{i}"}}}
                s.sendall(json.dumps(request).encode() + b"\n")
            reader = LineReader(s)
            how: dict[int, str] = {}
            while len(how) < n:
                message = reader.read()
                if message.get("method") == "confirm":
                    answer = {"jsonrpc": "2.0", "id": message["id"], "result": {"approve": False}}
                    s.sendall(json.dumps(answer).encode() + b"\n")
                elif "method" not in message:
                    how[message["id"]] = message["result"]["metadata"]["approved_how"]
        assert set(how.values()) == {"person"}, how
    finally:
        d.kill()


@pytest.mark.parametrize(
    ("method", "params", "names"),
    [
        ("session.list", {"limit": 2**70}, "limit"),
        ("memory.search", {"query": "x", "limit": -(2**64)}, "limit"),
        ("policy.check", {"path": "/etc/\u0000passwd", "op": "read"}, "params.path"),
        ("tools.call", {"tool": "read", "arguments": {"path": "notes\u0000.txt"}}, "NUL"),
        ("tools.call", {"tool": "bash", "arguments": {"command": "echo \u0000"}}, "NUL"),
    ],
)
def test_out_of_range_numbers_and_nul_characters_are_invalid_params(
    daemon: Daemon, method: str, params: dict[str, object], names: str
) -> None:
    # Before: OverflowError / "embedded null byte" as internal errors (-32603).
    with connect(daemon.socket) as s:
        with pytest.raises(RPCError) as info:
            rpc(s, method, params)
        assert info.value.error["code"] == -32602 and names in info.value.error["message"], info.value.error
        assert rpc(s, "ping") == "pong"

"""Parsing and encoding JSON-RPC messages, and newline framing with a limit (no I/O)."""

from __future__ import annotations

import json

import pytest

from aios.errors import LineTooLong
from aios.protocol import (
    ErrorResponse,
    LineBuffer,
    MessageError,
    Notification,
    Request,
    Response,
    encode,
    fastjson,
    parse_message,
)


@pytest.mark.parametrize(
    ("line", "code", "id"),
    [
        (b"{", -32700, None),
        (b"\xff\xfe", -32700, None),
        (b"not json", -32700, None),
        (b"[]", -32600, None),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, None),
        (b"42", -32600, None),
        (b'"ping"', -32600, None),
        (b"null", -32600, None),
        (b'{"id":1,"method":"ping"}', -32600, 1),
        (b'{"jsonrpc":"1.0","id":"a","method":"ping"}', -32600, "a"),
        (b'{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":2,"method":5}', -32600, 2),
        (b'{"jsonrpc":"2.0","id":2,"method":""}', -32600, 2),
        (b'{"jsonrpc":"2.0","id":3,"method":"ping","params":[1,2]}', -32602, 3),
        (b'{"jsonrpc":"2.0","id":3,"method":"ping","params":"x"}', -32602, 3),
        (b'{"jsonrpc":"2.0","id":4}', -32600, 4),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
    ],
)
def test_invalid_lines_get_the_matching_error(line: bytes, code: int, id: object) -> None:
    with pytest.raises(MessageError) as info:
        parse_message(line)
    assert info.value.code == code
    assert info.value.id == id


def test_valid_messages() -> None:
    assert parse_message(b'{"jsonrpc":"2.0","id":1,"method":"ping"}') == Request(1, "ping", {})
    assert parse_message('{"jsonrpc":"2.0","id":"x","method":"m","params":{"a":1}}') == Request("x", "m", {"a": 1})
    assert parse_message(b'{"jsonrpc":"2.0","method":"n"}') == Notification("n", {})
    assert parse_message(b'{"jsonrpc":"2.0","id":"s1","result":true}') == Response("s1", True)
    err = parse_message(b'{"jsonrpc":"2.0","id":"s1","error":{"code":-1,"message":"no"}}')
    assert err == ErrorResponse("s1", -1, "no", None)


def test_encode_round_trips_and_is_one_line() -> None:
    for msg in (
        Request(7, "chat", {"message": "héllo\nworld"}),
        Notification("chat.delta", {"text": "x"}),
        Response(7, {"a": [1, 2]}),
        ErrorResponse(None, -32700, "parse error", {"detail": 1}),
    ):
        data = encode(msg)
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        body = json.loads(data)
        assert body["jsonrpc"] == "2.0"
        if not isinstance(msg, ErrorResponse):
            assert parse_message(data) == msg


def test_unencodable_result_becomes_internal_error() -> None:
    data = json.loads(encode(Response(1, {"x": object()})))
    assert data["error"]["code"] == -32603


def test_framing_splits_and_joins() -> None:
    buf = LineBuffer(100)
    assert buf.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert buf.feed(b":2}\r\n\n  \n") == [b'{"b":2}']
    assert buf.pending == 0
    assert buf.feed(b"x" * 60) == []
    assert buf.feed(b"y" * 30 + b"\n") == [b"x" * 60 + b"y" * 30]


def test_framing_refuses_long_lines_early() -> None:
    buf = LineBuffer(100)
    with pytest.raises(LineTooLong):
        buf.feed(b"x" * 101)
    buf = LineBuffer(100)
    with pytest.raises(LineTooLong):
        buf.feed(b"x" * 150 + b"\n")
    buf = LineBuffer(100)
    assert buf.feed(b"x" * 100 + b"\n") == [b"x" * 100]


@pytest.mark.parametrize("loads", [json.loads, fastjson.loads])
@pytest.mark.parametrize("raw", [b"1.5", b"1.0", b"-0.25", b"18446744073709551616", b"-9223372036854775809", b"1180591620717411303424"])
def test_any_finite_number_is_an_id_kept_exactly(loads: object, raw: bytes) -> None:
    line = b'{"jsonrpc":"2.0","id":' + raw + b',"method":"ping"}'
    message = parse_message(line, loads)  # type: ignore[arg-type]
    assert isinstance(message, Request)
    assert message.id == json.loads(raw) and type(message.id) is type(json.loads(raw))
    assert json.loads(encode(Response(message.id, "pong"), fastjson.dumps))["id"] == json.loads(raw)


def test_infinite_id_is_refused() -> None:
    with pytest.raises(MessageError) as info:
        parse_message(b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}')  # the stdlib reads inf
    assert info.value.code == -32600


def test_only_json_whitespace_makes_a_blank_line() -> None:
    buf = LineBuffer(100)
    assert buf.feed(b" \t\r\n") == []
    assert buf.feed(b"\x0b\n") == [b"\x0b"]
    assert buf.feed(b"\x0c\n \n") == [b"\x0c"]

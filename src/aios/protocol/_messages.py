"""JSON-RPC 2.0 messages: parsing one decoded line into a message, and encoding replies.

Pure: bytes in, messages out, no I/O. Only the standard library is imported, so the blocking
client can use this module without paying for attrs or cattrs at start-up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from aios.errors import (
    INTERNAL_ERROR,
    AiosError,
    InvalidRequest,
    ParseError,
)

Id = int | float | str | None
"""A request id: JSON-RPC allows a string, a number (fractions discouraged, not forbidden) or
null; the reply carries the same value back."""


class _Message:
    """Plain slotted value classes: building four dataclasses costs ~3.5 ms at import, which
    every ``aios`` command would pay. Treat instances as immutable."""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self.__slots__)})"


class Request(_Message):
    """A call that expects a response (``id`` present)."""

    __slots__ = ("id", "method", "params")
    __match_args__ = __slots__

    def __init__(self, id: int | float | str, method: str, params: dict[str, Any] | None = None) -> None:
        self.id = id
        self.method = method
        self.params: dict[str, Any] = {} if params is None else params


class Notification(_Message):
    """A call without ``id``: no response is sent."""

    __slots__ = ("method", "params")
    __match_args__ = __slots__

    def __init__(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.method = method
        self.params: dict[str, Any] = {} if params is None else params


class Response(_Message):
    """A successful result for request ``id``."""

    __slots__ = ("id", "result")
    __match_args__ = __slots__

    def __init__(self, id: Id, result: Any) -> None:
        self.id = id
        self.result = result


class ErrorResponse(_Message):
    """An error for request ``id`` (``None`` when the id could not be read)."""

    __slots__ = ("id", "code", "message", "data")  # noqa: RUF023 - positional order
    __match_args__ = __slots__

    def __init__(self, id: Id, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        self.id = id
        self.code = code
        self.message = message
        self.data = data

    @classmethod
    def from_exception(cls, id: Id, exc: AiosError) -> ErrorResponse:
        return cls(id, exc.code, exc.message, exc.data or None)


Message = Request | Notification | Response | ErrorResponse


class MessageError(InvalidRequest):
    """A line that is not a valid message; carries the request id when it could be read."""

    def __init__(self, message: str, *, id: Id = None, code: int | None = None) -> None:
        super().__init__(message)
        self.id = id
        if code is not None:
            self.code = code  # type: ignore[misc]


def _valid_id(value: Any) -> bool:
    if type(value) is float:
        return math.isfinite(value)
    return value is None or (isinstance(value, int | str) and not isinstance(value, bool))


Loads = Callable[[bytes | str], Any]
Dumps = Callable[[dict[str, Any]], bytes]


def parse_message(line: bytes | str, loads: Loads = json.loads) -> Message:
    """Decode one line into a message (``loads`` lets the daemon use a faster JSON codec).

    Raises:
        MessageError: with ``code`` -32700 for invalid JSON and -32600 for a structurally
            invalid message, and the request ``id`` when it could be read.
    """
    try:
        obj = loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"parse error: not valid JSON ({exc})", code=ParseError.code) from exc
    if type(obj) is dict and obj.get("jsonrpc") == "2.0":
        # The common case first: a well-formed request with an int or str id and object params.
        method, raw_id = obj.get("method"), obj.get("id")
        params = obj.get("params", {})
        if (
            type(method) is str and method and (type(raw_id) is int or type(raw_id) is str)
            and type(params) is dict
        ):
            return Request(raw_id, method, params)
    if type(obj) is dict and type(obj.get("id")) is float:
        # orjson reads an integer beyond 64 bits as a float; the standard library keeps it
        # exact, so the reply carries back the very id the client sent.
        obj = json.loads(line)
    if isinstance(obj, list):
        raise MessageError("invalid request: batches are not supported; send one object per line")
    if not isinstance(obj, dict):
        raise MessageError(
            f"invalid request: expected a JSON object, got {type(obj).__name__}"
        )
    raw_id = obj.get("id")
    valid_id = _valid_id(raw_id)
    id_: Id = raw_id if valid_id else None
    if obj.get("jsonrpc") != "2.0":
        raise MessageError('invalid request: "jsonrpc" must be "2.0"', id=id_)
    if not valid_id:
        raise MessageError('invalid request: "id" must be a string, a number or null')
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str) or not method:
            raise MessageError('invalid request: "method" must be a non-empty string', id=id_)
        params = obj.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise MessageError(
                'invalid params: "params" must be an object (named parameters)',
                id=id_,
                code=-32602,
            )
        if "id" not in obj:
            return Notification(method, params)
        if raw_id is None:
            raise MessageError('invalid request: "id" must not be null in a request')
        return Request(raw_id, method, params)
    if "result" in obj:
        return Response(id_, obj["result"])
    if "error" in obj:
        err = obj["error"]
        if not isinstance(err, dict) or not isinstance(err.get("code"), int):
            raise MessageError('invalid response: "error" must be an object with a "code"', id=id_)
        data = err.get("data")
        return ErrorResponse(
            id_,
            err["code"],
            str(err.get("message", "")),
            data if isinstance(data, dict) else None,
        )
    raise MessageError('invalid request: a message needs "method", "result" or "error"', id=id_)


def _default(obj: Any) -> Any:
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _std_dumps(body: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_default)
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (file names that are not UTF-8): escape them, the line stays valid.
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=_default).encode()


def encode(message: Message, dumps: Dumps = _std_dumps) -> bytes:
    """Encode a message as one UTF-8 line ending in ``\\n``."""
    if type(message) is Response:
        try:
            return dumps({"jsonrpc": "2.0", "id": message.id, "result": message.result}) + b"\n"
        except (TypeError, ValueError):
            pass  # the general path below says what could not be encoded
    body: dict[str, Any] = {"jsonrpc": "2.0"}
    if isinstance(message, Request):
        body["id"] = message.id
        body["method"] = message.method
        body["params"] = message.params
    elif isinstance(message, Notification):
        body["method"] = message.method
        body["params"] = message.params
    elif isinstance(message, Response):
        body["id"] = message.id
        body["result"] = message.result
    else:
        err: dict[str, Any] = {"code": message.code, "message": message.message}
        if message.data:
            err["data"] = message.data
        body["id"] = message.id
        body["error"] = err
    try:
        return dumps(body) + b"\n"
    except (TypeError, ValueError) as exc:
        if dumps is not _std_dumps:
            try:
                return _std_dumps(body) + b"\n"
            except (TypeError, ValueError):
                pass
        if isinstance(message, ErrorResponse):
            raise
        return encode(
            ErrorResponse(
                getattr(message, "id", None), INTERNAL_ERROR, f"result not encodable: {exc}"
            )
        )

"""A blocking JSON-RPC client over the daemon's Unix socket (no trio, httpx or apsw)."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aios.errors import AiosError, ClientError, DaemonUnreachable, error_for_code
from aios.protocol import (
    ErrorResponse,
    LineBuffer,
    MessageError,
    Notification,
    Request,
    Response,
    encode,
    parse_message,
)

NotificationHandler = Callable[[str, dict[str, Any]], None]
RequestHandler = Callable[[str, dict[str, Any]], Any]

MAX_REPLY = 64 * 1024 * 1024


class RemoteError(ClientError):
    """The daemon answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message, data=data)
        self.remote_code = code
        self.kind = error_for_code(code)

    @property
    def is_usage_error(self) -> bool:
        return self.remote_code in (-32600, -32601, -32602)


class Client:
    """One connection to the daemon. Use as a context manager.

    Calls are sequential on one connection. While a call is in flight the daemon may send
    notifications (streaming output) and requests (``confirm``); they go to the handlers given
    to :meth:`call`, and a request's handler return value is sent back as its result.
    """

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self._sock = sock
        self.path = path
        self._buffer = LineBuffer(MAX_REPLY)
        self._lines: list[bytes] = []
        self._ids = itertools.count(1)

    @classmethod
    def connect(cls, path: Path, *, timeout: float | None = 5.0) -> Client:
        """Connect to ``path``.

        Raises:
            DaemonUnreachable: nothing answers there.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise DaemonUnreachable(f"no daemon answers on {path}") from exc
        except PermissionError as exc:
            sock.close()
            raise ClientError(f"permission denied on {path}: {exc.strerror}") from exc
        except OSError as exc:
            sock.close()
            raise DaemonUnreachable(f"cannot connect to {path}: {exc.strerror}") from exc
        sock.settimeout(None)
        return cls(sock, path)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (tests and tools that speak the protocol by hand)."""
        self._sock.sendall(data)

    def read_message(self) -> Any:
        """Read the next message from the daemon (blocking)."""
        while not self._lines:
            try:
                data = self._sock.recv(65536)
            except OSError as exc:
                raise ClientError(f"connection to the daemon failed: {exc}") from exc
            if not data:
                raise ClientError("the daemon closed the connection")
            self._lines.extend(self._buffer.feed(data))
        try:
            return parse_message(self._lines.pop(0))
        except MessageError as exc:
            raise ClientError(f"the daemon sent an invalid message: {exc}") from exc

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        on_notification: NotificationHandler | None = None,
        on_request: RequestHandler | None = None,
    ) -> Any:
        """Call ``method`` and return its result.

        Raises:
            RemoteError: the daemon answered with an error.
            ClientError: the connection failed.
        """
        request_id = next(self._ids)
        self._sock.sendall(encode(Request(request_id, method, params or {})))
        while True:
            message = self.read_message()
            if isinstance(message, Response) and message.id == request_id:
                return message.result
            if isinstance(message, ErrorResponse) and message.id in (request_id, None):
                raise RemoteError(message.code, message.message, message.data)
            if isinstance(message, Notification):
                if on_notification is not None:
                    on_notification(message.method, message.params)
            elif isinstance(message, Request):
                self._answer(message, on_request)

    def _answer(self, request: Request, handler: RequestHandler | None) -> None:
        if handler is None:
            reply: Response | ErrorResponse = ErrorResponse(
                request.id, -32601, f"this client does not handle {request.method}"
            )
        else:
            try:
                reply = Response(request.id, handler(request.method, request.params))
            except AiosError as exc:
                reply = ErrorResponse(request.id, exc.code, exc.message)
        self._sock.sendall(encode(reply))

"""The one exception tree of aios.

Every error that aios raises on purpose is an :class:`AiosError`. Foreign errors (OSError from a
socket, apsw errors, httpx errors) are translated once, at the edge of the package that meets
them, with ``raise XError(...) from exc``. Each class maps to one JSON-RPC error code
(``code``), so the daemon can turn any of them into a protocol error without a table elsewhere.

::

    AiosError
    ├── ConfigError            bad config: names the file/variable/flag and the key
    ├── ProtocolError          bad JSON-RPC input or framing
    │   ├── ParseError         -32700 invalid JSON
    │   ├── InvalidRequest     -32600 not a JSON-RPC request object
    │   ├── MethodNotFound     -32601
    │   ├── InvalidParams      -32602
    │   └── LineTooLong        -32600 line over the configured limit (connection closed)
    ├── DaemonError            the daemon cannot start or serve (socket in use, ...)
    ├── ClientError            the CLI cannot reach the daemon or got an error back
    │   └── DaemonUnreachable  no daemon answers on any socket
    ├── MemoryStoreError       the memory database failed
    ├── PolicyError            the policy engine cannot judge (bad rules file, ...)
    ├── PolicyBlocked          the policy blocked a request, or the person denied it
    ├── PermissionDenied       -32004 the caller may not use this method (owner and root only)
    ├── SandboxError           the jail cannot start or run
    │   └── SandboxUnavailable bubblewrap missing or unusable on this host
    ├── ToolError              a tool call failed before or around running
    ├── RecoveryError          snapshot store, restore, retention
    │   └── SnapshotNotFound   an id that is not an existing snapshot
    └── ProviderError          the language-model provider failed
        ├── ProviderTimeout
        ├── ProviderHTTPError  an HTTP status the provider answered with
        └── ProviderAuthError  401/403: the key is missing or wrong
"""

from __future__ import annotations

from typing import Any, ClassVar

# JSON-RPC 2.0 reserved codes, and the application range (-32000 .. -32099) that aios uses.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class AiosError(Exception):
    """Base of every error aios raises on purpose.

    Args:
        message: one sentence a person can act on.
        data: structured context (file, key, snapshot id, command ...) sent as JSON-RPC ``data``.
    """

    code: ClassVar[int] = -32000

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = dict(data or {})

    def __str__(self) -> str:
        return self.message


class ConfigError(AiosError):
    """A config file, variable or flag is invalid. The message names the source and the key."""

    code = -32010

    def __init__(self, message: str, *, source: str = "", key: str = "") -> None:
        super().__init__(message, data={"source": source, "key": key})
        self.source = source
        self.key = key


class ProtocolError(AiosError):
    code = INVALID_REQUEST


class ParseError(ProtocolError):
    code = PARSE_ERROR


class InvalidRequest(ProtocolError):
    code = INVALID_REQUEST


class MethodNotFound(ProtocolError):
    code = METHOD_NOT_FOUND


class InvalidParams(ProtocolError):
    code = INVALID_PARAMS


class LineTooLong(ProtocolError):
    code = INVALID_REQUEST


class DaemonError(AiosError):
    code = -32001


class ClientError(AiosError):
    code = -32002


class DaemonUnreachable(ClientError):
    code = -32003


class MemoryStoreError(AiosError):
    code = -32020


class PolicyError(AiosError):
    code = -32030


class PolicyBlocked(AiosError):
    code = -32031


class PermissionDenied(AiosError):
    code = -32004  # aios.protocol.PERMISSION_DENIED, also sent to a refused connection


class SandboxError(AiosError):
    code = -32040


class SandboxUnavailable(SandboxError):
    code = -32041


class ToolError(AiosError):
    code = -32050


class RecoveryError(AiosError):
    code = -32060


class SnapshotNotFound(RecoveryError):
    code = -32061


class ProviderError(AiosError):
    code = -32070


class ProviderTimeout(ProviderError):
    code = -32071


class ProviderHTTPError(ProviderError):
    code = -32072


class ProviderAuthError(ProviderError):
    code = -32073


def error_for_code(code: int) -> type[AiosError]:
    """The most specific class for a JSON-RPC error code (used by the client)."""
    stack: list[type[AiosError]] = [AiosError]
    best: type[AiosError] = AiosError
    while stack:
        cls = stack.pop()
        if cls.code == code:
            best = cls
        stack.extend(cls.__subclasses__())
    return best

"""JSON-RPC 2.0 over newline-delimited JSON: message types, framing, error codes.

See docs/protocol.md for every method. This package imports only the standard library and
:mod:`aios.errors`, so clients stay fast to start.
"""

from aios.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)

from ._framing import LineBuffer
from ._messages import (
    ErrorResponse,
    Id,
    Message,
    MessageError,
    Notification,
    Request,
    Response,
    encode,
    parse_message,
)

# Errors aios adds in the application range.
PERMISSION_DENIED = -32004
NOT_FOUND = -32005

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "PARSE_ERROR",
    "PERMISSION_DENIED",
    "ErrorResponse",
    "Id",
    "LineBuffer",
    "Message",
    "MessageError",
    "Notification",
    "Request",
    "Response",
    "encode",
    "parse_message",
]

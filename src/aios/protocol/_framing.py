"""Newline-delimited framing with a line-length limit. Pure: no I/O."""

from __future__ import annotations

from aios.errors import LineTooLong

# JSON's whitespace besides the newline: a line of only these is skipped. Not the set of
# bytes.strip(), which also drops vertical tab and form feed: a line of those gets an error.
_JSON_SPACE = b" \t\r"


class LineBuffer:
    """Accumulates received bytes and yields complete lines (without the ``\\n``).

    A line longer than ``max_line`` bytes raises :class:`LineTooLong` as soon as it is known to
    be too long, so a client cannot make the daemon buffer an unbounded line.
    """

    __slots__ = ("_buf", "_scan", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._scan = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete lines now available."""
        if not self._buf and data.endswith(b"\n") and data.count(b"\n") == 1 and len(data) <= self.max_line:
            # The common case on a request/response connection: exactly one whole line.
            line = data[:-1].rstrip(b"\r")
            return [line] if line.strip(_JSON_SPACE) else []
        self._buf += data
        lines: list[bytes] = []
        start = 0
        while True:
            nl = self._buf.find(b"\n", max(start, self._scan))
            if nl < 0:
                break
            if nl - start > self.max_line:
                self._reset()
                raise LineTooLong(f"line longer than {self.max_line} bytes")
            line = bytes(self._buf[start:nl]).rstrip(b"\r")
            if line.strip(_JSON_SPACE):
                lines.append(line)
            start = nl + 1
        del self._buf[:start]
        self._scan = len(self._buf)
        if len(self._buf) > self.max_line:
            self._reset()
            raise LineTooLong(f"line longer than {self.max_line} bytes")
        return lines

    @property
    def pending(self) -> int:
        """Bytes of an incomplete line held."""
        return len(self._buf)

    def _reset(self) -> None:
        self._buf.clear()
        self._scan = 0

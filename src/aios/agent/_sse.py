"""Server-sent events: lines in, (event, data) out. Pure, no I/O.

Beyond the SSE standard: llama.cpp's server reports a failure mid-stream as an ``error: {...}``
line (a field the standard does not have) and then still sends ``data: [DONE]``; that line comes
out as an ``error`` event, so the providers can raise the server's message instead of ending
with an empty reply.
"""

from __future__ import annotations

from collections.abc import Iterator


class SSEParser:
    """Feed it lines (without the newline); it yields (event, data) when an event ends."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def feed(self, line: str) -> Iterator[tuple[str, str]]:
        if self._first:
            self._first = False
            line = line.removeprefix("\ufeff")
        if line == "":
            if self._data:
                yield self._event or "message", "\n".join(self._data)
            self._event, self._data = "", []
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "error":  # llama.cpp
            self._event = "error"
            self._data.append(value)

    def close(self) -> Iterator[tuple[str, str]]:
        """Flush an event that was not followed by a blank line."""
        yield from self.feed("")

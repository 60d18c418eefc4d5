"""Server-sent events: lines in, (event, data) out. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterator


class SSEParser:
    """Feed it lines (without the newline); it yields (event, data) when an event ends."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Iterator[tuple[str, str]]:
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

    def close(self) -> Iterator[tuple[str, str]]:
        """Flush an event that was not followed by a blank line."""
        yield from self.feed("")

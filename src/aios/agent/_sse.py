"""Server-sent events: lines in, events out. Pure, no I/O.

The WHATWG event-stream rules, as servers really use them: line ends are LF, CRLF or a lone CR
(httpx's line reader splits on all three, also when a CRLF straddles two reads); a leading BOM
is dropped; comment lines (``: keep-alive``) and unknown fields (``id:``, ``retry:``) are
ignored; several ``data:`` lines make one event, joined with line feeds.

Beyond the standard:

- an event whose data is blank (``data:`` alone) carries nothing and is not dispatched;
- llama.cpp's server reports a failure mid-stream as an ``error: {...}`` line (a field the
  standard does not have) and then still sends ``data: [DONE]``; that line comes out as an
  ``error`` event, so the providers can raise the server's message;
- an event the body ends in without its closing blank line is still dispatched, marked
  ``ended=False``: a provider uses it when its JSON is whole (a server that omits the last line
  end) and reports a cut stream when it is not.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs


@attrs.frozen
class SSEEvent:
    """One dispatched event."""

    event: str
    """The ``event:`` field, ``message`` when there was none."""
    data: str
    ended: bool = True
    """False when the body ended before the blank line that closes this event."""


class SSEParser:
    """Feed it lines (without the line end); it yields an :class:`SSEEvent` when one ends."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def _dispatch(self, ended: bool) -> Iterator[SSEEvent]:
        event, data = self._event or "message", "\n".join(self._data)
        pending = bool(self._data)
        self._event, self._data = "", []
        if pending and (data.strip() or event == "error"):
            yield SSEEvent(event, data, ended)

    def feed(self, line: str) -> Iterator[SSEEvent]:
        if self._first:
            self._first = False
            line = line.removeprefix("\ufeff")
        if line == "":
            yield from self._dispatch(True)
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

    def close(self) -> Iterator[SSEEvent]:
        """The event the body ended in, if it was not followed by a blank line."""
        yield from self._dispatch(False)


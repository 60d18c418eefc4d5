"""Server-sent events: lines in, events out. Pure, no I/O.

The WHATWG event-stream rules, as servers really use them: line ends are LF, CRLF or a lone CR
and nothing else (:class:`LineSplitter`, also when a CRLF straddles two reads); a leading BOM
is dropped; comment lines (``: keep-alive``) and unknown fields (``id:``, ``retry:``) are
ignored; several ``data:`` lines make one event, joined with line feeds.

Beyond the standard:

- an event whose data is blank (``data:`` alone) carries nothing and is not dispatched;
- llama.cpp's server reports a failure mid-stream as an ``error: {...}`` line (a field the
  standard does not have) and then still sends ``data: [DONE]``; that line comes out as an
  ``error`` event, so the providers can raise the server's message;
- a body that holds no event at all but one JSON document, or JSON lines, comes out as events
  at :meth:`SSEParser.close` (servers that ignore ``stream`` and keep the label);
- an event the body ends in without its closing blank line is still dispatched, marked
  ``ended=False``: a provider uses it when its JSON is whole (a server that omits the last line
  end) and reports a cut stream when it is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs

MAX_LINE = 16 << 20
"""Characters a line may hold; no model server sends an event this long (a reply that never
ends a line would otherwise be buffered for as long as bytes keep coming)."""


class LineTooLong(ValueError):
    """A line went past :data:`MAX_LINE` without a line end."""


class LineSplitter:
    """Text in, whole lines out, ending lines only at CR, LF and CRLF.

    ``str.splitlines`` (and httpx's ``aiter_lines``, built on it) also breaks at U+2028,
    U+2029, U+0085 and a few control characters. JSON may carry the first three raw inside a
    string, and servers do write them so (llama.cpp's nlohmann ``dump``, pydantic-core in vLLM
    and SGLang, serde_json in TGI, Anthropic's API): split there, one event becomes two broken
    halves.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._pending: list[str] = []  # the line begun but not ended, in pieces (no quadratic +=)
        self._size = 0
        self._max = max_line
        self._cr = False  # the last piece ended in CR: a LF that starts the next one belongs to it

    def feed(self, text: str) -> list[str]:
        """The lines ``text`` ends (without their line ends).

        Raises:
            LineTooLong: the line being read is past the limit.
        """
        if self._cr:
            self._cr = False
            if text.startswith("\n"):
                text = text[1:]
        if not text:
            return []
        if "\n" not in text and "\r" not in text:
            self._pending.append(text)
            self._size += len(text)
            if self._size > self._max:
                raise LineTooLong(f"a line of more than {self._max >> 20} MiB without a line end")
            return []
        if "\r" in text:  # rare: normalise to LF, then split with C speed like the common case
            self._cr = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if self._pending:
            lines[0] = "".join(self._pending) + lines[0]
            self._pending, self._size = [], 0
        rest = lines.pop()
        if rest:
            self._pending.append(rest)
            self._size = len(rest)
        if len(lines[0]) > self._max or (len(text) > self._max and max(map(len, lines)) > self._max):
            raise LineTooLong(f"a line of more than {self._max >> 20} MiB without a line end")
        return lines

    def close(self) -> list[str]:
        """The last line, when the text ended without a line end."""
        rest = "".join(self._pending)
        self._pending, self._size = [], 0
        return [rest] if rest else []


def split_lines(text: str) -> list[str]:
    """``text`` in lines, ending them only at CR, LF and CRLF (see :class:`LineSplitter`)."""
    splitter = LineSplitter()
    return [*splitter.feed(text), *splitter.close()]


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

    STRAY_LIMIT = 1 << 20
    """Lines kept for :meth:`close` when a body labelled as an event stream is not one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._first = True
        self._dispatched = False
        self._stray: list[str] = []
        self._stray_size = 0

    def _dispatch(self, ended: bool) -> Iterator[SSEEvent]:
        event, data = self._event or "message", "\n".join(self._data)
        pending = bool(self._data)
        self._event, self._data = "", []
        if pending and (data.strip() or event == "error"):
            self._dispatched = True
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
        elif field not in ("id", "retry") and not self._dispatched and self._stray_size < self.STRAY_LIMIT:
            self._stray.append(line)
            self._stray_size += len(line)

    def close(self) -> Iterator[SSEEvent]:
        """The event the body ended in, if it was not followed by a blank line; or, when the
        body held no event at all, what it held instead: one JSON document (a server that
        ignored "stream" but kept the event-stream label), or JSON lines, one event each."""
        yield from self._dispatch(False)
        if self._dispatched or not self._stray:
            return
        whole = "\n".join(self._stray)
        try:
            json.loads(whole)
        except (ValueError, RecursionError):
            lines = [line for line in self._stray if line.strip()]
            if len(lines) < 2 or not all(line.lstrip().startswith(("{", "[")) for line in lines):
                return
            for line in lines:
                yield SSEEvent("message", line)
            return
        yield SSEEvent("message", whole)


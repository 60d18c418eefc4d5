"""A line the grammar rejects, read again without what changes nothing for the shell."""

from __future__ import annotations

from ._parse import ParsedLine, parse
from ._regex_cache import lazy

_STDIN_NOOP = lazy(r"(?<![\w$<>&])0?<\s*/dev/stdin(?=\s|$)|(?<![\w$<>&])0(?=<)")


def reparse(line: str) -> ParsedLine | None:
    """A line the grammar rejects, read again without what changes nothing for the shell: a
    ``0`` before ``<``/``<<`` (stdin is fd 0 anyway) and ``< /dev/stdin`` (stdin from stdin).
    None when that changes nothing or still does not parse (``sh 0<<EOF``, ``at now < /dev/stdin <<< …``)."""
    fixed = _STDIN_NOOP.sub("", line)
    if fixed == line:
        return None
    parsed = parse(fixed)
    return None if parsed.error else parsed

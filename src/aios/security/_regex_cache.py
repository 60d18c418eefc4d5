"""Compiled regular expressions kept between runs (the path classes' one large regex).

The path rules become one regex of several kilobytes (:class:`aios.security._paths.PathMatcher`);
``re.compile`` spends most of a warm ``aios policy check`` on it, in pure Python, and the result
cannot be pickled (a pickled pattern is compiled again when loaded). What ``re`` hands to its C
engine is plain data, though: flags, a list of opcodes and the group names. That is stored here,
under the sha256 of the pattern's text, the flags and the Python version, and handed to the
engine directly next time; the engine checks the opcodes itself (``invalid SRE code``) before it
runs any. Where this Python's ``re`` internals differ, it falls back to ``re.compile``.
"""

from __future__ import annotations

import marshal
import re
import sys
from typing import Any

from ._cachedir import CacheDir, sha256

KIND = "regex"

try:
    import _sre as _engine  # type: ignore[import-not-found,unused-ignore]
    from re import _compiler, _parser  # type: ignore[attr-defined,unused-ignore]

    _sre: Any = _engine
except ImportError:  # pragma: no cover - another Python: plain re.compile
    _sre = None


def compile_cached(cache: CacheDir | None, source: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(source, flags)``, from the cache when this pattern was compiled before.

    Args:
        cache: where compiled patterns are kept; None compiles as usual.
        source: the pattern.
        flags: ``re`` flags.
    """
    if cache is None or _sre is None:
        return re.compile(source, flags)
    key = sha256(repr((sys.version, int(flags), source)).encode()).hexdigest()
    body = cache.read(KIND, key)
    if body is not None:
        try:
            fl, code, groups, groupindex, indexgroup = marshal.loads(body)
            pattern: re.Pattern[str] = _sre.compile(source, fl, code, groups, groupindex, indexgroup)
            return pattern
        except Exception:
            pass
    try:
        parts = _parts(source, int(flags))
        pattern = _sre.compile(source, *parts)
    except Exception:
        return re.compile(source, flags)
    cache.write(KIND, key, marshal.dumps(parts))
    return pattern


def _parts(source: str, flags: int) -> tuple[Any, ...]:
    """What ``re._compiler.compile`` passes to ``_sre.compile`` after the pattern text."""
    p = _parser.parse(source, flags)
    code = _compiler._code(p, flags)
    groupindex = dict(p.state.groupdict)
    indexgroup: list[str | None] = [None] * p.state.groups
    for k, i in groupindex.items():
        indexgroup[i] = k
    # Plain ints: re's opcodes are int subclasses, which marshal does not store.
    return (int(flags | p.state.flags), [int(c) for c in code], p.state.groups - 1, groupindex, tuple(indexgroup))

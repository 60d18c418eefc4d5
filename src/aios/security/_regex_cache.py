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
from collections.abc import Callable, Iterator
from typing import Any

from ._cachedir import CacheDir, package_stamp, sha256

KIND = "regex"

try:
    import _sre as _engine  # type: ignore[import-not-found,unused-ignore]
    from re import _compiler, _parser  # type: ignore[attr-defined,unused-ignore]

    _sre: Any = _engine
except ImportError:  # pragma: no cover - another Python: plain re.compile
    _sre = None


def compile_cached(cache: CacheDir | None, source: str, flags: int = 0, *, create: bool = True) -> re.Pattern[str]:
    """``re.compile(source, flags)``, from the cache when this pattern was compiled before.

    Args:
        cache: where compiled patterns are kept; None compiles as usual.
        source: the pattern.
        flags: ``re`` flags.
        create: make the cache directory when it is missing.
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
    cache.write(KIND, key, marshal.dumps(parts), create=create)
    return pattern


def compile_named(cache: CacheDir | None, identity: str, source: Callable[[], str], flags: int = 0) -> re.Pattern[str]:
    """A regex found by a name for it rather than its text (``aios.security._paths.Compiler``):
    the path classes' regex is written out from a few hundred globs, which a warm run skips.

    The key holds the identity, the flags, the Python version and the source stamp of this
    package (the code that writes the regex out); the entry holds the text and the compiled form.
    """
    if cache is None or _sre is None:
        return re.compile(source(), flags)
    key = sha256(repr(("named", sys.version, package_stamp(), int(flags), identity)).encode()).hexdigest()
    body = cache.read(KIND, key)
    if body is not None:
        try:
            text, parts = marshal.loads(body)
            pattern: re.Pattern[str] = _sre.compile(text, *parts)
            return pattern
        except Exception:
            pass
    text = source()
    try:
        parts = _parts(text, int(flags))
        pattern = _sre.compile(text, *parts)
    except Exception:
        return re.compile(text, flags)
    cache.write(KIND, key, marshal.dumps((text, parts)))
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


_STORE: list[CacheDir] = []
"""The cache directory lazy patterns compile through (the last policy built with one set it)."""


def use_for_patterns(cache: CacheDir) -> None:
    """Let this process's :class:`LazyPattern` values come from ``cache`` too.

    Process-wide on purpose: a compiled pattern depends only on its text, flags and the Python
    version, all of which are in its key, so any policy's cache serves any pattern.
    """
    _STORE[:] = [cache]


class LazyPattern:
    """A module-level regex compiled when it is first used (most lines use few of them), through
    the pattern cache when a policy set one. Offers the ``re.Pattern`` methods the judge uses."""

    __slots__ = ("_compiled", "_flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str]:
        """The compiled pattern."""
        rx = self._compiled
        if rx is None:
            # Never creates the directory: a policy that named it may be long gone (tests).
            rx = self._compiled = compile_cached(_STORE[0] if _STORE else None, self.pattern, self._flags, create=False)
        return rx

    @property
    def flags(self) -> int:
        return self.get().flags

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.get().search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.get().match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.get().fullmatch(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        return self.get().finditer(string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        return self.get().findall(string, pos, endpos)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return self.get().split(string, maxsplit)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self.get().sub(repl, string, count)

    def subn(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> tuple[str, int]:
        return self.get().subn(repl, string, count)


def lazy(pattern: str, flags: int = 0) -> LazyPattern:
    """A :class:`LazyPattern` (write ``lazy(r"...")`` where a module would ``re.compile``)."""
    return LazyPattern(pattern, flags)

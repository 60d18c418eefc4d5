"""The built rules on disk: a policy starts from them instead of parsing rules.toml again.

Parsing rules.toml (and the owner's rules file), building the tables and running every rule's
examples costs a CLI far more than judging one line. The result depends only on the bytes of
the rules files, the ``security.allow`` list and regexes, and the code that reads them, so it
is stored under a key made of exactly those (sha256 of each rules file, the lists, the aios and
Python versions, and the size and time of every source file of this package).

The format is data only: ``marshal`` of tuples, dicts, frozensets and strings, where a list
stands for one of the rule classes named in :data:`_CLASSES` (its fields in order). Loading it
never runs code, and only a file this user wrote is loaded at all (:class:`CacheDir`).
"""

from __future__ import annotations

import marshal
import sys
from collections.abc import Sequence
from typing import Any

import attrs

import aios

from ._cachedir import CacheDir, package_stamp, sha256
from ._rules_model import (
    CommandSpec,
    EffectRule,
    EffectSpec,
    Example,
    InterpreterSpec,
    PathRule,
    PrefixRule,
    RuleSet,
    WrapperSpec,
    make_ruleset,
)
from ._rules_toml import builtin_bytes

FORMAT = 1
"""Bumped when the stored shape changes in a way the source stamp would not show."""
KIND = "rules"
_CLASSES: tuple[type, ...] = (PathRule, PrefixRule, EffectRule, EffectSpec, CommandSpec, WrapperSpec, InterpreterSpec,
                              Example)
_TAGS = {cls: i for i, cls in enumerate(_CLASSES)}
_FIELDS = {cls: getattr(cls, "_fields", None) or tuple(a.name for a in attrs.fields(cls) if a.init) for cls in _CLASSES}


def rules_key(rules_file: str | None, raw: bytes | None, allow: Sequence[str] | None, patterns: Sequence[str]) -> str:
    """The cache key of one rule set: what it was built from, and by which code.

    Args:
        rules_file: ``security.rules_file`` (None: built-in rules only).
        raw: that file's bytes, as read for this build.
        allow: ``security.allow`` (None: the built-in read-only set).
        patterns: the config regexes (``dangerous_patterns`` then ``require_confirm``), which the
            owner's examples are checked against.
    """
    head = repr((FORMAT, aios.__version__, sys.version, package_stamp(), rules_file,
                 None if allow is None else tuple(allow), tuple(patterns)))
    h = sha256(head.encode())
    h.update(sha256(builtin_bytes()).digest())
    h.update(b"-" if raw is None else sha256(raw).digest())
    return h.hexdigest()


def load(cache: CacheDir, key: str) -> RuleSet | None:
    """The rule set stored under ``key``; None when there is none to trust or it does not decode."""
    body = cache.read(KIND, key)
    if body is None:
        return None
    try:
        data = marshal.loads(body)
        fmt, stored_key, parts = data
        if fmt != FORMAT or stored_key != key:
            return None
        paths, prefixes, effects, commands, wrappers, shells, shell_args, interpreters, readonly, examples = parts
        return make_ruleset(
            _dec(paths), _dec(prefixes), _dec(effects), _dec(commands), _dec(wrappers), shells, shell_args,
            _dec(interpreters), _dec(readonly), _dec(examples),
        )
    except Exception:
        return None


def store(cache: CacheDir, key: str, rules: RuleSet) -> bool:
    """Store ``rules`` under ``key`` (after its examples held); False when nothing was written."""
    parts = (rules.paths, rules.prefixes, rules.effects, rules.commands, rules.wrappers, rules.shells,
             rules.shell_arg_options, rules.interpreters, rules.readonly, rules.examples)
    try:
        body = marshal.dumps((FORMAT, key, tuple(_enc(p) for p in parts)))
    except (TypeError, ValueError):
        return False
    return cache.write(KIND, key, body)


_TUPLE = -1
"""The tag of a tuple that holds rule objects (a tuple of plain values is stored as itself)."""


def _enc(v: Any) -> Any:
    t = type(v)
    tag = _TAGS.get(t)
    if tag is not None:
        return [tag, *(_enc(getattr(v, n)) for n in _FIELDS[t])]
    if t is tuple:
        items = [_enc(x) for x in v]
        return [_TUPLE, *items] if any(type(x) in (list, dict) for x in items) else tuple(items)
    if t is dict:
        return {k: _enc(x) for k, x in v.items()}
    if t is frozenset and all(type(x) is str for x in v):
        return v
    if v is None or t in (str, int, bool):
        return v
    raise TypeError(f"cannot store a {t.__name__} in the rules cache")


def _dec(v: Any) -> Any:
    # Only lists (rule objects, tuples of them) and dicts (name -> spec) need work: a plain
    # tuple, frozenset or string comes out of marshal as it went in.
    t = type(v)
    if t is list:
        items = [_dec(x) if type(x) in _NESTED else x for x in v[1:]]
        return tuple(items) if v[0] == _TUPLE else _CLASSES[v[0]](*items)
    if t is dict:
        return {k: _dec(x) for k, x in v.items()}
    return v


_NESTED = frozenset({list, dict})

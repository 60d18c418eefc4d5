"""Shell loops that are fork bombs: endless (``while :; do … & done``, ``for ((;;))``) or so long
that they are as good as endless (``for i in $(seq 1 1000000); do … & done``), starting a
background job every turn with nothing in them that waits or breaks out."""

from __future__ import annotations

import re

from tree_sitter import Node

from ._expand import node_text
from ._forks import HUGE
from ._regex_cache import lazy

_ALWAYS = {"while": (":", "true", "/bin/true", "/usr/bin/true", "[ 1 ]", "((1))", "test 1", "[[ 1 ]]"),
           "until": ("false", "/bin/false", "/usr/bin/false", "! :", "! true")}


_TEST = lazy(r"(?:\[\[?|test)\s+(?:(?P<one>[\w.]+)|(?P<a>[\w.]+)\s*(?P<op>==?|!=|-eq|-ne)\s*(?P<b>[\w.]+))\s*\]?\]?")


def _constant(cond: str, want: bool) -> bool:
    """Whether a loop test is always ``want``: ``true``, ``[ 1 ]``, ``[ 1 = 0 ]``, ``((1))`` …"""
    if cond in _ALWAYS["while" if want else "until"]:
        return True
    m = _TEST.fullmatch(cond)
    if m is None:
        m2 = re.fullmatch(r"\(\(\s*(\d+)\s*\)\)", cond)
        return m2 is not None and (int(m2.group(1)) != 0) == want
    if m.group("one") is not None:
        return want  # `[ STRING ]` is true for any non-empty literal
    same = m.group("a") == m.group("b")
    return (same if m.group("op") in ("=", "==", "-eq") else not same) == want


def endless_spawner(node: Node) -> bool:
    """``while :; do … & done``: a loop that never ends and starts a background job each turn
    (nothing in it waits or breaks out)."""
    kw = node.children[0].type if node.children else ""
    cond = node.child_by_field_name("condition")
    body = node.child_by_field_name("body")
    if body is None:
        return False
    if node.type == "c_style_for_statement":
        # `for ((;;))`, `for ((i=0;1;i++))`: no test, or a constant non-zero one, never ends.
        if cond is not None and not re.fullmatch(r"\s*0*[1-9]\d*\s*", node_text(cond)):
            return False
    elif cond is None or kw not in _ALWAYS or not _constant(node_text(cond).strip().rstrip(";").strip(), kw == "while"):
        return False
    return _spawns(body)


_RANGE = lazy(r"\$\(\s*seq\s+(?:-\S+\s+)*(?:(-?\d+)\s+)?(?:(-?\d+)\s+)?(\d+)\s*\)|\{(-?\d+)\.\.(-?\d+)(?:\.\.\d+)?\}")


def huge_spawner(node: Node) -> bool:
    """``for i in $(seq 1 1000000)`` or ``{1..1000000}`` whose body starts a background job."""
    body = node.child_by_field_name("body")
    values = [c for i, c in enumerate(node.children) if node.field_name_for_child(i) == "value"]
    turns = 0
    for v in values:
        for m in _RANGE.finditer(node_text(v)):
            if m.group(3) is not None:
                turns += int(m.group(3)) - int(m.group(1) or 1) + 1 if m.group(2) is None else \
                    (int(m.group(3)) - int(m.group(1))) // max(abs(int(m.group(2))), 1) + 1
            else:
                turns += abs(int(m.group(5)) - int(m.group(4))) + 1
    return body is not None and turns >= HUGE and _spawns(body)


def _spawns(body: Node) -> bool:
    background = stops = False
    stack = list(body.children)
    while stack:
        n = stack.pop()
        if n.type == "&" and not n.is_named:
            background = True
        elif n.type == "command_name" and node_text(n) in ("wait", "break", "exit", "return"):
            stops = True
        stack.extend(n.children)
    return background and not stops

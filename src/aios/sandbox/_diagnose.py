"""Reading a jailed command's failure: did it lack access, and which hidden paths did it name?

A command that fails inside the jail for lack of access (a read-only system directory, a file
the sandbox user may not read) says so on stderr in the C library's words; the bash tool turns
that into a sentence and, where the mode allows, an offer to run the command on the host inside
a snapshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

_READ_ONLY = re.compile(r"Read-only file system|EROFS")
_DENIED = re.compile(r"Permission denied|Operation not permitted|EACCES|EPERM")
MAX_LINES = 5


def access_failures(stderr: str) -> tuple[str, ...]:
    """The first few stderr lines that report missing access to a file: "Read-only file
    system", or "Permission denied"/"Operation not permitted" on a line naming a path (not
    ssh's "Permission denied (publickey)", which no host profile would cure)."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if _READ_ONLY.search(line) or (_DENIED.search(line) and "/" in line)
    ]
    return tuple(line[:300] for line in lines[:MAX_LINES])


def named_hidden(words: Iterable[str], hidden: Sequence[str]) -> list[str]:
    """The hidden paths a command's absolute path words reach: the path itself, a directory
    holding it (``ls /tmp`` with ``/tmp/aios-0`` hidden) or something inside it."""
    paths = set()
    for word in words:
        w = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if w.startswith("~"):
            w = os.path.expanduser(w)
        if os.path.isabs(w):
            paths.add(os.path.normpath(w))
    found = []
    for h in hidden:
        if any(h == p or h.startswith(p.rstrip("/") + "/") or p.startswith(h + "/") for p in paths):
            found.append(h)
    return found

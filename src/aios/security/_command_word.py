"""The program word of a command when it is not written out: a variable of the daemon's own
environment (``"$EDITOR" file``) or a glob in the program path (``/???/r?``)."""

from __future__ import annotations

import glob as globmod
import os
import posixpath

from ._findings import MAX_VALUES
from ._paths import Paths
from ._regex_cache import lazy
from ._words import DYN, Word, literal

_ENV_WORD = lazy(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def from_environment(word: Word) -> list[Word] | None:
    """``"$EDITOR" file``: a program named by a variable of the daemon's own environment (set by
    its owner, not by the line) is that program; None for anything else."""
    m = _ENV_WORD.match(word.text)
    value = os.environ.get(m.group(1), "") if m is not None else ""
    if not value.strip() or DYN in value:
        return None
    return [literal(p) for p in value.split()]


def program_matches(paths: Paths, word: Word, cwd: str | None) -> list[str] | None:
    """What a glob in a program path (``/???/r?``) names on this machine now; None when more
    than :data:`MAX_VALUES` do. Names without a slash expand in the working directory and
    are then looked up on PATH, so the match's file name is the program."""
    path = paths.abspath(word.value, cwd)
    if path is None:
        return []
    found = sorted(globmod.glob(path))[: MAX_VALUES + 1]
    if len(found) > MAX_VALUES:
        return None
    if "/" not in word.value:
        return [posixpath.basename(f) for f in found]
    return found

"""Options that change a program's working directory (``tar -C /root``, ``git -C``, ``env --chdir``).

Such an option makes the program's relative operands mean paths under that directory:
``tar -C /root -czf - .ssh`` reads ``/root/.ssh``. Whatever the program, its relative words are
judged under each directory it is told to change to, and a directory that is itself a secret
(``git -C /root/.ssh …``) is read by the program working in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._findings import Context
from ._regex_cache import lazy
from ._words import DYN, Word

if TYPE_CHECKING:
    from ._judge import Judge

CHDIR_LONG = frozenset({"--directory", "--chdir", "--cwd", "--workdir", "--work-dir", "--working-directory",
                        "--working-dir", "--wd", "--cd"})
"""Long options whose value is the directory the program works in."""
CHDIR_SHORT = frozenset({"-C", "-D"})
"""Short options that change directory for tar, git, make, env (``-C``), sudo (``-D``) …; only a
value that looks like a path counts (``grep -C 3`` is context lines)."""
_PROPERTY = "WorkingDirectory="
"""``systemd-run -p WorkingDirectory=/etc …``: a unit property that changes directory."""
_DIR_LIKE = lazy(r"^(?:/|~|\.\.?(?:/|$))|/")
MAX_DIRS = 3
"""Distinct directories one command is judged under (``tar -C a x -C b y``)."""


def guessed_options(args: Sequence[Word]) -> frozenset[str]:
    """Change-dir options of a program without an entry, written ``--chdir DIR``: they take the
    next word as their value (with ``--chdir=DIR`` the parser sees the value anyway)."""
    out = set()
    for k, w in enumerate(args[:-1]):
        if w.value in CHDIR_LONG and not args[k + 1].value.startswith("-"):
            out.add(w.value)
    return frozenset(out)


def directories(judge: Judge, values: Sequence[tuple[str, Word]], ctx: Context) -> list[tuple[Word, str | None]]:
    """The (value, absolute directory) pairs the options in ``values`` change to; None for a
    directory only known when the line runs."""
    out: list[tuple[Word, str | None]] = []
    for opt, w in values:
        if w.value.startswith(_PROPERTY) and len(w.values) == 1:
            v = w.value[len(_PROPERTY):].lstrip("-!+")
            opt, w = "--chdir", Word(v, (v,), w.dynamic, w.glob)
        if opt not in CHDIR_LONG and opt not in CHDIR_SHORT:
            continue
        if opt in CHDIR_SHORT and not (w.dynamic or _DIR_LIKE.search(w.value)):
            continue
        path = None if (w.dynamic or DYN in w.value or len(w.values) != 1) else judge.paths.abspath(w.value, ctx.cwd)
        if all(p != path for _, p in out):
            out.append((w, path))
    return out[:MAX_DIRS]


def under(ctx: Context, dirs: Sequence[tuple[Word, str | None]], judge_once: Callable[[], None]) -> None:
    """Run ``judge_once`` with ``ctx.cwd`` set to each directory in turn (unknown: None, so
    relative paths are unknown), then put the working directory back: the option changes
    directory for this one program, not for the rest of the line."""
    saved = ctx.cwd
    try:
        for _, path in dirs:
            ctx.cwd = path
            judge_once()
    finally:
        ctx.cwd = saved

"""Files a line writes from its own stdin: ``tee x <<< TEXT``, ``dd of=x``, ``cp /dev/stdin x``,
``install -m755 /dev/stdin x``.

What the file holds is the here-string's or the pipe's text, so a script run later in the same
line (``; sh x``, ``; ./x``) is judged by that text, as ``echo TEXT > x; sh x`` already is. A pipe
from a download makes the file a download (remote code when run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._findings import Context
from ._names import DOWNLOADERS, upstream
from ._words import SimpleCommand, Word

if TYPE_CHECKING:
    from ._judge import Judge

_STDIN = frozenset({"-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"})
_INSTALL_ARGS = frozenset({"-m", "--mode", "-o", "--owner", "-g", "--group", "-S", "--suffix"})


def _targets(name: str, args: list[Word]) -> list[Word]:
    """The files ``name`` fills with its stdin (none when it copies something else)."""
    if any(w.dynamic for w in args):
        return []
    if name == "tee":
        return [w for w in args if not w.value.startswith("-")]
    if name == "dd":
        if any(w.value.startswith("if=") and w.value[3:] not in _STDIN for w in args):
            return []
        return [Word(w.text[3:], (w.value[3:],)) for w in args if w.value.startswith("of=")]
    if name not in ("cp", "install"):
        return []
    operands: list[Word] = []
    skip = False
    for w in args:
        if skip:
            skip = False
        elif w.value.startswith("-") and w.value != "-":
            skip = name == "install" and w.value in _INSTALL_ARGS
        else:
            operands.append(w)
    if len(operands) == 2 and operands[0].value in _STDIN:
        return [operands[1]]
    return []


def stdin_copies(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context) -> None:
    """Remember what the files ``name`` writes from stdin will hold (``ctx.files``)."""
    from ._shells import pipe_text  # (here: _shells imports the modules this one is imported by)

    st = cmd.stdin
    if st is None or st.dynamic:
        return
    targets = _targets(name, args)
    if not targets:
        return
    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    if text is None and not (st.source is not None and upstream(st.source) & DOWNLOADERS):
        return
    for w in targets:
        path = judge.paths.abspath(w.value, ctx.cwd)
        if path is not None:
            ctx.files[path] = text

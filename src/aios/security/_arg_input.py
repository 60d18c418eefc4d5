"""Input a command reads: stdin from a process substitution, and the items xargs and parallel
append to their command (from stdin, ``-a FILE`` or ``:::: FILE``).

An item is known when the line tells what it is: the text a literal producer pipes in (``echo /usr |
xargs …``), a here-string, what a ``find``/``ls``/``git ls-files`` in front of it lists, and, the
same way, a file the items are read from: a process substitution (``xargs -a <(echo /usr) rm -rf``,
``parallel … :::: <(…)``, ``xargs … < <(…)``) or a file this line wrote earlier (``echo /usr > l;
xargs -a l rm -rf``, ``xargs … < l``, ``cat l | xargs …``). Anything else is one unknown word.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._config_files import written_text
from ._findings import Context
from ._names import base
from ._parse import parse
from ._paths import GLOB_CHARS
from ._words import DYN, SimpleCommand, Stdin, Word, find_globs, literal, literal_output

if TYPE_CHECKING:
    from ._judge import Judge

ARG_FILE_OPTIONS = frozenset({"-a", "--arg-file"})
FILE_SEPARATORS = frozenset({"::::", "::::+"})
"""parallel's separators whose items are files of arguments, not arguments."""


def glued(args: list[Word]) -> list[Word]:
    """``--arg-file=<(…)``: bash substitutes inside the word, the grammar splits it in two."""
    out: list[Word] = []
    for w in args:
        if out and out[-1].text.endswith("=") and out[-1].text.startswith("-") and w.text.startswith("<("):
            prev = out.pop()
            w = Word(prev.text + w.text, tuple(prev.value + v for v in w.values), True, w.glob)
        out.append(w)
    return out


def file_items(judge: Judge, file: Word, ctx: Context, *, lines: bool, label: str) -> list[Word]:
    """The items in a file of arguments (``-a FILE``), or one unknown word."""
    text = file.text.split("=", 1)[1] if file.text.startswith("-") and "=" in file.text else file.text
    if text.startswith("<(") and text.endswith(")"):
        inner = parse(text[2:-1]).commands
        found = source_items(judge, inner[-1], ctx, lines) if len(inner) == 1 else None
        return found or [literal(DYN)]
    written = written_text(judge, file, ctx, "dyn.arg-file", f"{label} reads its arguments from {file.text}, which this "
                           "line downloads")
    if written is None or DYN in written:
        return [literal(DYN)]
    return split_input(written, lines)


def stdin_items(judge: Judge, cmd: SimpleCommand, ctx: Context, *, lines: bool = False) -> list[Word]:
    """What xargs appends from its standard input (``lines``: whole lines, as ``xargs -I`` reads them)."""
    st = cmd.stdin
    if st is not None and st.kind == "pipe" and st.source is not None and st.source.words:
        found = source_items(judge, st.source, ctx, lines)
        if found is not None:
            return found
    if st is not None and st.kind == "text" and st.text is not None and DYN not in st.text and not st.dynamic:
        return split_input(st.text, lines)
    for r in cmd.redirects if st is None else ():
        if r.op == "<" and r.target is not None and (r.fd in (None, "0")):
            # `xargs rm -rf < list`: the file is stdin.
            return file_items(judge, r.target, ctx, lines=lines, label=base(cmd.words[0].value) if cmd.words else "xargs")
    return [literal(DYN)]


def source_items(judge: Judge, src: SimpleCommand, ctx: Context, lines: bool) -> list[Word] | None:
    """The words a producer writes when the line tells (literal text, a listing, a file it wrote)."""
    if not src.words:
        return None
    sname = base(src.words[0].value)
    found = find_globs(src)
    if found is not None:
        # `find /home -name id_rsa -print0 | xargs -0 cat`: also any file of that name below.
        return [literal(g, glob=True) for g in found]
    text = literal_output(src)
    if text is not None:
        return split_input(text, lines)
    listing = listing_dir(src)
    if listing is not None:
        return [literal(listing.rstrip("/") + "/*" if listing != "/" else "/*", glob=True)]
    if sname == "cat" and len(src.words) == 2 and not src.words[1].value.startswith("-"):
        # `echo /usr > l; cat l | xargs rm -rf`: the text this line wrote there.
        return file_items(judge, src.words[1], ctx, lines=lines, label="cat")
    return None


def listing_dir(src: SimpleCommand) -> str | None:
    """The directory whose entries a listing command (ls, git ls-files, grep -l) prints."""
    if any(w.dynamic for w in src.words):
        return None
    argv = [w.value for w in src.words]
    name = base(argv[0])
    if name == "ls":
        paths = [a for a in argv[1:] if not a.startswith("-")]
    elif name == "git" and "ls-files" in argv:
        paths = []
    elif name in ("grep", "rg", "egrep") and any(re.fullmatch(r"-[a-zA-Z]*[lL][a-zA-Z]*", a) for a in argv[1:]):
        ops = [a for a in argv[1:] if not a.startswith("-")]
        paths = ops[1:]
    else:
        return None
    if not paths:
        return "."
    return paths[0] if len(paths) == 1 and not GLOB_CHARS.search(paths[0]) else None


def split_input(text: str, lines: bool) -> list[Word]:
    """Items as xargs splits them: on blanks, or on newlines and NULs (``lines``)."""
    if lines:
        return [literal(p.strip()) for p in re.split(r"[\n\0]", text) if p.strip()]
    return [literal(p) for p in text.split()]


def substituted_stdin(cmd: SimpleCommand) -> SimpleCommand:
    """``sh < <(echo 'rm -rf /')``: standard input read from a process substitution is a pipe
    from the command inside it (one simple command; else a pipe of unknown text)."""
    for r in cmd.redirects:
        if cmd.stdin is None and r.op == "<" and r.target is not None and r.target.text.startswith("<(") \
                and r.target.text.endswith(")"):
            inner = parse(r.target.text[2:-1]).commands
            return cmd._replace(stdin=Stdin("pipe", source=inner[-1] if len(inner) == 1 else None))
    return cmd


def names_on_stdin(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``echo /root/.ssh/id_rsa | cpio -o``, ``… | tar -czf x.tgz -T -``, ``… | zip x.zip -@``: the
    program reads the files whose names its standard input lists."""
    vals = [w.value for w in args]
    flags = "".join(v[1:] for v in vals if re.fullmatch(r"-[a-zA-Z]+", v))
    if name == "cpio":
        reads = "o" in flags or "p" in flags or "--create" in vals or "--pass-through" in vals
    elif name == "zip":
        reads = "-@" in vals or "--names-stdin" in vals
    else:
        reads = any(v in ("-T-", "--files-from=-", "--files-from=/dev/stdin") or (v in ("-T", "--files-from")
                    and vals[k + 1 : k + 2] in (["-"], ["/dev/stdin"])) for k, v in enumerate(vals))
    if not reads:
        return
    for item in stdin_items(judge, cmd, ctx, lines=True)[:8]:
        if DYN not in item.value:
            judge.effect("read", item, ctx, f"{name} (a file named on its standard input)")

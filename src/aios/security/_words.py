"""The values a parse produces (words, redirections, simple commands) and shell text rules.

Pure helpers shared by the parser and the judge: brace expansion, quoting and escapes, what a
literal ``echo``/``printf`` prints.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from ._regex_cache import lazy

if TYPE_CHECKING:
    from tree_sitter import Node

DYN = "\ue000"
"""Stands for text that is only known when the command runs (``$x``, ``$(...)``)."""

MAX_NESTING = 150
"""Deeper syntax trees are not walked (the line is reported as an error: never allowed silently)."""

MAX_ALTERNATIVES = 32
"""Brace expansions and loop values beyond this many alternatives are cut (judging stays strict:
the first ones are kept and the word is marked dynamic)."""

_GLOB_RE = lazy(r"(?<!\\)[*?\[]")
_BRACE_RE = lazy(r"\{([^{}]*)\}")
_SEQ_RE = lazy(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])$")
_ANSI_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
    "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}
_ANSI_RE = lazy(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.S)


class Word(NamedTuple):
    """One argv word.

    Attributes:
        text: as written after unquoting; expansions keep their source spelling (``$x``).
        values: what the policy judges: brace/loop alternatives, ``~`` for the home directory,
            :data:`DYN` where text is only known at run time.
        dynamic: some part is only known at run time.
        glob: an unquoted ``*``, ``?`` or ``[`` (pathname expansion).
    """

    text: str
    values: tuple[str, ...]
    dynamic: bool = False
    glob: bool = False

    @property
    def value(self) -> str:
        """The first alternative (the only one for most words)."""
        return self.values[0] if self.values else ""


class Redirect(NamedTuple):
    """A redirection: ``op`` is ``>``, ``>>``, ``<``, ``&>``, ``>&``, ``<>``, ``>|`` …"""

    op: str
    fd: str | None
    target: Word | None

    @property
    def writes(self) -> bool:
        """It opens its target for writing (``2>&1`` and ``>&-`` do not)."""
        return self.target is not None and self.op not in ("<", "<&", "<<", "<<<")


class Stdin(NamedTuple):
    """What feeds a command's standard input.

    Attributes:
        kind: ``pipe`` (another command's output) or ``text`` (here-document/here-string).
        text: the literal text for here-documents and here-strings.
        source: the command writing into the pipe when it is one simple command.
        dynamic: the text has run-time parts.
    """

    kind: str
    text: str | None = None
    source: SimpleCommand | None = None
    dynamic: bool = False


class SimpleCommand(NamedTuple):
    """One simple command: argv words, prefix assignments, redirections, standard input."""

    words: tuple[Word, ...]
    assigns: tuple[tuple[str, Word], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    stdin: Stdin | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        """The words as written after unquoting."""
        return tuple(w.text for w in self.words)


class ParsedLine(NamedTuple):
    """A parsed command line.

    Attributes:
        commands: every simple command, in order (command substitutions before their user).
        error: the line does not parse cleanly (tree-sitter found a syntax error).
        fork_bombs: names of functions that call themselves in a pipe or in the background.
        assignments: shell variables set on their own (``x=1``, not ``x=1 cmd``).
    """

    commands: tuple[SimpleCommand, ...]
    error: bool
    fork_bombs: tuple[str, ...] = ()
    assignments: tuple[tuple[str, Word], ...] = ()


class Val(NamedTuple):
    alts: tuple[str, ...]
    dynamic: bool = False
    glob: bool = False


def product(parts: list[Val]) -> Val:
    alts: list[str] = [""]
    dynamic = glob = False
    for p in parts:
        dynamic |= p.dynamic
        glob |= p.glob
        alts = [a + b for a, b in itertools.product(alts, p.alts or ("",))]
        if len(alts) > MAX_ALTERNATIVES:
            alts = alts[:MAX_ALTERNATIVES]
            dynamic = True
    return Val(tuple(alts), dynamic, glob)


def unescape_word(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def unescape_dquoted(text: str) -> str:
    return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def ansi_c(body: str) -> str:
    def repl(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xuU":
            return chr(int(e[1:], 16))
        if e[0].isdigit():
            return chr(int(e, 8) & 0xFF)
        if e[0] == "c":
            return chr(ord(e[1]) & 0x1F)
        return _ANSI_ESCAPES.get(e, "\\" + e)

    return _ANSI_RE.sub(repl, body)


def expand_braces(text: str) -> list[str]:
    """Bash brace expansion of ``a{b,c}d`` and ``{1..3}`` (innermost first, capped)."""
    results = [text]
    for _ in range(8):
        changed = False
        nxt: list[str] = []
        for s in results:
            m = None
            for cand in _BRACE_RE.finditer(s):
                inner = cand.group(1)
                if "," in inner or _SEQ_RE.match(inner):
                    m = cand
                    break
            if m is None:
                nxt.append(s)
                continue
            changed = True
            inner = m.group(1)
            seq = _SEQ_RE.match(inner)
            items: list[str]
            if seq and "," not in inner:
                a, b = seq.group(1), seq.group(2)
                if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
                    lo, hi = int(a), int(b)
                    step = 1 if hi >= lo else -1
                    items = [str(n) for n in range(lo, hi + step, step)][:MAX_ALTERNATIVES]
                else:
                    lo, hi = ord(a), ord(b)
                    step = 1 if hi >= lo else -1
                    items = [chr(n) for n in range(lo, hi + step, step)][:MAX_ALTERNATIVES]
            else:
                items = inner.split(",")
            nxt.extend(s[: m.start()] + it + s[m.end() :] for it in items)
        results = nxt[:MAX_ALTERNATIVES]
        if not changed:
            break
    return results



def literal_output(cmd: SimpleCommand) -> str | None:
    """What a static ``echo``/``printf``/``which``/``command -v``/``pwd`` prints, else None."""
    if any(w.dynamic or len(w.values) != 1 for w in cmd.words) or not cmd.words:
        return None
    argv = [w.value for w in cmd.words]
    name = argv[0].rsplit("/", 1)[-1]
    args = argv[1:]
    if name == "echo":
        escapes = False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            escapes |= "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return _printf_escapes(text) if escapes else text
    if name == "printf" and args:
        fmt = args[0]
        if fmt in ("%s", "%s\\n", "%s\n"):
            return "".join(args[1:])
        if "%" not in fmt.replace("%%", ""):
            return _printf_escapes(fmt.replace("%%", "%")).strip("\n")
        return _printf_format(fmt, args[1:])
    if name in ("dirname", "basename") and len(args) == 1 and not args[0].startswith("-"):
        # `$(dirname /etc)` is `/`: resolved so that `rm -rf $(dirname /etc)` is judged on `/`.
        return os.path.dirname(args[0].rstrip("/") or "/") or "." if name == "dirname" else \
            os.path.basename(args[0].rstrip("/")) or "/"
    if name in ("which", "command", "type") and args:
        lookup = name == "which" or any(a in ("-v", "-V", "-p", "-P") for a in args)
        rest = [a for a in args if not a.startswith("-")]
        return rest[0] if rest and lookup else None
    if name == "pwd":
        return "."
    return None


def _printf_format(fmt: str, args: list[str]) -> str | None:
    """printf with a format of text, ``%s`` and ``%b`` only, reused until the arguments run out."""
    if re.search(r"%[^sb%]", fmt.replace("%%", "")) or not args:
        return None
    n = len(re.findall(r"%[sb]", fmt.replace("%%", "")))
    out = []
    for i in range(0, max(len(args), 1), max(n, 1)):
        chunk = iter(args[i : i + n])

        def fill(m: re.Match[str], c: Iterator[str] = chunk) -> str:
            return "%" if m.group() == "%%" else _printf_escapes(next(c, "")) if m.group() == "%b" else next(c, "")

        out.append(re.sub(r"%%|%[sb]", fill, _printf_escapes(fmt.replace("%%", "\0pct")).replace("\0pct", "%%")))
    return "".join(out).strip("\n")


def _printf_escapes(text: str) -> str:
    """printf's and ``echo -e``'s backslash escapes (``\\x72``, ``\\162``, ``\\n``)."""

    def repl(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] == "x":
            return chr(int(e[1:], 16))
        if e[0] in "01234567":
            return chr(int(e.lstrip("0") or "0", 8) & 0xFF)
        return _ANSI_ESCAPES.get(e, "\\" + e)

    return re.sub(r"\\(x[0-9A-Fa-f]{1,2}|0?[0-7]{1,3}|.)", repl, text)


def into(directory: Word, src: Word) -> Word:
    """The path ``src`` gets when copied or moved into ``directory`` (``cp -t DIR SRC``)."""
    return literal(directory.value.rstrip("/") + "/" + os.path.basename(src.value.rstrip("/")), glob=src.glob)


def literal(value: str, *, glob: bool = False) -> Word:
    """A word the policy made up (a path found inside another word, a placeholder filled in)."""
    return Word(value, (value,), DYN in value, glob)


def replace_placeholder(w: Word, placeholder: str, inputs: list[Word]) -> Word:
    """``w`` with ``placeholder`` (``{}`` of find -exec, xargs -I) replaced by the first input."""
    if placeholder not in w.value:
        return w
    sub = inputs[0] if inputs else literal(DYN)
    vals = tuple(v.replace(placeholder, sub.value) for v in w.values)
    text = w.text.replace(placeholder, sub.text) if not sub.dynamic else w.text
    return Word(text, vals, w.dynamic or sub.dynamic, w.glob or sub.glob)


def braced_positionals(root: Node, data: bytes) -> bytes | None:
    """``cat$IFS$9/etc/shadow``: the grammar ends a word at a ``$`` followed by a digit and starts
    another there, where bash reads ``$9``. The text with ``${9}`` instead, or None when no ``$``
    is left dangling so."""
    spots: list[int] = []
    todo = [root]
    while todo:
        n = todo.pop()
        if n.type == "$" and not n.is_named and n.parent is not None and n.parent.children[-1] == n \
                and data[n.end_byte : n.end_byte + 1].isdigit():
            spots.append(n.end_byte)
        todo.extend(n.children)
    for at in sorted(spots, reverse=True):
        data = data[:at] + b"{" + data[at : at + 1] + b"}" + data[at + 1 :]
    return data if spots else None


def find_globs(src: SimpleCommand) -> list[str] | None:
    """The files a literal ``find`` lists, as globs: ``START/*`` and, with ``-name N``,
    ``START/**/N`` (``find /home -name .netrc`` lists any ``.netrc`` below /home). None: not one."""
    if not src.words or src.words[0].value.rsplit("/", 1)[-1] != "find" or any(w.dynamic for w in src.words):
        return None
    starts = []
    for w in src.words[1:]:
        if w.value.startswith("-") or w.value in ("(", "!"):
            break
        starts.append(w.value)
    first = (starts or ["."])[0].rstrip("/")
    vals = [w.value for w in src.words]
    names = [vals[k + 1] for k, v in enumerate(vals[:-1]) if v in ("-name", "-iname") and "/" not in vals[k + 1]]
    return [first + "/*" if first else "/*", *(first + "/**/" + n for n in names[:1])]

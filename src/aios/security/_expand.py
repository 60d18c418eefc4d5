"""Word expansion as bash does it, as far as the line itself tells: the values a word can have.

Variables set earlier in the line (``x=rm; $x``), arrays of literals (``a=(rm -rf /)``),
``${x:-default}`` and friends, ``$IFS`` splitting (``rm${IFS}-rf``, ``IFS=,``), brace expansion,
quoting and escapes, and ``$(...)`` whose output is literal (``$(printf '\\x72m')``) are all
resolved, so the judge sees the words that will run. What stays unknown becomes :data:`DYN`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Sequence

from tree_sitter import Node

from ._words import (
    DYN,
    MAX_ALTERNATIVES,
    MAX_NESTING,
    SimpleCommand,
    Val,
    Word,
    ansi_c,
    expand_braces,
    find_globs,
    literal_output,
    product,
    unescape_dquoted,
    unescape_word,
)

SPLIT = "\ue001"
"""Where an unquoted expansion's value splits into separate words (an ``$IFS`` character)."""
DEFAULT_IFS = " \t\n"
_UNKNOWN = Val((DYN,), dynamic=True)
_DEFAULT_OPS = (":-", "-", ":=", "=")
_ALT_OPS = (":+", "+")
_POSITIONAL = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
_TRIM = re.compile(r"\$\{([A-Za-z_]\w*|\d)(//|/|##|#|%%|%)(.*)\}", re.S)


def _strip(value: str, pat: str, op: str) -> str:
    """``${v#pat}`` (shortest prefix), ``##`` (longest), ``%`` / ``%%`` (suffixes), ``pat`` a glob."""
    cuts = range(len(value) + 1) if op in ("#", "%%") else range(len(value), -1, -1)
    prefix = op.startswith("#")
    for k in cuts:
        if fnmatch.fnmatchcase(value[:k] if prefix else value[k:], pat):
            return value[k:] if prefix else value[:k]
    return value


def node_text(node: Node) -> str:
    """The source text of a node."""
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def _has_glob(raw: str) -> bool:
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] in "*?[":
            return True
        i += 1
    return False


class Expander:
    """The expansion state of one line: variables, arrays and ``IFS`` as assigned so far.

    Args:
        run: walks a statement node (a ``$(...)`` body) and returns the simple commands in it.
    """

    def __init__(self, run: Callable[[Node], list[SimpleCommand]]) -> None:
        self.run = run
        self.vars: dict[str, Val] = {}
        self.arrays: dict[str, tuple[Val, ...]] = {}
        self.ifs: str | None = DEFAULT_IFS
        """The field separators; None when set to something only known at run time."""
        self.globbed: set[str] = set()
        """Loop variables whose values are globs the ``for`` list already expanded: quoting
        ``"$f"`` later does not make them literal."""
        self.nesting = 0
        self.error = False

    # ---- words ---------------------------------------------------------------------------

    def word(self, node: Node) -> Word:
        """One word, unsplit (assignment values, redirection targets, here-strings)."""
        val, disp = self.eval(node, first=True)
        return Word(disp, tuple(a.replace(SPLIT, " ") for a in val.alts), val.dynamic, val.glob)

    def split_word(self, node: Node) -> list[Word]:
        """The words one argv node becomes after field splitting (``$x``, ``"${a[@]}"``)."""
        val, disp = self.eval(node, first=True)
        if not any(SPLIT in a for a in val.alts):
            return [Word(disp, val.alts, val.dynamic, val.glob)]
        fields = [[p for p in a.split(SPLIT) if p] for a in val.alts]
        if len({len(f) for f in fields}) != 1:
            fields = fields[:1]
        if not fields[0]:
            return []
        return [Word(parts[0], tuple(parts), val.dynamic, val.glob) for parts in zip(*fields, strict=True)]

    def eval(self, node: Node, *, first: bool = False, quoted: bool = False) -> tuple[Val, str]:
        """The value alternatives and the display spelling of a word-like node."""
        if self.nesting > MAX_NESTING:
            self.error = True
            return _UNKNOWN, node_text(node)
        self.nesting += 1
        try:
            return self._eval(node, first=first, quoted=quoted)
        finally:
            self.nesting -= 1

    def _eval(self, node: Node, *, first: bool, quoted: bool) -> tuple[Val, str]:
        t = node.type
        if t == "word":
            raw = node_text(node)
            glob = not quoted and _has_glob(raw)
            text = unescape_word(raw)
            if first and not quoted and raw.startswith("~"):
                head, sep, rest = text.partition("/")
                user = head[1:]
                home = "~" if not user else ("/root" if user == "root" else f"/home/{user}")
                return Val((home + sep + rest,), glob=glob), text
            if first and quoted and text.startswith("~"):
                text = "./" + text
            return Val((text,), glob=glob), text
        if t == "number":
            s = node_text(node)
            return Val((s,)), s
        if t == "raw_string":
            s = node_text(node)[1:-1]
            return Val((s if not (first and s.startswith("~")) else "./" + s,)), s
        if t == "ansi_c_string":
            s = ansi_c(node_text(node)[2:-1])
            return Val((s,)), s
        if t == "string":
            return self._string(node, first)
        if t == "translated_string":
            kids = node.named_children
            if kids:
                return self.eval(kids[0], first=first, quoted=True)
            return Val(("",)), ""
        if t == "concatenation":
            parts: list[Val] = []
            disp: list[str] = []
            brace = False
            for i, c in enumerate(node.named_children):
                v, d = self.eval(c, first=first and i == 0, quoted=quoted)
                if c.type == "word" and not quoted and "{" in node_text(c):
                    brace = True
                parts.append(v)
                disp.append(d)
            v = product(parts)
            if brace:
                alts = tuple(x for a in v.alts for x in expand_braces(a))[:MAX_ALTERNATIVES]
                v = Val(alts, v.dynamic, v.glob)
            return v, "".join(disp)
        if t in ("simple_expansion", "expansion"):
            return self.expansion(node, quoted), node_text(node)
        if t == "command_substitution":
            return self.substitution(node, quoted), node_text(node)
        if t == "process_substitution":
            for c in node.named_children:
                self.run(c)
            return _UNKNOWN, node_text(node)
        if t == "arithmetic_expansion":
            self.scan(node)
            return _UNKNOWN, node_text(node)
        if t == "ERROR":
            self.error = True
            self.scan(node)
            s = node_text(node)
            return Val((s,), dynamic=True), s
        s = node_text(node)
        self.scan(node)
        return Val((s,)), s

    def _string(self, node: Node, first: bool) -> tuple[Val, str]:
        parts: list[Val] = []
        globbed = False
        disp: list[str] = []
        for c in node.named_children:
            if c.type == "string_content":
                s = unescape_dquoted(node_text(c))
                parts.append(Val((s,)))
                disp.append(s)
            else:
                v, d = self.eval(c, quoted=True)
                parts.append(v)
                disp.append(d)
                name = c.named_children[0] if c.type in ("simple_expansion", "expansion") and c.named_children else None
                globbed |= name is not None and node_text(name) in self.globbed and v.glob
        v = product(parts)
        alts = v.alts
        kids = node.named_children
        if first and kids and kids[0].type == "string_content" and node_text(kids[0]).startswith("~"):
            alts = tuple("./" + a if a.startswith("~") else a for a in alts)
        return Val(alts, v.dynamic, globbed), "".join(disp)

    # ---- expansions ----------------------------------------------------------------------

    def lookup(self, name: str, quoted: bool) -> Val:
        """``$name``: its value as assigned in the line, split on ``IFS`` unless quoted."""
        if name in ("@", "*"):
            items = self.arrays.get("@")
            if items is None:
                return _UNKNOWN
            return self._join(items, split=name == "@" or not quoted)
        if name == "IFS":
            val = Val((self.ifs,)) if self.ifs is not None else _UNKNOWN
        elif name in self.vars:
            val = self.vars[name]
        elif name == "HOME":
            val = Val(("~",))
        elif name == "PWD":
            val = Val((".",))
        else:
            return _UNKNOWN
        if quoted or val.dynamic:
            return val
        if self.ifs is None:
            return _UNKNOWN  # word splitting no longer follows known separators
        return Val(tuple(self._mark(a) for a in val.alts), val.dynamic, val.glob)

    def _mark(self, text: str) -> str:
        for ch in self.ifs or "":
            text = text.replace(ch, SPLIT)
        return text

    def _join(self, items: tuple[Val, ...], *, split: bool) -> Val:
        sep = SPLIT if split else (self.ifs or " ")[:1]
        parts: list[Val] = []
        for i, it in enumerate(items):
            if i:
                parts.append(Val((sep,)))
            parts.append(it)
        return product(parts) if parts else Val(("",))

    def expansion(self, node: Node, quoted: bool) -> Val:
        """``$x``, ``${x}``, ``${x:-default}``, ``${a[@]}``, ``${a[0]}``; other operators are run-time."""
        kids = node.named_children
        if node.type == "simple_expansion":
            names = [c for c in kids if c.type in ("variable_name", "special_variable_name")]
            return self.lookup(node_text(names[0]), quoted) if names else _UNKNOWN
        text = node_text(node)
        if len(kids) == 1 and kids[0].type in ("variable_name", "special_variable_name") \
                and text == "${" + node_text(kids[0]) + "}":
            return self.lookup(node_text(kids[0]), quoted)
        if len(kids) == 1 and kids[0].type == "subscript":
            return self._subscript(kids[0], quoted)
        sliced = self._slice(node, quoted) if "$" not in text[2:] else None
        if sliced is None:
            sliced = self._trim(text, quoted)
        if sliced is not None:
            return sliced
        op = next((c for i, c in enumerate(node.children) if node.field_name_for_child(i) == "operator"), None)
        names = [c for c in kids if c.type == "variable_name"]
        if op is not None and names and node_text(op) in (":?", "?"):
            return self.lookup(node_text(names[0]), quoted)  # ${x:?message}: x, or the shell stops
        if op is not None and names and node_text(op) in (*_DEFAULT_OPS, *_ALT_OPS):
            return self._operator(node, node_text(names[0]), node_text(op), op, quoted)
        for c in kids:
            if c.type != "variable_name":
                self.scan(c)
        return _UNKNOWN

    def _slice(self, node: Node, quoted: bool) -> Val | None:
        """``${x:1}``, ``${PATH:0:1}``: a slice of a value set in the line (``PATH`` from the
        daemon's environment, which the jail keeps), so ``rm -rf ${PATH:0:1}`` is judged on ``/``."""
        parts = [c.type for c in node.children]
        if parts not in (["${", "variable_name", ":", "number", "}"], ["${", "variable_name", ":", "number", ":", "number", "}"]):
            return None
        name = node_text(node.children[1])
        if name == "HOME" and name not in self.vars and node_text(node).startswith("${HOME:0:1}"):
            return Val(("/",))  # any home is an absolute path
        if name in self.vars:
            val = self.vars[name]
        elif name == "PATH" and os.environ.get("PATH"):
            val = Val((os.environ["PATH"],))
        else:
            return _UNKNOWN
        if val.dynamic:
            return _UNKNOWN
        start = int(node_text(node.children[3]))
        end = start + int(node_text(node.children[5])) if len(parts) == 7 else None
        alts = tuple(a[start:end] for a in val.alts)
        return Val(alts if quoted or self.ifs is None else tuple(self._mark(a) for a in alts))

    def _trim(self, text: str, quoted: bool) -> Val | None:
        """``${f##*/}``, ``${1%.txt}``, ``${x//a/b}`` of a value set in the line: bash's prefix and
        suffix removal (glob patterns) and substitution (literal patterns), so that
        ``t=/ehhh/hmtc/sh; cat ${t//hhh\\/hm/}`` is judged on what it spells. None: not one of those."""
        m = _TRIM.fullmatch(text)
        if m is None:
            return None
        name, op, rest = m.groups()
        val = self.vars.get(name)
        if val is None or val.dynamic or "$" in rest or "`" in rest:
            return _UNKNOWN
        if op in ("/", "//"):
            cut = re.search(r"(?<!\\)/", rest)
            pat, rep = (rest[: cut.start()], rest[cut.end():]) if cut else (rest, "")
            pat, rep = unescape_word(pat), unescape_word(rep)
            if not pat or _has_glob(pat):
                return _UNKNOWN
            alts = tuple(a.replace(pat, rep, -1 if op == "//" else 1) for a in val.alts)
        else:
            pat = unescape_word(rest)
            alts = tuple(_strip(a, pat, op) for a in val.alts)
        out = Val(alts, val.dynamic, val.glob)
        return out if quoted or self.ifs is None else Val(tuple(self._mark(a) for a in alts), out.dynamic, out.glob)

    def _operator(self, node: Node, name: str, op: str, op_node: Node, quoted: bool) -> Val:
        after = False
        parts: list[Val] = []
        for c in node.children:
            if c == op_node:
                after = True
            elif after and c.is_named:
                parts.append(self.eval(c, quoted=quoted)[0])
        word = product(parts) if parts else Val(("",))
        known = self.vars.get(name)
        if op in _ALT_OPS:
            if known is None or known.dynamic:
                return _UNKNOWN
            empty = known.alts == ("",)
            return word if not (empty and op == ":+") else Val(("",))
        # ${x:-word}: x is not set in the line. The jail starts with a cleared environment,
        # so the default is what runs; x set earlier wins.
        if known is not None and not known.dynamic and not (op.startswith(":") and known.alts == ("",)):
            return self.lookup(name, quoted)
        if known is not None and known.dynamic:
            return _UNKNOWN
        if op in (":=", "="):
            self.vars[name] = word
        return word

    def _subscript(self, sub: Node, quoted: bool) -> Val:
        name_node = sub.child_by_field_name("name")
        index = sub.child_by_field_name("index")
        if name_node is None or index is None:
            return _UNKNOWN
        name, idx = node_text(name_node), node_text(index)
        items = self.arrays.get(name)
        if items is None:
            return _UNKNOWN
        if idx in ("@", "*"):
            return self._join(items, split=idx == "@" or not quoted)
        if idx.isdigit():
            return items[int(idx)] if int(idx) < len(items) else Val(("",))
        return _UNKNOWN

    def substitution(self, node: Node, quoted: bool) -> Val:
        """``$(...)``: its output when the command inside prints literal text."""
        made: list[SimpleCommand] = []
        for c in node.named_children:
            made += self.run(c)
        found = find_globs(made[-1]) if made and made[0].words and made[0].words[0].value == "find" else None
        if found is not None:
            # `for f in $(find /home -name .netrc); do cat $f; done`: any file the search matches.
            return Val(tuple(found), glob=True)
        if len(made) == 1:
            out = literal_output(made[0])
            if out is not None:
                out = out.rstrip("\n")
                return Val((out if quoted else self._mark(out),)) if self.ifs is not None or quoted else _UNKNOWN
        return _UNKNOWN

    def scan(self, node: Node) -> None:
        """Run the substitutions inside any node (test expressions, arithmetic, case patterns)."""
        if self.nesting > MAX_NESTING:
            self.error = True
            return
        for c in node.named_children:
            if c.type in ("command_substitution", "process_substitution"):
                self.eval(c)
            elif c.type == "ERROR":
                self.error = True
                self.scan(c)
            else:
                self.scan(c)

    def positional(self, words: Sequence[Word]) -> None:
        """``$1``…``$9``, ``$#`` and ``"$@"`` from here on (``set -- …``, a function's call, ``sh -c``).

        A word that is a glob (``set -- /var/log/*``, the ``{}`` of ``find -exec``) gives parameters
        that are each one of the files it matches, so quoting ``"$1"`` does not make them literal."""
        items = tuple(Val(w.values, w.dynamic, w.glob) for w in words)
        self.arrays["@"] = items
        for i, k in enumerate(_POSITIONAL):
            self.vars[k] = items[i] if i < len(items) else Val(("",))
            self.globbed.discard(k)
            if i < len(items) and items[i].glob:
                self.globbed.add(k)
        self.vars["#"] = Val((str(len(items)),))
        self.globbed.discard("@")
        if any(it.glob for it in items):
            self.globbed.add("@")

    # ---- assignments ---------------------------------------------------------------------

    def assign(self, node: Node) -> None:
        """``x=value``, ``a=(w1 w2)``, ``x+=more``, ``IFS=…``: remember what the name holds."""
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return
        name = node_text(name_node)
        if name_node.type == "subscript":
            base = name_node.child_by_field_name("name")
            self.arrays.pop(node_text(base) if base is not None else name, None)
            return
        if value_node is not None and value_node.type == "array":
            items = tuple(self.eval(c, first=True)[0] for c in value_node.named_children)
            self.arrays[name] = items
            self.vars[name] = items[0] if items else Val(("",))
            return
        val = self.eval(value_node)[0] if value_node is not None else Val(("",))
        val = Val(tuple(a.replace(SPLIT, " ") for a in val.alts), val.dynamic, val.glob)
        if "+=" in node_text(node)[: len(name) + 2]:
            val = _UNKNOWN
        self.arrays.pop(name, None)
        self.vars[name] = val
        # `f="$1"` where $1 is one of the files a glob matched: so is "$f". (`x=/var/log/*` is not:
        # an assignment does not expand a glob, so "$x" is those literal characters.)
        if val.glob and value_node is not None and value_node.type != "word":
            self.globbed.add(name)
        else:
            self.globbed.discard(name)
        if name == "IFS":
            self.ifs = val.alts[0] if not val.dynamic and len(val.alts) == 1 else None

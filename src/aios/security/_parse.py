"""Shell command lines → simple commands, with tree-sitter-bash.

The walk keeps what the policy needs and nothing else: every simple command (argv after
unquoting, in the order bash would meet them), its redirections, what feeds its standard input
(a pipe from another command, a here-document, a here-string), and which words are only known
at run time. Words carry two spellings: ``text`` as written after unquoting (what a person reads)
and ``values``, the alternatives the policy judges (brace expansion and ``for`` loop values
spread out, ``$HOME`` turned into ``~``, unknown expansions replaced by :data:`DYN`).

The parse is pure and cached: the same line always gives the same :class:`ParsedLine`.
"""

from __future__ import annotations

import functools
import itertools
import re

import tree_sitter_bash
from attrs import frozen
from tree_sitter import Language, Node, Parser

DYN = "\ue000"
"""Stands for text that is only known when the command runs (``$x``, ``$(...)``)."""

MAX_NESTING = 150
"""Deeper syntax trees are not walked (the line is reported as an error: never allowed silently)."""

MAX_ALTERNATIVES = 32
"""Brace expansions and loop values beyond this many alternatives are cut (judging stays strict:
the first ones are kept and the word is marked dynamic)."""

_LANGUAGE = Language(tree_sitter_bash.language())
_PARSER = Parser(_LANGUAGE)

_GLOB_RE = re.compile(r"(?<!\\)[*?\[]")
_BRACE_RE = re.compile(r"\{([^{}]*)\}")
_SEQ_RE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])$")
_ANSI_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
    "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}
_ANSI_RE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.S)


@frozen
class Word:
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


@frozen
class Redirect:
    """A redirection: ``op`` is ``>``, ``>>``, ``<``, ``&>``, ``>&``, ``<>``, ``>|`` …"""

    op: str
    fd: str | None
    target: Word | None

    @property
    def writes(self) -> bool:
        """It opens its target for writing (``2>&1`` and ``>&-`` do not)."""
        return self.target is not None and self.op not in ("<", "<&", "<<", "<<<")


@frozen
class Stdin:
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


@frozen
class SimpleCommand:
    """One simple command: argv words, prefix assignments, redirections, standard input."""

    words: tuple[Word, ...]
    assigns: tuple[tuple[str, Word], ...] = ()
    redirects: tuple[Redirect, ...] = ()
    stdin: Stdin | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        """The words as written after unquoting."""
        return tuple(w.text for w in self.words)


@frozen
class ParsedLine:
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


@frozen
class _Val:
    alts: tuple[str, ...]
    dynamic: bool = False
    glob: bool = False


def _product(parts: list[_Val]) -> _Val:
    alts: list[str] = [""]
    dynamic = glob = False
    for p in parts:
        dynamic |= p.dynamic
        glob |= p.glob
        alts = [a + b for a, b in itertools.product(alts, p.alts or ("",))]
        if len(alts) > MAX_ALTERNATIVES:
            alts = alts[:MAX_ALTERNATIVES]
            dynamic = True
    return _Val(tuple(alts), dynamic, glob)


def _unescape_word(text: str) -> str:
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


def _unescape_dquoted(text: str) -> str:
    return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _ansi_c(body: str) -> str:
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


_STATEMENT_SEPARATORS = frozenset({";", "&", "&&", "||", "|", "|&", "\n", ";;", "comment"})
_DUP_OPS = frozenset({">&", "<&", ">&-", "<&-"})


def _node_text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


class _Walker:
    """One walk over one parse tree. Variables assigned earlier in the line are remembered, so
    ``x=rm; $x -rf /`` is judged as ``rm -rf /``."""

    def __init__(self) -> None:
        self.vars: dict[str, _Val] = {}
        self.out: list[SimpleCommand] = []
        self.error = False
        self.fork_bombs: list[str] = []
        self.ifs_changed = False
        self.nesting = 0
        self.assignments: list[tuple[str, Word]] = []

    # ---- words -------------------------------------------------------------------------

    def word(self, node: Node) -> Word:
        val, disp = self.eval(node, first=True)
        return Word(disp, val.alts, val.dynamic, val.glob)

    def eval(self, node: Node, *, first: bool = False, quoted: bool = False) -> tuple[_Val, str]:
        """The value alternatives and the display spelling of a word-like node."""
        if self.nesting > MAX_NESTING:
            self.error = True
            return _Val((DYN,), dynamic=True), _node_text(node)
        self.nesting += 1
        try:
            return self._eval(node, first=first, quoted=quoted)
        finally:
            self.nesting -= 1

    def _eval(self, node: Node, *, first: bool, quoted: bool) -> tuple[_Val, str]:
        t = node.type
        if t == "word":
            raw = _node_text(node)
            glob = not quoted and bool(_GLOB_RE.search(raw))
            text = _unescape_word(raw)
            if first and not quoted and raw.startswith("~"):
                head, sep, rest = text.partition("/")
                user = head[1:]
                home = "~" if not user else ("/root" if user == "root" else f"/home/{user}")
                return _Val((home + sep + rest,), glob=glob), text
            if first and quoted and text.startswith("~"):
                text = "./" + text
            return _Val((text,), glob=glob), text
        if t == "number":
            s = _node_text(node)
            return _Val((s,)), s
        if t == "raw_string":
            s = _node_text(node)[1:-1]
            return _Val((s if not (first and s.startswith("~")) else "./" + s,)), s
        if t == "ansi_c_string":
            s = _ansi_c(_node_text(node)[2:-1])
            return _Val((s,)), s
        if t == "string":
            parts: list[_Val] = []
            disp: list[str] = []
            for c in node.named_children:
                if c.type == "string_content":
                    s = _unescape_dquoted(_node_text(c))
                    parts.append(_Val((s,)))
                    disp.append(s)
                else:
                    v, d = self.eval(c, quoted=True)
                    parts.append(v)
                    disp.append(d)
            v = _product(parts)
            alts = v.alts
            kids = node.named_children
            if first and kids and kids[0].type == "string_content" and _node_text(kids[0]).startswith("~"):
                alts = tuple("./" + a if a.startswith("~") else a for a in alts)
            return _Val(alts, v.dynamic, False), "".join(disp)
        if t == "translated_string":
            kids = node.named_children
            if kids:
                return self.eval(kids[0], first=first, quoted=True)
            return _Val(("",)), ""
        if t == "concatenation":
            parts = []
            disp = []
            brace = False
            for i, c in enumerate(node.named_children):
                v, d = self.eval(c, first=first and i == 0, quoted=quoted)
                if c.type == "word" and not quoted and "{" in _node_text(c):
                    brace = True
                parts.append(v)
                disp.append(d)
            v = _product(parts)
            if brace:
                alts = tuple(x for a in v.alts for x in expand_braces(a))[:MAX_ALTERNATIVES]
                v = _Val(alts, v.dynamic, v.glob)
            return v, "".join(disp)
        if t in ("simple_expansion", "expansion"):
            return self.expansion(node), _node_text(node)
        if t == "command_substitution":
            return self.substitution(node), _node_text(node)
        if t == "process_substitution":
            for c in node.named_children:
                self.stmt(c)
            return _Val((DYN,), dynamic=True), _node_text(node)
        if t == "arithmetic_expansion":
            self.scan(node)
            return _Val((DYN,), dynamic=True), _node_text(node)
        if t == "ERROR":
            self.error = True
            self.scan(node)
            s = _node_text(node)
            return _Val((s,), dynamic=True), s
        s = _node_text(node)
        self.scan(node)
        return _Val((s,)), s

    def lookup(self, name: str) -> _Val:
        if self.ifs_changed:
            return _Val((DYN,), dynamic=True)  # word splitting no longer follows spaces
        if name in self.vars:
            return self.vars[name]
        if name == "HOME":
            return _Val(("~",))
        if name == "PWD":
            return _Val((".",))
        return _Val((DYN,), dynamic=True)

    def expansion(self, node: Node) -> _Val:
        kids = node.named_children
        names = [c for c in kids if c.type == "variable_name"]
        if node.type == "simple_expansion":
            return self.lookup(_node_text(names[0])) if names else _Val((DYN,), dynamic=True)
        for c in kids:
            if c.type not in ("variable_name",):
                self.scan(c)
        # ${NAME} alone is the variable; any operator (${x:-y}, ${x#y}, ${!x}) is run-time.
        if len(kids) == 1 and names and _node_text(node) == "${" + _node_text(names[0]) + "}":
            return self.lookup(_node_text(names[0]))
        return _Val((DYN,), dynamic=True)

    def substitution(self, node: Node) -> _Val:
        start = len(self.out)
        for c in node.named_children:
            self.stmt(c)
        made = self.out[start:]
        if len(made) == 1:
            out = _literal_output(made[0])
            if out is not None:
                return _Val((out,))
        return _Val((DYN,), dynamic=True)

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

    # ---- statements --------------------------------------------------------------------

    def stmt(self, node: Node, stdin: Stdin | None = None) -> SimpleCommand | None:
        """Walk one statement; returns the simple command when the node is one."""
        if self.nesting > MAX_NESTING:
            self.error = True
            return None
        self.nesting += 1
        try:
            return self._stmt(node, stdin)
        finally:
            self.nesting -= 1

    def _stmt(self, node: Node, stdin: Stdin | None) -> SimpleCommand | None:
        t = node.type
        if t == "command":
            return self.command(node, stdin)
        if t == "redirected_statement":
            return self.redirected(node, stdin)
        if t == "pipeline":
            self.pipeline(node, stdin)
            return None
        if t == "variable_assignment":
            self.assign(node)
            name_node = node.child_by_field_name("name")
            value_node = node.child_by_field_name("value")
            if name_node is not None:
                val = self.vars.get(_node_text(name_node), _Val(("",)))
                text = _node_text(value_node) if value_node is not None else ""
                self.assignments.append((_node_text(name_node), Word(text, val.alts, val.dynamic, val.glob)))
            return None
        if t in ("declaration_command", "variable_assignments"):
            words: list[Word] = []
            if t == "declaration_command" and node.children:
                kw = _node_text(node.children[0])
                words.append(Word(kw, (kw,)))
            for c in node.named_children:
                if c.type == "variable_assignment":
                    self.assign(c)
                    n = c.child_by_field_name("name")
                    v = c.child_by_field_name("value")
                    name = _node_text(n) if n is not None else ""
                    known = self.vars.get(name, _Val(("",)))
                    shown = _node_text(v) if v is not None else ""
                    words.append(Word(f"{name}={shown}", tuple(f"{name}={a}" for a in known.alts), known.dynamic))
                elif c.type == "variable_name":
                    words.append(Word(_node_text(c), (_node_text(c),)))
                else:
                    words.append(self.word(c))
            if t == "declaration_command" and words:
                cmd = SimpleCommand(tuple(words), (), (), stdin)
                self.out.append(cmd)
                return cmd
            return None
        if t == "unset_command":
            for c in node.named_children:
                self.vars.pop(_node_text(c), None)
            return None
        if t == "for_statement":
            self.for_loop(node, stdin)
            return None
        if t == "function_definition":
            self.function(node)
            return None
        if t == "negated_command":
            for c in node.named_children:
                self.stmt(c, stdin)
            return None
        if t == "ERROR":
            self.error = True
        if t in _STATEMENT_SEPARATORS:
            return None
        if t in ("word", "string", "raw_string", "concatenation", "simple_expansion", "expansion",
                 "command_substitution", "process_substitution", "number", "ansi_c_string"):
            self.eval(node)
            return None
        for c in node.named_children:
            self.stmt(c, stdin)
        return None

    def assign(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return
        name = _node_text(name_node)
        if name == "IFS":
            self.ifs_changed = True
        val = self.eval(value_node)[0] if value_node is not None else _Val(("",))
        if "+=" in _node_text(node)[: len(name) + 2]:
            val = _Val((DYN,), dynamic=True)
        self.vars[name] = val

    def for_loop(self, node: Node, stdin: Stdin | None) -> None:
        var = node.child_by_field_name("variable")
        alts: list[str] = []
        dynamic = glob = False
        seen_value = False
        body: list[Node] = []
        for i, c in enumerate(node.children):
            field = node.field_name_for_child(i)
            if field == "value":
                seen_value = True
                v, _ = self.eval(c, first=True)
                alts.extend(v.alts)
                dynamic |= v.dynamic
                glob |= v.glob
            elif field == "body":
                body.append(c)
        if var is not None:
            if not seen_value:
                self.vars[_node_text(var)] = _Val((DYN,), dynamic=True)
            else:
                self.vars[_node_text(var)] = _Val(
                    tuple(alts[:MAX_ALTERNATIVES]) or ("",), dynamic or len(alts) > MAX_ALTERNATIVES, glob
                )
        for b in body:
            self.stmt(b, stdin)

    def function(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if body is None:
            return
        start = len(self.out)
        self.stmt(body)
        if name_node is not None:
            name = _node_text(name_node)
            calls = [c for c in self.out[start:] if c.words and c.words[0].value == name]
            text = _node_text(body)
            if calls and ("|" in text or "&" in text):
                self.fork_bombs.append(name)

    def pipeline(self, node: Node, stdin: Stdin | None, first_source: SimpleCommand | None = None) -> None:
        stages = [c for c in node.named_children if c.type != "comment"]
        prev: SimpleCommand | None = first_source
        for i, st in enumerate(stages):
            if i == 0 and first_source is None:
                s_in = stdin
            else:
                s_in = Stdin("pipe", source=prev)
            prev = self.stmt(st, s_in)

    def redirect(self, node: Node) -> Redirect:
        fd: str | None = None
        op = ""
        target: Word | None = None
        for i, c in enumerate(node.children):
            field = node.field_name_for_child(i)
            if c.type == "file_descriptor":
                fd = _node_text(c)
            elif field == "destination":
                if target is None:
                    target = self.word(c)
            elif not c.is_named and not op:
                op = c.type
        if op in _DUP_OPS and (target is None or target.value.isdigit() or target.value == "-"):
            target = None
        return Redirect(op, fd, target)

    def command(
        self, node: Node, stdin: Stdin | None, extra: tuple[Redirect, ...] = ()
    ) -> SimpleCommand:
        words: list[Word] = []
        assigns: list[tuple[str, Word]] = []
        redirects: list[Redirect] = []
        for i, c in enumerate(node.children):
            field = node.field_name_for_child(i)
            ct = c.type
            if ct == "variable_assignment":
                n = c.child_by_field_name("name")
                v = c.child_by_field_name("value")
                assigns.append(
                    (_node_text(n) if n else "", self.word(v) if v is not None else Word("", ("",)))
                )
            elif ct == "command_name":
                inner = c.named_children[0] if c.named_children else c
                words.extend(self.split_word(inner))
            elif ct == "file_redirect":
                redirects.append(self.redirect(c))
            elif ct == "herestring_redirect":
                kids = c.named_children
                if kids:
                    w = self.word(kids[-1])
                    stdin = Stdin("text", text=w.value, dynamic=w.dynamic)
            elif ct == "ERROR":
                self.error = True
                self.scan(c)
            elif field == "argument" or c.is_named:
                words.extend(self.split_word(c))
        cmd = SimpleCommand(tuple(words), tuple(assigns), tuple(redirects) + extra, stdin)
        if words and words[0].value == "read":
            for w in words[1:]:
                if not w.value.startswith("-"):
                    self.vars[w.value] = _Val((DYN,), dynamic=True)
        self.out.append(cmd)
        return cmd

    def split_word(self, node: Node) -> list[Word]:
        w = self.word(node)
        if (
            node.type in ("command_substitution", "simple_expansion", "expansion")
            and not w.dynamic
            and len(w.values) == 1
            and len(w.value.split()) > 1
        ):
            return [Word(p, (p,)) for p in w.value.split()]
        return [w]

    def redirected(self, node: Node, stdin: Stdin | None) -> SimpleCommand | None:
        body = node.child_by_field_name("body")
        redirects: list[Redirect] = []
        later: list[tuple[str, Node]] = []
        for i, c in enumerate(node.children):
            if node.field_name_for_child(i) == "body":
                continue
            if c.type == "file_redirect":
                redirects.append(self.redirect(c))
            elif c.type == "herestring_redirect":
                kids = c.named_children
                if kids:
                    w = self.word(kids[-1])
                    stdin = Stdin("text", text=w.value, dynamic=w.dynamic)
            elif c.type == "heredoc_redirect":
                stdin = self.heredoc(c, redirects, later)
            elif c.is_named:
                later.append(("stmt", c))
        result: SimpleCommand | None = None
        if body is not None and body.type == "command":
            result = self.command(body, stdin, tuple(redirects))
        else:
            if body is not None:
                self.stmt(body, stdin)
            if redirects:
                self.out.append(SimpleCommand((), (), tuple(redirects), None))
        for kind, n in later:
            if kind == "pipe":
                if n.type == "pipeline":
                    self.pipeline(n, None, first_source=result)
                else:
                    self.stmt(n, Stdin("pipe", source=result))
            else:
                self.stmt(n)
        return result

    def heredoc(self, node: Node, redirects: list[Redirect], later: list[tuple[str, Node]]) -> Stdin:
        quoted = False
        text = ""
        dynamic = False
        pipe_next = False
        for i, c in enumerate(node.children):
            ct = c.type
            if ct == "heredoc_start":
                quoted = any(q in _node_text(c) for q in "'\"\\")
            elif ct == "heredoc_body":
                text = _node_text(c)
                if not quoted:
                    for e in c.named_children:
                        if e.type in ("command_substitution", "process_substitution"):
                            self.eval(e)
                            dynamic = True
                        elif e.type in ("simple_expansion", "expansion"):
                            dynamic = True
            elif ct == "file_redirect":
                redirects.append(self.redirect(c))
            elif ct == "|" or ct == "|&":
                pipe_next = True
            elif c.is_named and ct not in ("heredoc_end", "heredoc_content"):
                if ct == "pipeline" or pipe_next:
                    later.append(("pipe", c))
                    pipe_next = False
                elif node.field_name_for_child(i) == "right" or ct != "ERROR":
                    later.append(("stmt", c))
        return Stdin("text", text=text, dynamic=dynamic)


def _literal_output(cmd: SimpleCommand) -> str | None:
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
        if re.fullmatch(r"(?:%[sb]|\\n| )*", fmt):
            return " ".join(_printf_escapes(a) for a in args[1:])
        return None
    if name in ("which", "command", "type") and args:
        lookup = name == "which" or any(a in ("-v", "-V", "-p", "-P") for a in args)
        rest = [a for a in args if not a.startswith("-")]
        return rest[0] if rest and lookup else None
    if name == "pwd":
        return "."
    return None


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


@functools.lru_cache(maxsize=4096)
def parse(line: str) -> ParsedLine:
    """Parse one command line (a script is fine too). Pure and cached."""
    tree = _PARSER.parse(line.encode("utf-8", "replace"))
    w = _Walker()
    w.stmt(tree.root_node)
    return ParsedLine(tuple(w.out), w.error or tree.root_node.has_error, tuple(w.fork_bombs), tuple(w.assignments))

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

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from ._expand import Expander, node_text
from ._forks import HUGE
from ._loops import endless_spawner, huge_spawner
from ._names import DOWNLOADERS
from ._regex_cache import lazy
from ._words import (
    DYN,
    MAX_ALTERNATIVES,
    MAX_NESTING,
    ParsedLine,
    Redirect,
    SimpleCommand,
    Stdin,
    Val,
    Word,
    braced_positionals,
    expand_braces,
)

__all__ = ["DYN", "ParsedLine", "Redirect", "SimpleCommand", "Stdin", "Word", "expand_braces", "parse"]

_LANGUAGE = Language(tree_sitter_bash.language())
_PARSER = Parser(_LANGUAGE)

_STATEMENT_SEPARATORS = frozenset({";", "&", "&&", "||", "|", "|&", "\n", ";;", "comment"})
_DUP_OPS = frozenset({">&", "<&", ">&-", "<&-"})


class _Walker:
    """One walk over one parse tree. Variables assigned earlier in the line are remembered, so
    ``x=rm; $x -rf /`` is judged as ``rm -rf /``; functions defined in the line are judged
    where they are called, with the arguments of the call."""

    def __init__(self, argv: tuple[Word, ...] | None = None) -> None:
        self.x = Expander(self.run)
        if argv:
            # `sh -c CODE NAME ARGS…`: $0 is NAME, $1… are ARGS (a found file stays any file it matches).
            self.x.vars["0"] = Val(argv[0].values, argv[0].dynamic, argv[0].glob)
            if argv[0].glob:
                self.x.globbed.add("0")
            self.x.positional(argv[1:])
        self.out: list[SimpleCommand] = []
        self.fork_bombs: list[str] = []
        self.assignments: list[tuple[str, Word]] = []
        self.functions: dict[str, tuple[Node, list[SimpleCommand]]] = {}
        """Name → body and the commands it holds with unknown arguments (judged if never called)."""
        self.called: set[str] = set()
        self.calling: list[str] = []

    @property
    def error(self) -> bool:
        return self.x.error

    def run(self, node: Node) -> list[SimpleCommand]:
        start = len(self.out)
        self.stmt(node)
        return self.out[start:]

    def word(self, node: Node) -> Word:
        return self.x.word(node)

    # ---- statements --------------------------------------------------------------------

    def stmt(self, node: Node, stdin: Stdin | None = None) -> SimpleCommand | None:
        """Walk one statement; returns the simple command when the node is one."""
        if self.x.nesting > MAX_NESTING:
            self.x.error = True
            return None
        self.x.nesting += 1
        try:
            return self._stmt(node, stdin)
        finally:
            self.x.nesting -= 1

    def _stmt(self, node: Node, stdin: Stdin | None) -> SimpleCommand | None:
        t = node.type
        if t == "command":
            return self.command(node, stdin)
        if t == "redirected_statement":
            return self.redirected(node, stdin)
        if t == "pipeline":
            self.pipeline(node, stdin)
            return None
        if t == "file_redirect" and node.parent is not None and node.parent.type == "command_substitution":
            # `$(< FILE)` reads FILE as `cat FILE` would: a command of just that redirection.
            cmd = SimpleCommand((), (), (self.redirect(node),), stdin)
            self.out.append(cmd)
            return cmd
        if t == "variable_assignment":
            self.x.assign(node)
            name_node = node.child_by_field_name("name")
            value_node = node.child_by_field_name("value")
            if name_node is not None:
                val = self.x.vars.get(node_text(name_node), Val(("",)))
                text = node_text(value_node) if value_node is not None else ""
                self.assignments.append((node_text(name_node), Word(text, val.alts, val.dynamic, val.glob)))
            return None
        if t in ("declaration_command", "variable_assignments"):
            words: list[Word] = []
            if t == "declaration_command" and node.children:
                kw = node_text(node.children[0])
                words.append(Word(kw, (kw,)))
            for c in node.named_children:
                if c.type == "variable_assignment":
                    self.x.assign(c)
                    n = c.child_by_field_name("name")
                    v = c.child_by_field_name("value")
                    name = node_text(n) if n is not None else ""
                    known = self.x.vars.get(name, Val(("",)))
                    shown = node_text(v) if v is not None else ""
                    words.append(Word(f"{name}={shown}", tuple(f"{name}={a}" for a in known.alts), known.dynamic))
                elif c.type == "variable_name":
                    words.append(Word(node_text(c), (node_text(c),)))
                else:
                    words.append(self.word(c))
            if t == "declaration_command" and words:
                cmd = SimpleCommand(tuple(words), (), (), stdin)
                self.out.append(cmd)
                return cmd
            return None
        if t == "unset_command":
            words = [Word("unset", ("unset",))]
            for c in node.named_children:
                self.x.vars.pop(node_text(c), None)
                self.x.arrays.pop(node_text(c), None)
                words.append(Word(node_text(c), (node_text(c),)))
            cmd = SimpleCommand(tuple(words), (), (), stdin)
            self.out.append(cmd)
            return cmd
        if t == "for_statement":
            if huge_spawner(node):
                self.fork_bombs.append(f"for loop over {HUGE:,} or more values")
            self.for_loop(node, stdin)
            return None
        if t == "function_definition":
            self.function(node)
            return None
        if t in ("while_statement", "c_style_for_statement") and endless_spawner(node):
            self.fork_bombs.append("while loop" if t == "while_statement" else "for ((;;)) loop")
        if t == "negated_command":
            for c in node.named_children:
                self.stmt(c, stdin)
            return None
        if t == "ERROR":
            self.x.error = True
        if t in _STATEMENT_SEPARATORS:
            return None
        if t in ("word", "string", "raw_string", "concatenation", "simple_expansion", "expansion",
                 "command_substitution", "process_substitution", "number", "ansi_c_string"):
            self.x.eval(node)
            return None
        for c in node.named_children:
            self.stmt(c, stdin)
        return None

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
                v, _ = self.x.eval(c, first=True)
                alts.extend(v.alts)
                dynamic |= v.dynamic
                glob |= v.glob
            elif field == "body":
                body.append(c)
        if var is not None and not seen_value and "@" in self.x.arrays:
            # `for f; do …; done` walks "$@" (`sh -c '…' sh FILES`, `set -- FILES`).
            items = self.x.arrays["@"]
            alts = [a for it in items for a in it.alts]
            dynamic = any(it.dynamic for it in items)
            glob = "@" in self.x.globbed
            seen_value = True
        if var is not None:
            if not seen_value:
                self.x.vars[node_text(var)] = Val((DYN,), dynamic=True)
            else:
                self.x.vars[node_text(var)] = Val(
                    tuple(alts[:MAX_ALTERNATIVES]) or ("",), dynamic or len(alts) > MAX_ALTERNATIVES, glob
                )
                if glob:
                    self.x.globbed.add(node_text(var))
        for b in body:
            self.stmt(b, stdin)

    def function(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if body is None or name_node is None:
            return
        name = node_text(name_node)
        self.calling.append(name)
        made = self.run(body)
        self.calling.pop()
        del self.out[len(self.out) - len(made) :]
        self.functions[name] = (body, made)
        calls = [c for c in made if c.words and c.words[0].value == name]
        text = node_text(body)
        if calls and ("|" in text or "&" in text):
            self.fork_bombs.append(name)

    def call(self, name: str, args: list[Word]) -> None:
        """A function defined in this line runs: its body, with ``$1``… and ``$@`` set."""
        body, _ = self.functions[name]
        self.called.add(name)
        saved = {k: self.x.vars.get(k) for k in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "#")}
        saved_at = self.x.arrays.get("@")
        saved_globbed = set(self.x.globbed)
        self.x.positional(args)
        self.calling.append(name)
        try:
            self.stmt(body)
        finally:
            self.calling.pop()
            for k, v in saved.items():
                if v is None:
                    self.x.vars.pop(k, None)
                else:
                    self.x.vars[k] = v
            if saved_at is None:
                self.x.arrays.pop("@", None)
            else:
                self.x.arrays["@"] = saved_at
            self.x.globbed = saved_globbed

    def uncalled(self) -> None:
        """Functions defined but never called in the line are judged as written."""
        for name, (_, made) in self.functions.items():
            if name not in self.called:
                self.out.extend(made)

    def pipeline(self, node: Node, stdin: Stdin | None, first_source: SimpleCommand | None = None) -> None:
        stages = [c for c in node.named_children if c.type != "comment"]
        prev: SimpleCommand | None = first_source
        for i, st in enumerate(stages):
            if i == 0 and first_source is None:
                s_in = stdin
            else:
                s_in = Stdin("pipe", source=prev)
            start = len(self.out)
            prev = self.stmt(st, s_in)
            if prev is None and st.type in ("compound_statement", "subshell") and len(self.out) > start:
                # `{ curl …; } | sh`, `(curl …) | sh`: the group's commands all write into the pipe; a
                # downloader among them is what matters most, else the last one.
                group = self.out[start:]
                prev = next((c for c in group if c.words and c.words[0].value.rsplit("/", 1)[-1] in DOWNLOADERS),
                            group[-1])

    def redirect(self, node: Node, extra: list[Word] | None = None) -> Redirect:
        """One redirection; the grammar hangs the words after its target on it (``find / 2>/dev/null
        -exec …``), which bash gives the command: they go to ``extra``."""
        fd: str | None = None
        op = ""
        target: Word | None = None
        for i, c in enumerate(node.children):
            field = node.field_name_for_child(i)
            if c.type == "file_descriptor":
                fd = node_text(c)
            elif field == "destination":
                if target is None:
                    target = self.word(c)
                elif extra is not None:
                    extra.extend(self.x.split_word(c))
            elif not c.is_named and not op:
                op = c.type
        if op in _DUP_OPS and (target is None or target.value.isdigit() or target.value == "-"):
            target = None
        return Redirect(op, fd, target)

    def command(
        self, node: Node, stdin: Stdin | None, extra: tuple[Redirect, ...] = (), more: tuple[Word, ...] = ()
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
                    (node_text(n) if n else "", self.word(v) if v is not None else Word("", ("",)))
                )
            elif ct == "command_name":
                inner = c.named_children[0] if c.named_children else c
                words.extend(self.x.split_word(inner))
            elif ct == "file_redirect":
                redirects.append(self.redirect(c))
            elif ct == "herestring_redirect":
                kids = c.named_children
                prev = node.children[i - 1] if i else None
                if prev is not None and prev.type == "number" and prev.end_byte == c.start_byte and words \
                        and words[-1].value == node_text(prev):
                    words.pop()  # `bash 0<<<'…'`: the number is the descriptor, not an argument
                if kids:
                    w = self.word(kids[-1])
                    stdin = Stdin("text", text=w.value, dynamic=w.dynamic)
            elif ct == "ERROR":
                self.x.error = True
                self.x.scan(c)
            elif field == "argument" or c.is_named:
                words.extend(self.x.split_word(c))
        words.extend(more)
        cmd = SimpleCommand(tuple(words), tuple(assigns), tuple(redirects) + extra, stdin)
        if words and words[0].value in self.functions and words[0].value not in self.calling:
            self.call(words[0].value, words[1:])
        if len(words) > 1 and words[0].value == "set" and words[1].value == "--":
            # `set -- /etc/shadow; cat "$1"`: the positional parameters from here on.
            self.x.positional(words[2:])
        if words and words[0].value == "read":
            for w in words[1:]:
                if not w.value.startswith("-"):
                    self.x.vars[w.value] = Val((DYN,), dynamic=True)
        self.out.append(cmd)
        return cmd

    def redirected(self, node: Node, stdin: Stdin | None) -> SimpleCommand | None:
        body = node.child_by_field_name("body")
        redirects: list[Redirect] = []
        later: list[tuple[str, Node]] = []
        more: list[Word] = []
        for i, c in enumerate(node.children):
            if node.field_name_for_child(i) == "body":
                continue
            if c.type == "file_redirect":
                redirects.append(self.redirect(c, more if body is not None and body.type == "command" else None))
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
            result = self.command(body, stdin, tuple(redirects), tuple(more))
            last = body.children[-1] if body.children else None
            first = next((c for c in node.children if c.type == "file_redirect"), None)
            if last is not None and first is not None and last.type == "number" and last.end_byte == first.start_byte \
                    and result.words and result.words[-1].value == node_text(last):
                # `sh 0< <(…)`: the number glued to the redirect is its file descriptor, not an argument.
                fixed = result._replace(words=result.words[:-1])
                self.out[self.out.index(result)] = fixed
                result = fixed
        else:
            start = len(self.out)
            if body is not None:
                self.stmt(body, stdin)
            stages = [c for c in body.named_children if c.type != "comment"] if body is not None else []
            if redirects and body is not None and body.type in ("pipeline", "list") and stages \
                    and stages[-1].type == "command" and len(self.out) > start:
                # `echo … | cat > x.sh`, `true && echo … > x.sh`: the redirection is the last command's.
                self.out[-1] = self.out[-1]._replace(redirects=self.out[-1].redirects + tuple(redirects))
            elif redirects:
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
                quoted = any(q in node_text(c) for q in "'\"\\")
            elif ct == "heredoc_body":
                text = node_text(c)
                if not quoted:
                    for e in c.named_children:
                        if e.type in ("command_substitution", "process_substitution"):
                            self.x.eval(e)
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



@functools.lru_cache(maxsize=4096)
def parse(line: str, argv: tuple[Word, ...] | None = None) -> ParsedLine:
    """Parse one command line (a script is fine too). Pure and cached.

    Args:
        line: the text.
        argv: ``$0``, ``$1``… as the text starts (``sh -c TEXT NAME ARGS``), else unknown.
    """
    tree = _PARSER.parse(line.encode("utf-8", "replace"))
    braced = braced_positionals(tree.root_node, line.encode("utf-8", "replace")) if _DOLLAR_DIGIT.search(line) else None
    if braced is not None:
        return parse(braced.decode("utf-8", "replace"), argv)
    if tree.root_node.has_error and _FOR_DO.search(line):
        # bash takes `for f do …` (the list "$@"); the grammar wants `for f; do …`.
        fixed = parse(_FOR_DO.sub(r"\1;\2", line), argv)
        if not fixed.error:
            return fixed
    w = _Walker(argv)
    w.stmt(tree.root_node)
    w.uncalled()
    return ParsedLine(tuple(w.out), w.error or tree.root_node.has_error, tuple(w.fork_bombs), tuple(w.assignments))


_DOLLAR_DIGIT = lazy(r"\$\d")
_FOR_DO = lazy(r"(?<![\w$])(for\s+[A-Za-z_]\w*)(\s+do\b)")

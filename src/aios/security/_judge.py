"""Judging one line: every simple command, wrappers stripped, shells and interpreters followed.

A check walks the parsed line (``_parse``), strips wrappers (sudo, env, timeout, xargs …),
recurses into the text that shells and interpreters will run, works out what each command does
to which paths (``effects`` in rules.toml), and collects *findings*: a rule that fired, with the
action it asks for in normal mode and tags (dangerous, destructive, privileged, system, secret,
dynamic). The mode then turns the findings into one :class:`Decision`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import define, field, frozen

from ._decision import Action, action_rank
from ._interp import analyze
from ._parse import DYN, SimpleCommand, Word, _literal_output, parse
from ._rules import (
    CommandSpec,
    EffectRule,
    InterpreterSpec,
    PathMatcher,
    PathRule,
    PrefixRule,
    RuleSet,
    WrapperSpec,
)

if TYPE_CHECKING:
    pass

MAX_DEPTH = 8
"""How deep ``bash -c "bash -c '...'"`` and friends are followed before giving up (confirm)."""
MAX_VALUES = 8
"""Alternatives of one word (brace expansion, loop values) that are judged."""
MAX_COMMANDS = 1000
"""Simple commands judged per line; a longer line is confirmed as too long to judge."""

MODES = ("safe", "normal", "paranoid", "trusted")
_GLOB_CHARS = re.compile(r"[*?\[]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REMOTE = re.compile(r"^(?:[\w.+-]+@)?[\w.-]+:(?!//)")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "nc", "ncat", "socat", "ftp", "tftp", "lwp-request", "GET", "scp", "rsync", "sftp"})
_RAW_NET = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "socat", "telnet", "cryptcat", "sbd"})
_INJECT_VARS = frozenset({"LD_PRELOAD", "LD_AUDIT", "BASH_ENV", "ENV", "PROMPT_COMMAND", "GIT_SSH_COMMAND", "LD_LIBRARY_PATH",
                          "GIT_SSH", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_EDITOR",
                          "GIT_SEQUENCE_EDITOR", "GIT_ASKPASS", "SSH_ASKPASS", "SUDO_ASKPASS", "PAGER", "MANPAGER",
                          "SYSTEMD_PAGER", "EDITOR", "VISUAL", "LESSOPEN", "LESSCLOSE", "BROWSER", "RSYNC_RSH",
                          "RSYNC_CONNECT_PROG", "TAR_OPTIONS"})
"""Variables whose value the shell or a program runs as code (judged like that code)."""
_EVERYTHING = frozenset({"*", ".*", "*/", "*/*", "**", "{*,.*}", ".[!.]*", "..?*"})
_DEFAULT_SPEC = CommandSpec(name="")
_FIND_FILTERS_1 = frozenset({
    "-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-type", "-xtype", "-mtime", "-mmin",
    "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group", "-newer", "-perm", "-links",
    "-inum", "-samefile", "-wholename", "-iwholename", "-lname", "-ilname", "-uid", "-gid", "-used",
    "-newermt", "-newerct", "-anewer", "-cnewer", "-context", "-fstype",
})
_FIND_ARG_1 = frozenset({"-maxdepth", "-mindepth", "-printf", "-D", "-O", "-files0-from"})
_FIND_NARROWING = frozenset({
    "-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-wholename", "-iwholename", "-lname",
    "-ilname", "-samefile", "-inum", "-newer", "-newermt", "-mmin", "-mtime", "-size",
})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_FIND_WRITE = frozenset({"-fprint", "-fprint0", "-fls"})


@frozen
class Finding:
    """One rule that fired for one command: the action it asks for in normal mode."""

    action: Action
    rule: str
    reason: str
    tags: frozenset[str] = frozenset()


def _w(value: str, *, glob: bool = False) -> Word:
    return Word(value, (value,), DYN in value, glob)


@define
class _Ctx:
    cwd: str | None
    findings: list[Finding] = field(factory=list)
    commands: list[tuple[str, ...]] = field(factory=list)
    misses: list[str] = field(factory=list)
    privileged: bool = False
    changes_system: bool = False
    files: dict[str, str | None] = field(factory=dict)
    """Files this line writes before running them: literal text, or None when downloaded."""
    network: bool = False
    """A raw network tool (nc, socat, telnet) is in the line."""
    pipe_shell: bool = False
    """A shell or interpreter reads its program from a pipe of unknown text."""

    def add(self, f: Finding) -> None:
        self.findings.append(f)
        if "privileged" in f.tags:
            self.privileged = True
        if "system" in f.tags:
            self.changes_system = True


def _dynamic(rule: str, reason: str, *, extra: frozenset[str] = frozenset()) -> Finding:
    return Finding("confirm", rule, reason, frozenset({"dynamic"}) | extra)


@frozen
class _Args:
    """A command's arguments split by its description: options, operands, option values."""

    options: frozenset[str]
    operands: tuple[Word, ...]
    values: tuple[tuple[str, Word], ...]
    option_words: tuple[Word, ...]


def _split_args(args: Sequence[Word], arg_options: frozenset[str], single_dash_long: bool = False) -> _Args:
    opts: set[str] = set()
    operands: list[Word] = []
    values: list[tuple[str, Word]] = []
    option_words: list[Word] = []
    i = 0
    n = len(args)
    end = False
    while i < n:
        w = args[i]
        v = w.value
        i += 1
        if end or len(v) < 2 or not v.startswith("-") or v.startswith(DYN):
            operands.append(w)
            continue
        if v == "--":
            end = True
            continue
        option_words.append(w)
        opts.add(v)
        if v.startswith("--") or single_dash_long:
            name, eq, val = v.partition("=")
            opts.add(name)
            if eq:
                values.append((name, _w(val)))
            elif name in arg_options and i < n:
                values.append((name, args[i]))
                i += 1
            continue
        if v[1:].isdigit():
            continue
        if v in arg_options and len(v) > 2:
            if i < n:
                values.append((v, args[i]))
                i += 1
            continue
        letters = v[1:]
        for j, ch in enumerate(letters):
            o = "-" + ch
            opts.add(o)
            if o in arg_options:
                rest = letters[j + 1 :]
                if rest:
                    values.append((o, _w(rest)))
                elif i < n:
                    values.append((o, args[i]))
                    i += 1
                break
    return _Args(frozenset(opts), tuple(operands), tuple(values), tuple(option_words))


def _prefix_rule_from_words(words: Sequence[str], rid: str, source: str, reason: str) -> PrefixRule:
    match: list[tuple[str, ...]] = []
    opts: list[str] = []
    for i, w in enumerate(words):
        if i > 0 and w.startswith("-"):
            opts.append(w)
        else:
            match.append((w,))
    if not match:
        raise ValueError("empty prefix")
    return PrefixRule(rid, tuple(match), "allow", reason, frozenset(), frozenset(), frozenset(opts), source=source)



class Judge:
    """The walk behind :class:`~aios.security.Policy` (state is set up by Policy.__init__)."""

    _rules: RuleSet
    _grants: tuple[PrefixRule, ...]
    _home: str
    _workspace: str
    _matcher: PathMatcher
    _matcher_real: PathMatcher

    # ---- lines and simple commands -------------------------------------------------------

    def _line(self, text: str, ctx: _Ctx, depth: int, *, origin: str = "") -> None:
        if depth > MAX_DEPTH:
            ctx.add(_dynamic("parse.too-deep", f"commands nested more than {MAX_DEPTH} levels deep ({origin or 'shell'})"))
            return
        if DYN in text:
            ctx.add(_dynamic("dyn.code", f"{origin or 'a shell'} runs text that is only known when it runs"))
            text = text.replace(DYN, "$__aios_unknown")
        parsed = parse(text)
        if parsed.error:
            where = f" ({origin})" if origin else ""
            ctx.add(_dynamic("parse.error", f"the text{where} does not parse as shell, so what runs cannot be known"))
        for var, val in parsed.assignments:
            self._assignment(var, val, ctx, depth)
        for name in parsed.fork_bombs:
            ctx.add(Finding("block", "proc.fork-bomb", f"function {name!r} calls itself in a pipe or in the background "
                            "(a fork bomb)", frozenset({"dangerous"})))
        commands = parsed.commands
        if len(commands) + len(ctx.commands) > MAX_COMMANDS:
            ctx.add(_dynamic("parse.too-long", f"the line has more than {MAX_COMMANDS} commands; only the first are judged"))
            commands = commands[: max(0, MAX_COMMANDS - len(ctx.commands))]
        for cmd in commands:
            if cmd.words:
                ctx.commands.append(cmd.argv)
            self._simple(cmd, ctx, depth)

    def _simple(self, cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        for r in cmd.redirects:
            if r.target is None or r.target.text.startswith(("<(", ">(")):
                continue
            label = f"redirection {r.op}" if not cmd.words else f"{_base(cmd.words[0].value)} {r.op}"
            self._effect("write" if r.writes else "read", r.target, ctx, label)
            if r.writes and r.fd in (None, "1") and cmd.words:
                self._remember(r.target, cmd, ctx, append=r.op == ">>")
        for name, val in cmd.assigns:
            self._assignment(name, val, ctx, depth)
        if cmd.words:
            self._argv(list(cmd.words), cmd, ctx, depth)

    def _assignment(self, name: str, val: Word, ctx: _Ctx, depth: int) -> None:
        """Variables that make the shell or the loader run code: judged like that code."""
        if name not in _INJECT_VARS:
            return
        if name in ("LD_PRELOAD", "LD_AUDIT"):
            ctx.add(Finding("confirm", "env.preload", f"{name}={val.text} loads a library into every program started",
                            frozenset({"system"})))
        elif name == "LD_LIBRARY_PATH":
            if val.dynamic or any(self._classify(v, ctx.cwd, False, False)[0] in ("scratch", "unknown")
                                  for p in val.values for v in p.split(":") if v):
                ctx.add(Finding("confirm", "env.library-path", f"LD_LIBRARY_PATH={val.text} loads libraries from a "
                                "writable or unknown place", frozenset()))
        elif val.dynamic:
            ctx.add(_dynamic("env.code", f"{name} runs code only known when it runs"))
        elif name in ("BASH_ENV", "ENV"):
            self._effect("read", val, ctx, name)
        elif name == "TAR_OPTIONS":
            self._argv([_w("tar"), *(_w(p) for p in val.value.split())], SimpleCommand(()), ctx, depth + 1)
        else:
            for v in val.values[:MAX_VALUES]:
                # LESSOPEN='|cmd %s', GIT_SSH=/path/to/prog: the text after a leading pipe.
                self._line(v.lstrip("|").replace("%s", "FILE"), ctx, depth + 1, origin=name)

    def _remember(self, target: Word, producer: SimpleCommand, ctx: _Ctx, *, append: bool = False) -> None:
        """Note what a file written by this line will hold, in case the line runs it later."""
        if target.dynamic or len(target.values) != 1:
            return
        path = self._abspath(target.value, ctx.cwd)
        if path is None:
            return
        name = _base(producer.words[0].value) if producer.words else ""
        text: str | None = None if name in _DOWNLOADERS else self._pipe_text(producer, 0)
        if text is None and name not in _DOWNLOADERS:
            if producer.stdin is not None and producer.stdin.kind == "pipe" and name == "tee":
                src = producer.stdin.source
                sname = _base(src.words[0].value) if src is not None and src.words else ""
                text = self._pipe_text(src, 0)
                if text is None and sname not in _DOWNLOADERS:
                    return
            else:
                return
        if append and path in ctx.files and ctx.files[path] is not None and text is not None:
            text = (ctx.files[path] or "") + "\n" + text
        ctx.files[path] = text

    def _run_file(self, word: Word, ctx: _Ctx, depth: int, label: str, language: str | None) -> bool:
        """Judge a script this same line wrote (or downloaded); False if it did not."""
        if word.dynamic or not ctx.files:
            return False
        path = self._abspath(word.value, ctx.cwd)
        if path is None or path not in ctx.files:
            return False
        text = ctx.files[path]
        if text is None:
            ctx.add(_dynamic("dyn.download-exec", f"{label} runs {word.text}, which this line downloads; what it does "
                             "is only known when it runs"))
        elif language is None:
            self._line(text, ctx, depth + 1, origin=f"{label} {word.text}")
        else:
            self._code(language, text, label, ctx, depth)
        return True

    def _argv(self, words: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        if depth > MAX_DEPTH:
            ctx.add(_dynamic("parse.too-deep", "wrappers nested too deep to follow"))
            return
        first = words[0]
        if first.dynamic or DYN in first.value:
            ctx.add(_dynamic("dyn.command-name", f"the program {first.text!r} is only known when the line runs"))
            ctx.misses.append(first.text)
            return
        if first.glob:
            ctx.add(_dynamic("dyn.command-name", f"the program name {first.text!r} is a pattern expanded when it runs"))
            ctx.misses.append(first.text)
            return
        if len(first.values) > 1:
            words = [_w(first.values[0]), *(_w(v) for v in first.values[1:]), *words[1:]]
        name = _base(words[0].value)
        args = words[1:]
        if name in _RAW_NET or (name == "openssl" and any(w.value == "s_client" for w in args)):
            ctx.network = True
        if "/" in words[0].value and self._run_file(words[0], ctx, depth, name, None):
            return
        start = len(ctx.findings)
        granted = self._granted(name, args)
        try:
            self._dispatch(name, args, cmd, ctx, depth)
        finally:
            if granted is not None:
                # A grant turns "confirm" into "allow" but keeps the tags, so safe mode still
                # blocks what is privileged or destructive; blocks stay blocks.
                ctx.findings[start:] = [
                    f if f.action == "block" else Finding("allow", granted.id, f"{granted.reason} covers: {f.reason}", f.tags)
                    for f in ctx.findings[start:]
                ]
                if len(ctx.findings) == start:
                    ctx.add(Finding("allow", granted.id, granted.reason))

    def _dispatch(self, name: str, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        rules = self._rules
        if name in ("cd", "pushd", "popd", "chdir"):
            self._cd(name, args, ctx)
            return
        if name in ("export", "declare", "typeset", "local", "readonly", "env"):
            for w in args:
                var, eq, _ = w.value.partition("=")
                if eq and var in _INJECT_VARS:
                    v = w.value[len(var) + 1 :]
                    self._assignment(var, Word(v, (v,), w.dynamic, w.glob), ctx, depth)
        wrapper = rules.wrapper(name)
        if wrapper is not None:
            self._wrapper(wrapper, name, args, cmd, ctx, depth)
            return
        if name in ("eval", "alias", "trap"):
            self._eval(name, args, ctx, depth)
            return
        if name in ("source", "."):
            self._source(name, args, cmd, ctx, depth)
            return
        if name in rules.shells:
            self._shell(name, args, cmd, ctx, depth)
            return
        interp = rules.interpreter(name)
        if interp is not None:
            self._interp(interp, name, args, cmd, ctx, depth)
            return
        if name == "find":
            self._find(args, cmd, ctx, depth)
        if name == "git":
            self._git(args, cmd, ctx, depth)
        elif name in ("at", "batch"):
            # at/batch read the commands they schedule from standard input.
            self._stdin_code(cmd, ctx, depth, name, None)
        elif name == "crontab":
            self._crontab(args, cmd, ctx, depth)
        elif name == "sed":
            self._sed(args, ctx, depth)
        elif self._rules.command(name) is self._rules.command("vi") and name != "ed":
            self._editor(name, args, ctx, depth)
        elif name in ("ed", "ex") and cmd.stdin is not None and cmd.stdin.kind == "text" and cmd.stdin.text:
            for line in cmd.stdin.text.split("\n"):
                self._ex_command(name, line, ctx, depth, plain=True)
        self._generic(name, args, ctx, depth)

    def _granted(self, name: str, args: list[Word]) -> PrefixRule | None:
        if not self._grants:
            return None
        a = _split_args(args, frozenset())
        tokens = [name, *(w.value for w in a.operands)]
        vals = [w.value for w in args]
        for g in self._grants:
            if g.matches(tokens, set(a.options), vals) is not None:
                return g
        return None

    def _is_readonly(self, name: str, a: _Args, args: Sequence[Word]) -> bool:
        tokens = [name, *(w.value for w in a.operands)]
        opts = set(a.options)
        vals = [w.value for w in args]
        return any(r.matches(tokens, opts, vals) is not None for r in self._rules.readonly_candidates(name))

    # ---- built-ins that change how later words are read ----------------------------------

    def _cd(self, name: str, args: list[Word], ctx: _Ctx) -> None:
        rest = [w for w in args if not (w.value.startswith("-") and len(w.value) > 1)]
        if name == "popd":
            ctx.cwd = None
            return
        if not rest:
            ctx.cwd = self._home if name != "pushd" else ctx.cwd
            return
        w = rest[0]
        if w.dynamic or w.value == "-" or len(w.values) != 1:
            ctx.cwd = None
            return
        ctx.cwd = self._abspath(w.value, ctx.cwd)

    def _eval(self, name: str, args: list[Word], ctx: _Ctx, depth: int) -> None:
        if name == "eval":
            ctx.misses.append("eval")
            if any(w.dynamic for w in args):
                ctx.add(_dynamic("dyn.eval", "eval runs text that is only known when it runs"))
                ctx.misses.append("eval")
                return
            self._line(" ".join(w.value for w in args), ctx, depth + 1, origin="eval")
            return
        if name == "alias":
            for w in args:
                _, eq, body = w.value.partition("=")
                if eq and body:
                    if w.dynamic:
                        ctx.add(_dynamic("dyn.alias", "alias defines text that is only known when it runs"))
                    else:
                        self._line(body, ctx, depth + 1, origin="alias")
            return
        # trap 'cmd' SIGNALS
        real = [w for w in args if not w.value.startswith("-")]
        if real:
            if real[0].dynamic:
                ctx.add(_dynamic("dyn.trap", "trap runs text that is only known when it runs"))
            else:
                self._line(real[0].value, ctx, depth + 1, origin="trap")

    def _source(self, name: str, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        if not args:
            return
        w = args[0]
        if w.dynamic:
            ctx.add(_dynamic("dyn.source", f"{name} runs a script that is only known when it runs ({w.text})"))
            ctx.misses.append(f"{name} {w.text}")
            return
        if w.value in ("/dev/stdin", "-", "/proc/self/fd/0"):
            self._stdin_code(cmd, ctx, depth, name, None)
            return
        ctx.misses.append(f"{name} {w.text}")
        if not self._run_file(w, ctx, depth, name, None):
            self._effect("read", w, ctx, name)

    # ---- wrappers ------------------------------------------------------------------------

    def _wrapper(self, spec: WrapperSpec, name: str, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        strings: list[Word] = []
        splits: list[Word] = []
        replace: str | None = None
        no_command = False
        i = 0
        n = len(args)
        rest: list[Word] = []
        positionals = spec.positionals
        option_values: list[tuple[str, Word]] = []
        while i < n:
            w = args[i]
            v = w.value
            if v == "--":
                i += 1
                rest = args[i:]
                break
            if spec.assignments and _ASSIGNMENT.match(v):
                i += 1
                continue
            if not (v.startswith("-") and len(v) > 1) or w.dynamic:
                if spec.no_positional_command:
                    i += 1
                    continue
                if positionals > 0:
                    positionals -= 1
                    i += 1
                    continue
                rest = args[i:]
                break
            i += 1
            if v[1:].isdigit() or (spec.numeric_option and v[1:].lstrip("-").isdigit()):
                continue
            found: list[tuple[str, Word | None]] = []
            if v.startswith("--"):
                o, eq, val = v.partition("=")
                if eq:
                    found.append((o, _w(val)))
                elif o in spec.arg_options and i < n:
                    found.append((o, args[i]))
                    i += 1
                else:
                    found.append((o, None))
            elif v in spec.arg_options:
                if i < n:
                    found.append((v, args[i]))
                    i += 1
                else:
                    found.append((v, None))
            else:
                letters = v[1:]
                for j, ch in enumerate(letters):
                    o = "-" + ch
                    if o in spec.arg_options:
                        tail = letters[j + 1 :]
                        if tail:
                            found.append((o, _w(tail)))
                        elif i < n:
                            found.append((o, args[i]))
                            i += 1
                        break
                    found.append((o, None))
            for opt, ov in found:
                if ov is not None:
                    option_values.append((opt, ov))
                    if opt in spec.read_options:
                        self._effect("read", ov, ctx, f"{name} {opt}")
                if opt in spec.no_command:
                    no_command = True
                if ov is not None and opt in spec.string_options:
                    strings.append(ov)
                if ov is not None and opt in spec.split_options:
                    splits.append(ov)
                if opt in spec.replace_options:
                    replace = ov.value if ov is not None else "{}"
        extra_input: list[Word] = []
        if spec.separators:
            for k, w in enumerate(rest):
                if w.value in spec.separators:
                    extra_input = [x for x in rest[k + 1 :] if x.value not in spec.separators]
                    rest = rest[:k]
                    break
        inner_readonly = self._inner_readonly(rest)
        if spec.privileged:
            ctx.privileged = True
            ctx.misses.append(name)
            what = shlex.join(w.text for w in rest[:4]) + (" …" if len(rest) > 4 else "") if rest else ""
            if not rest and not strings and not splits:
                if no_command and all(w.value in ("--help", "-h", "-V", "--version") for w in args):
                    return
                if no_command:
                    what = f"{name} {' '.join(w.text for w in args)}".strip()
                    ctx.add(Finding("confirm", f"priv.{name}", f"{what} uses root privileges", frozenset({"privileged"})))
                    return
                if spec.alone == "root-shell":
                    ctx.add(Finding("confirm", f"priv.{name}-shell", f"{name} opens a shell as another user (usually root)",
                                    frozenset({"privileged", "system"})))
                    return
            tags = {"privileged"} if inner_readonly and not strings and not splits else {"privileged", "system"}
            ctx.add(Finding("confirm", f"priv.{name}", f"{name} runs {what or 'a command'} as another user (usually root)",
                            frozenset(tags)))
        own = self._rules.command(name)
        if own is not None and option_values:
            self._option_code(name, own, option_values, ctx, depth)
        if spec.shell_args and rest:
            rest = [_w("sh"), *rest]
        if no_command:
            return
        for s in strings:
            if s.dynamic:
                ctx.add(_dynamic("dyn.wrapper-string", f"{name} runs text that is only known when it runs"))
            else:
                self._line(s.value, ctx, depth + 1, origin=name)
        if splits:
            words = [_w(p) for s in splits for p in s.value.split()]
            if any(s.dynamic for s in splits):
                ctx.add(_dynamic("dyn.wrapper-string", f"{name} -S runs text that is only known when it runs"))
            if words or rest:
                self._argv(words + rest, cmd, ctx, depth + 1)
            return
        if not rest:
            return
        if spec.appends:
            inputs = extra_input or self._stdin_words(cmd, lines=replace is not None)
            if replace is not None:
                # xargs -I: each input line (not word) replaces the placeholder; judge each line.
                variants = [[self._replace(w, replace, [line]) for w in rest] for line in (inputs or [_w(DYN)])]
                if spec.joins:
                    rest = variants[0]
                else:
                    for variant in variants[1:MAX_VALUES]:
                        self._argv(variant, cmd, ctx, depth + 1)
                    rest = variants[0]
            else:
                rest = rest + inputs
        if spec.joins:
            text = " ".join(w.text if w.dynamic else (w.value if len(w.values) == 1 else w.text) for w in rest)
            self._line(text, ctx, depth + 1, origin=name)
            return
        self._argv(rest, cmd, ctx, depth + 1)

    def _inner_readonly(self, rest: list[Word]) -> bool:
        if not rest or rest[0].dynamic:
            return False
        name = _base(rest[0].value)
        spec = self._rules.command(name) or _DEFAULT_SPEC
        a = _split_args(rest[1:], spec.arg_options, spec.single_dash_long)
        return self._is_readonly(name, a, rest[1:])

    def _stdin_words(self, cmd: SimpleCommand, *, lines: bool = False) -> list[Word]:
        """What xargs appends: the words a literal producer writes, else one unknown word
        (``lines``: whole lines, as ``xargs -I`` reads them)."""
        st = cmd.stdin
        if st is not None and st.kind == "pipe" and st.source is not None and st.source.words:
            src = st.source
            sname = _base(src.words[0].value)
            if sname == "find" and not any(w.dynamic for w in src.words):
                starts = []
                for w in src.words[1:]:
                    if w.value.startswith("-") or w.value in ("(", "!"):
                        break
                    starts.append(w.value)
                return [_w(s.rstrip("/") + "/*" if s != "/" else "/*", glob=True) for s in (starts or ["."])][:1]
            text = _literal_output(src)
            if text is not None:
                return _split_input(text, lines)
            listing = self._listing_dir(src)
            if listing is not None:
                return [_w(listing.rstrip("/") + "/*" if listing != "/" else "/*", glob=True)]
        if st is not None and st.kind == "text" and st.text is not None and DYN not in st.text and not st.dynamic:
            return _split_input(st.text, lines)
        return [_w(DYN)]

    @staticmethod
    def _listing_dir(src: SimpleCommand) -> str | None:
        """The directory whose entries a listing command (ls, git ls-files, grep -l) prints."""
        if any(w.dynamic for w in src.words):
            return None
        argv = [w.value for w in src.words]
        name = _base(argv[0])
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
        return paths[0] if len(paths) == 1 and not _GLOB_CHARS.search(paths[0]) else None

    @staticmethod
    def _replace(w: Word, placeholder: str, inputs: list[Word]) -> Word:
        if placeholder not in w.value:
            return w
        sub = inputs[0] if inputs else _w(DYN)
        vals = tuple(v.replace(placeholder, sub.value) for v in w.values)
        text = w.text.replace(placeholder, sub.text) if not sub.dynamic else w.text
        return Word(text, vals, w.dynamic or sub.dynamic, w.glob or sub.glob)

    # ---- shells and interpreters ---------------------------------------------------------

    def _shell(self, name: str, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        wants_code = reads_stdin = False
        i = 0
        n = len(args)
        while i < n:
            v = args[i].value
            if v == "--" or v == "-":
                i += 1
                break
            if len(v) > 1 and v[0] in "-+" and not args[i].dynamic:
                i += 1
                if v in self._rules.shell_arg_options:
                    i += 1
                    continue
                if v.startswith("--"):
                    continue
                if "c" in v[1:]:
                    wants_code = True
                if "s" in v[1:]:
                    reads_stdin = True
                continue
            break
        operands = args[i:]
        if wants_code or (name in ("pwsh",) and operands):
            if not operands:
                return
            code = operands[0]
            ctx.misses.append(f"{name} -c")
            if code.dynamic:
                ctx.add(_dynamic("dyn.shell-code", f"{name} -c runs {code.text!r}, text only known when it runs"))
                return
            for v in code.values[:MAX_VALUES]:
                self._line(v, ctx, depth + 1, origin=f"{name} -c")
            return
        if operands and not reads_stdin:
            script = operands[0]
            ctx.misses.append(f"{name} {script.text}")
            if script.dynamic:
                ctx.add(_dynamic("dyn.script", f"{name} runs a script only known when it runs ({script.text})"))
            elif script.value in ("/dev/stdin", "/proc/self/fd/0"):
                self._stdin_code(cmd, ctx, depth, name, None)
            elif not self._run_file(script, ctx, depth, name, None):
                self._effect("read", script, ctx, name)
            return
        if not _is_readonly_version(args):
            ctx.misses.append(name)
        self._stdin_code(cmd, ctx, depth, name, None)

    def _stdin_code(self, cmd: SimpleCommand, ctx: _Ctx, depth: int, label: str, language: str | None) -> None:
        """Judge what a shell (language None) or interpreter reads as its program on stdin."""
        st = cmd.stdin
        if st is None:
            return
        text: str | None
        if st.kind == "text":
            text = st.text
            source = "a here-document"
        else:
            text = self._pipe_text(st.source, 0)
            src_name = _base(st.source.words[0].value) if st.source is not None and st.source.words else ""
            source = f"{src_name or 'a command'}"
            if text is None:
                if src_name in _DOWNLOADERS:
                    ctx.add(_dynamic("dyn.download-exec", f"{label} runs code that {src_name} downloads; what it does "
                                     "is only known when it runs"))
                else:
                    ctx.pipe_shell = True
                    ctx.add(_dynamic("dyn.pipe-exec", f"{label} runs what {source} writes into the pipe, which is only "
                                     "known when it runs"))
                return
        if text is None:
            return
        if language is None:
            self._line(text, ctx, depth + 1, origin=f"{label} reading {source}")
        else:
            self._code(language, text, label, ctx, depth)

    def _pipe_text(self, src: SimpleCommand | None, level: int) -> str | None:
        """The literal text a pipe producer writes (echo, printf, cat <<EOF, base64 -d of those)."""
        if src is None or not src.words or level > 4 or any(w.dynamic for w in src.words):
            return None
        name = _base(src.words[0].value)
        args = [w.value for w in src.words[1:]]
        if name in ("echo", "printf"):
            return _literal_output(src)
        if name == "cat" and not args and src.stdin is not None:
            if src.stdin.kind == "text":
                return src.stdin.text
            return self._pipe_text(src.stdin.source, level + 1)
        upstream: str | None = None
        if src.stdin is not None:
            upstream = src.stdin.text if src.stdin.kind == "text" else self._pipe_text(src.stdin.source, level + 1)
        if upstream is None:
            return None
        if name == "base64" and any(a in ("-d", "--decode", "-D", "-di", "-id") for a in args):
            try:
                return base64.b64decode("".join(upstream.split()), validate=False).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return None
        if name == "xxd" and "-r" in args:
            try:
                return bytes.fromhex("".join(upstream.split())).decode("utf-8", "replace")
            except ValueError:
                return None
        if name == "rev":
            return "\n".join(line[::-1] for line in upstream.split("\n"))
        return None

    def _interp(self, spec: InterpreterSpec, name: str, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        code: Word | None = None
        module: Word | None = None
        inplace = False
        has_file_option = False
        i = 0
        n = len(args)
        while i < n and code is None and module is None:
            w = args[i]
            v = w.value
            if v == "--":
                i += 1
                break
            if not (v.startswith("-") and len(v) > 1):
                break
            i += 1
            if v.startswith("--"):
                o, eq, val = v.partition("=")
                if o in spec.code_options:
                    code = _w(val) if eq else (args[i] if i < n else None)
                    i += 0 if eq else 1
                elif o in spec.file_options:
                    has_file_option = True
                    i += 0 if eq else 1
                elif o in spec.arg_options and not eq:
                    i += 1
                continue
            if v in spec.arg_options or v in spec.file_options:
                has_file_option |= v in spec.file_options
                i += 1
                continue
            if spec.module_option and v == spec.module_option:
                module = args[i] if i < n else None
                i += 1
                break
            letters = v[1:]
            for j, ch in enumerate(letters):
                o = "-" + ch
                tail = letters[j + 1 :]
                if o in spec.code_options:
                    if tail:
                        code = _w(tail)
                    elif i < n:
                        code = args[i]
                        i += 1
                    break
                if o in spec.inplace_options:
                    inplace = True
                    if tail.startswith(".") or tail.startswith("~"):
                        break
                    continue
                if spec.module_option and o == spec.module_option:
                    module = _w(tail) if tail else (args[i] if i < n else None)
                    i += 0 if tail else 1
                    break
                if o in spec.arg_options or o in spec.file_options:
                    has_file_option |= o in spec.file_options
                    if not tail:
                        i += 1
                    break
            if spec.language in ("perl", "ruby") and code is not None:
                # perl -e CODE -i FILES: keep reading options after the code.
                while i < n and args[i].value.startswith("-") and len(args[i].value) > 1:
                    if args[i].value.lstrip("-").startswith("i"):
                        inplace = True
                    i += 1
        rest = args[i:]
        if module is not None:
            ctx.misses.append(f"{name} -m {module.text}")
            if module.dynamic:
                ctx.add(_dynamic("dyn.module", f"{name} -m runs a module only known when it runs"))
                return
            self._argv([module, *rest], cmd, ctx, depth + 1)
            return
        if spec.program_operand and code is None and not has_file_option and rest:
            code, rest = rest[0], rest[1:]
        if code is not None:
            if not _is_readonly_version(args):
                ctx.misses.append(f"{name} code")
            if code.dynamic:
                ctx.add(_dynamic("dyn.interpreter-code", f"{name} runs code only known when it runs ({code.text})"))
            else:
                self._code(spec.language, code.value, name, ctx, depth)
            for w in rest:
                self._effect("modify" if inplace else "read", w, ctx, f"{name} -i" if inplace else name)
            return
        a = _split_args(args, spec.arg_options)
        if not self._is_readonly(name, a, args):
            ctx.misses.append(name)
        self._prefix(name, a, args, ctx)
        if rest:
            script = rest[0]
            url = next((w for w in rest[:3] if _URL.match(w.value) and w.value.startswith(("http", "ftp"))), None)
            if url is not None:
                script = url
            if script.dynamic:
                ctx.add(_dynamic("dyn.script", f"{name} runs a script only known when it runs ({script.text})"))
            elif _URL.match(script.value):
                ctx.add(_dynamic("dyn.download-exec", f"{name} runs code from {script.value}, unseen before it runs"))
            elif script.value in ("-", "/dev/stdin"):
                self._stdin_code(cmd, ctx, depth, name, spec.language)
            elif not self._run_file(script, ctx, depth, name, spec.language):
                for w in rest:
                    self._effect("read", w, ctx, name)
            return
        if not has_file_option:
            self._stdin_code(cmd, ctx, depth, name, spec.language)

    def _code(self, language: str, text: str, label: str, ctx: _Ctx, depth: int) -> None:
        for it in analyze(language, text):
            what = f"{label} {it.what}".strip()
            if it.kind == "shell":
                self._line(it.arg, ctx, depth + 1, origin=what)
            elif it.kind in ("delete", "write", "modify", "read"):
                self._effect(it.kind, _w(it.arg), ctx, what, option=" (recursive)" if it.recursive else "",
                             recursive=it.recursive)
            elif it.kind == "reverse-shell":
                ctx.add(Finding("block", "interp.reverse-shell", f"{label} connects a socket to a shell (a reverse shell)",
                                frozenset({"dangerous"})))
            elif it.kind == "download-exec":
                ctx.add(_dynamic("interp.download-exec", f"{label} downloads code and runs it"))
            else:
                ctx.add(_dynamic("interp.opaque", f"{label} code uses {it.what!r}, which the policy cannot follow"))

    # ---- find ----------------------------------------------------------------------------

    def _find(self, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        i = 0
        n = len(args)
        while i < n and args[i].value in ("-H", "-L", "-P"):
            i += 1
        starts: list[Word] = []
        while i < n and not (args[i].value.startswith("-") or args[i].value in ("(", "!", ")", "\\(")):
            starts.append(args[i])
            i += 1
        if not starts:
            starts = [_w(".")]
        filtered = delete = alternatives = False
        while i < n:
            v = args[i].value
            if v in _FIND_EXEC:
                j = i + 1
                sub: list[Word] = []
                while j < n and args[j].value not in (";", "+", "\\;"):
                    sub.append(args[j])
                    j += 1
                i = j + 1
                if not sub:
                    continue
                for s in starts[:MAX_VALUES]:
                    inner = _w(s.value.rstrip("/") + "/*" if s.value != "/" else "/*", glob=True)
                    if s.dynamic:
                        inner = _w(DYN)
                    words = [self._replace(w, "{}", [inner]) if "{}" in w.value else w for w in sub]
                    if words and words[0].dynamic and words[0].value == inner.value:
                        ctx.add(_dynamic("dyn.command-name", "find -exec runs the files it finds"))
                        continue
                    ctx.commands.append(tuple(w.text for w in sub))
                    self._argv(words, cmd, ctx, depth + 1)
                continue
            if v == "-delete":
                delete = True
            elif v in _FIND_WRITE and i + 1 < n:
                self._effect("write", args[i + 1], ctx, f"find {v}")
                i += 1
            elif v == "-fprintf" and i + 1 < n:
                self._effect("write", args[i + 1], ctx, "find -fprintf")
                i += 2
            elif v == "-empty":  # only empty files and directories
                filtered = True
            elif v in ("-o", "-or", ","):  # another branch: a filter no longer narrows everything
                alternatives = True
            elif v in _FIND_FILTERS_1:
                if v in _FIND_NARROWING and not (i + 1 < n and args[i + 1].value in ("*", "*.*")):
                    filtered = True
                i += 1
            elif v in _FIND_ARG_1:
                i += 1
            i += 1
        if delete:
            for s in starts:
                if filtered and not alternatives:
                    target = _w(s.value.rstrip("/") + "/*") if not s.dynamic else _w(DYN)
                    self._effect("delete", target, ctx, "find -delete", option=" (matching files)")
                else:
                    self._effect("delete", s, ctx, "find -delete", option=" (everything below)", recursive=True)

    # ---- any other program ---------------------------------------------------------------

    def _option_code(self, name: str, spec: CommandSpec, values: Sequence[tuple[str, Word]], ctx: _Ctx,
                     depth: int) -> None:
        """Option values that are command lines the program runs (rsync -e, tar --to-command,
        ssh -o ProxyCommand=, git -c core.sshCommand=): judged like that command line."""
        for o, w in values:
            for entry in spec.command_options:
                opt, eq, prefix = entry.partition("=")
                if o != opt:
                    continue
                if eq and not w.value.startswith(prefix):
                    continue
                if w.dynamic:
                    ctx.add(_dynamic("dyn.option-code", f"{name} {o} runs a command only known when it runs ({w.text})"))
                    break
                for v in w.values[:MAX_VALUES]:
                    self._line(v[len(prefix):] if eq else v, ctx, depth + 1, origin=f"{name} {o}")
                break
            if o in spec.setting_options and spec.command_keys:
                m = re.match(r"\s*([^=\s]+)\s*(?:=|\s)\s*(.*)", w.value, re.S)
                if m is None:
                    continue
                key = m.group(1).lower()
                if not any(fnmatch.fnmatchcase(key, k.lower()) for k in spec.command_keys):
                    continue
                if w.dynamic:
                    ctx.add(_dynamic("dyn.option-code", f"{name} {o} {m.group(1)} runs a command only known when it "
                                     "runs"))
                    continue
                self._setting_code(name, f"{o} {m.group(1)}", m.group(2), ctx, depth)

    def _setting_code(self, name: str, what: str, value: str, ctx: _Ctx, depth: int) -> None:
        """A configured command (``!cmd`` for git aliases; ``%h``-style tokens are harmless)."""
        value = value.strip()
        if value.startswith("!"):
            value = value[1:]
        self._line(re.sub(r"%[a-zA-Z%]", "X", value), ctx, depth + 1, origin=f"{name} {what}")

    # ---- programs that run commands given in their own syntax -------------------------------

    def _git(self, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        spec = self._rules.command("git") or _DEFAULT_SPEC
        a = _split_args(args, spec.arg_options)
        ops = [w.value for w in a.operands]
        sub = ops[0] if ops else ""
        if sub == "config" and len(ops) >= 3 and spec.command_keys:
            key = ops[1].lower()
            if any(fnmatch.fnmatchcase(key, k.lower()) for k in spec.command_keys):
                val = a.operands[2]
                ctx.add(Finding("confirm", "git.config-command", f"git config {ops[1]} sets a command git runs later"))
                if val.dynamic:
                    ctx.add(_dynamic("dyn.option-code", f"git config {ops[1]} is only known when it runs"))
                else:
                    self._setting_code("git", f"config {ops[1]}", val.value, ctx, depth)
        elif sub == "submodule" and len(ops) >= 2 and ops[1] == "foreach":
            k = next(i for i, w in enumerate(args) if w.value == "foreach")
            rest = [w for w in args[k + 1 :] if w.value not in ("--recursive", "-q", "--quiet")]
            if rest:
                self._wrapper_text("git submodule foreach", rest, ctx, depth)
        elif sub == "bisect" and len(ops) >= 2 and ops[1] == "run":
            k = next(i for i, w in enumerate(args) if w.value == "run")
            if k + 1 < len(args):
                self._argv(args[k + 1 :], cmd, ctx, depth + 1)
        elif sub == "rebase":
            for i, w in enumerate(args):
                v = w.value
                code: Word | None = None
                if v in ("-x", "--exec") and i + 1 < len(args):
                    code = args[i + 1]
                elif v.startswith("--exec="):
                    code = _w(v[len("--exec="):])
                elif v.startswith("-x") and len(v) > 2 and not v.startswith("--"):
                    code = _w(v[2:])
                if code is not None:
                    self._wrapper_text("git rebase --exec", [code], ctx, depth)

    def _crontab(self, args: list[Word], cmd: SimpleCommand, ctx: _Ctx, depth: int) -> None:
        """``crontab -`` / ``crontab`` installs the table it reads: judge each job's command."""
        if any(not w.value.startswith("-") or w.value == "-" for w in args if w.value != "-") or any(
                w.value in ("-l", "-r", "-e", "-i") for w in args):
            return
        st = cmd.stdin
        text = None
        if st is not None:
            text = st.text if st.kind == "text" else self._pipe_text(st.source, 0)
        if text is None or (st is not None and st.dynamic):
            return
        for line in text.split("\n"):
            line = line.strip()
            if not line or line.startswith("#") or _ASSIGNMENT.match(line):
                continue
            parts = line.split(None, 1 if line.startswith("@") else 5)
            job = parts[-1] if len(parts) == (2 if line.startswith("@") else 6) else ""
            if job:
                self._line(job.replace("%", "\n"), ctx, depth + 1, origin="crontab")

    def _wrapper_text(self, label: str, words: list[Word], ctx: _Ctx, depth: int) -> None:
        """Words joined and run by a shell (``git submodule foreach``, ``git rebase --exec``)."""
        if any(w.dynamic for w in words):
            ctx.add(_dynamic("dyn.wrapper-string", f"{label} runs text that is only known when it runs"))
            return
        self._line(" ".join(w.value for w in words), ctx, depth + 1, origin=label)

    def _editor(self, name: str, args: list[Word], ctx: _Ctx, depth: int) -> None:
        """vi/vim/ex ``-c CMD``, ``--cmd CMD``, ``+CMD``; emacs ``--eval``: commands the editor runs."""
        if name in ("emacs", "emacsclient"):
            for w in args:
                v = w.value
                if v in ("--eval", "-eval", "--execute", "-execute") or v.startswith(("--eval=", "--execute=")):
                    ctx.add(_dynamic("editor.code", f"{name} {v.split('=')[0]} runs Lisp code, which the policy cannot "
                                     "follow"))
                    return
            return
        i = 0
        while i < len(args):
            w = args[i]
            v = w.value
            text: Word | None = None
            if (v == "--cmd" or re.fullmatch(r"-[a-zA-Z]*c", v)) and i + 1 < len(args):
                text = args[i + 1]
                i += 1
            elif v.startswith("-c") and len(v) > 2 and not v.startswith("--"):
                text = _w(v[2:])
            elif v.startswith("+") and len(v) > 1 and not v[1:].isdigit():
                text = _w(v[1:])
            i += 1
            if text is None:
                continue
            if text.dynamic:
                ctx.add(_dynamic("dyn.editor-command", f"{name} runs an editor command only known when it runs"))
                continue
            self._ex_command(name, text.value, ctx, depth)

    def _ex_command(self, name: str, text: str, ctx: _Ctx, depth: int, *, plain: bool = False) -> None:
        """One ex/vim command line: ``!cmd`` runs a shell; calls into other languages are opaque."""
        pos = 0
        while pos <= len(text):
            # `!cmd` takes the rest of the line, bars included; other commands end at a bar.
            m = _EX_BANG.match(text, pos)
            if m is not None:
                self._line(m.group(1), ctx, depth + 1, origin=f"{name} !")
                return
            end = text.find("|", pos)
            part = text[pos:] if end == -1 else text[pos:end]
            if not plain and (_EX_CODE.match(part) or _EX_CALLS.search(part)):
                ctx.add(_dynamic("editor.code", f"{name} runs the editor command {part.strip()!r}, which the policy "
                                 "cannot follow"))
            if end == -1 or plain:
                break
            pos = end + 1

    def _sed(self, args: list[Word], ctx: _Ctx, depth: int) -> None:
        """GNU sed scripts: ``e CMD`` and ``s///e`` run commands, ``w FILE`` writes, ``r FILE`` reads."""
        spec = self._rules.command("sed") or _DEFAULT_SPEC
        a = _split_args(args, spec.arg_options)
        scripts = [w for o, w in a.values if o in ("-e", "--expression")]
        if not scripts and not any(o in ("-f", "--file") for o, _ in a.values) and a.operands:
            scripts = [a.operands[0]]
        for w in scripts:
            if w.dynamic:
                continue
            for kind, arg in sed_actions(w.value):
                if kind == "exec":
                    if arg.strip():
                        self._line(arg, ctx, depth + 1, origin="sed e")
                    else:
                        ctx.add(_dynamic("dyn.sed-exec", "sed runs the text it edits as a command (e)"))
                else:
                    self._effect(kind, _w(arg), ctx, f"sed {'w' if kind == 'write' else 'r'}")

    def _generic(self, name: str, args: list[Word], ctx: _Ctx, depth: int = 0) -> None:
        spec = self._rules.command(name) or _DEFAULT_SPEC
        if name == "tar" and args and re.fullmatch(r"[A-Za-z]+", args[0].value):
            args = [_w("-" + args[0].value), *args[1:]]  # tar's old style: tar xzf FILE
        a = _split_args(args, spec.arg_options, spec.single_dash_long)
        if not self._is_readonly(name, a, args):
            ctx.misses.append(shlex.join([name, *(w.text for w in args[:3])]))
        self._prefix(name, a, args, ctx)
        if spec.command_options or spec.setting_options:
            self._option_code(name, spec, a.values, ctx, depth)
        used: set[int] = set()
        if spec.effects:
            rec_opts = [o for o in spec.recursive if o in a.options]
            recursive = spec.always_recursive or bool(rec_opts)
            option = ""
            if rec_opts:
                longs = [o for o in spec.recursive if o.startswith("--recursive")]
                option = f" with {longs[0] if longs else rec_opts[0]}"
            operands = list(a.operands)
            mode_as_option = spec.mode_operand and any(re.fullmatch(r"-[rwxXst]+", w.value) for w in a.option_words)
            opens = spec.mode_operand and bool(operands) and _opens_to_others(operands[0].value)
            for eff in spec.effects:
                if eff.when and not any(o in a.options for o in eff.when):
                    continue
                if eff.unless and any(o in a.options for o in eff.unless):
                    continue
                targets: list[tuple[Word, str]] = []
                if eff.operands is not None:
                    sel = eff.operands
                    if sel == "after-first" and mode_as_option:
                        sel = "all"
                    if sel == "after-script" and spec.script_options & a.options:
                        sel = "all"
                    targets += [(w, option) for w in _select(operands, sel)]
                for o, w in a.values:
                    if o in eff.options:
                        targets.append((w, f" with {o}"))
                for key in eff.kv:
                    for w in operands:
                        if w.value.startswith(key + "="):
                            val = w.value[len(key) + 1 :]
                            targets.append((Word(val, (val,), w.dynamic, w.glob), f" with {key}="))
                kinds = [eff.effect, "write"] if eff.effect == "modify" and opens else [eff.effect]
                for w, opt in targets:
                    used.add(id(w))
                    if eff.effect == "write" and name in _DOWNLOADERS:
                        self._downloaded(w, ctx)
                    for kind in kinds:
                        self._effect(kind, w, ctx, name, option=opt if eff.effect != "read" else "",
                                     recursive=recursive and eff.effect in ("delete", "modify"))
        wget_default = name == "wget" and not {"-O", "--output-document"} & a.options
        curl_remote = name == "curl" and bool({"-O", "--remote-name", "--remote-name-all"} & a.options)
        if wget_default or curl_remote:
            for w in a.operands:
                if _URL.match(w.value) and not w.dynamic:
                    tail = w.value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                    if tail:
                        self._downloaded(_w(tail), ctx)
        if spec.no_read or spec.secret_ok:
            return
        # Anything else that names a secret is read by this program as far as the policy knows.
        for w in (*a.operands, *(w for o, w in a.values if o not in spec.secret_ok_options)):
            if id(w) in used or w.dynamic:
                continue
            for v in w.values[:MAX_VALUES]:
                for cand in _path_candidates(v):
                    cls = self._classify(cand, ctx.cwd, False, w.glob)[0]
                    if cls in ("secret", "protected", "network", "device"):
                        self._effect("read", Word(w.text, (cand,), False, w.glob), ctx, name)
                        break

    def _downloaded(self, w: Word, ctx: _Ctx) -> None:
        if not w.dynamic and len(w.values) == 1 and w.value != "-":
            path = self._abspath(w.value, ctx.cwd)
            if path is not None:
                ctx.files[path] = None

    def _prefix(self, name: str, a: _Args, args: Sequence[Word], ctx: _Ctx) -> None:
        tokens = [name, *(w.value for w in a.operands)]
        vals = [w.value for w in args]
        opts = set(a.options)
        best: tuple[PrefixRule, str] | None = None
        for r in self._rules.prefix_candidates(name):
            hit = r.matches(tokens, opts, vals)
            if hit is None:
                continue
            if r.action == "block":
                ctx.add(Finding("block", r.id, _fmt(r.reason, name, hit), r.tags))
            elif best is None or (r.specificity, action_rank(r.action)) > (best[0].specificity, action_rank(best[0].action)):
                best = (r, hit)
        if best is not None:
            r, hit = best
            ctx.add(Finding(r.action, r.id, _fmt(r.reason, name, hit), r.tags))

    # ---- paths ---------------------------------------------------------------------------

    def _effect(self, effect: str, word: Word, ctx: _Ctx, label: str, *, option: str = "", recursive: bool = False) -> None:
        for value in word.values[:MAX_VALUES]:
            if not value or _URL.match(value) or (_REMOTE.match(value) and not value.startswith(("/", "~", "."))):
                continue
            if effect == "read" and value == "-":
                continue
            cls, _ = self._classify(value, ctx.cwd, recursive, word.glob)
            rule = self._effect_rule(effect, cls, recursive)
            if rule is None:
                continue
            shown = word.text if len(word.values) == 1 else value
            ctx.add(Finding(rule.action, rule.id, _fmt(rule.reason, label, "", target=shown, option=option, cls=cls),
                            rule.tags))
            if rule.action == "block":
                return

    def _effect_rule(self, effect: str, cls: str, recursive: bool) -> EffectRule | None:
        for r in self._rules.effects:
            if effect in r.effects and cls in r.targets and (r.recursive is None or r.recursive == recursive):
                return r
        return None

    def _abspath(self, value: str, cwd: str | None) -> str | None:
        if value == "~" or value.startswith("~/"):
            value = self._home + value[1:]
        if not value.startswith("/"):
            if cwd is None:
                return None
            value = cwd.rstrip("/") + "/" + value
        norm = posixpath.normpath(value)
        return "/" + norm.lstrip("/")

    def _classify(self, value: str, cwd: str | None, recursive: bool, glob: bool) -> tuple[str, str]:
        """(class, absolute path) of a word; ``unknown`` when the path is only known at run time."""
        if DYN in value:
            head = value.split(DYN, 1)[0]
            if "/" not in head and not head.startswith("~"):
                return "unknown", value
            value = head[: head.rfind("/") + 1] + "*" if "/" in head else head + "*"
            glob = True
        path = self._abspath(value, cwd)
        if path is None:
            return "unknown", value
        if glob and _GLOB_CHARS.search(path):
            static = path[: _GLOB_CHARS.search(path).start()]  # type: ignore[union-attr]
            parent = static[: static.rfind("/")] or "/"
            tail = path[len(parent) :].lstrip("/")
            reach = self._glob_reach(path)
            if reach is not None:
                return reach, path
            pcls = self._classify_abs(parent)[1]
            if pcls == "root" and (recursive or tail in _EVERYTHING):
                return "root", path
            if pcls == "system" and recursive:
                return "system", path
            if pcls == "workspace" and recursive and tail in _EVERYTHING and self._is_workspace_top(parent):
                return "workspace-top", path  # `rm -rf *` in the workspace: all of it
        cls = self._classify_abs(path)[1]
        if cls == "workspace" and recursive and self._is_workspace_top(path):
            return "workspace-top", path  # `rm -rf .`: the whole workspace, which no snapshot covers
        return cls, path

    def _is_workspace_top(self, path: str) -> bool:
        return path in (self._workspace, os.path.realpath(self._workspace))

    def _glob_reach(self, pattern: str) -> str | None:
        """The strictest sensitive class (protected … critical) of a path a glob can expand to:
        ``/etc/sha*`` reaches /etc/shadow, ``/dev/sd?`` a disk; None when it reaches none."""
        comps = pattern.strip("/").split("/")
        best: str | None = None
        for cand, cls in self._sensitive_paths():
            if best is not None and _SENSITIVE.index(cls) >= _SENSITIVE.index(best):
                continue
            if cand[0] == "**":
                # `**/id_rsa` anywhere: only a glob that spells part of the name (`id_*`, not `*`).
                ok = bool(comps) and bool(comps[-1].strip("*?")) and _comp_match(comps[-1], cand[1])
            elif len(comps) < len(cand) or (len(comps) > len(cand) and not cand[-1] == "**"):
                ok = False
            else:
                ok = all(c == "**" or _comp_match(g, c) for g, c in zip(comps, cand, strict=False))
            if ok:
                best = cls
        return best

    def _sensitive_paths(self) -> list[tuple[tuple[str, ...], str]]:
        cached: list[tuple[tuple[str, ...], str]] | None = self.__dict__.get("_sensitive_cache")
        if cached is not None:
            return cached
        out: list[tuple[tuple[str, ...], str]] = []
        rules = [*self._matcher.rules]
        for r in rules:
            if r.cls not in _SENSITIVE:
                continue
            for p in r.patterns:
                if p == "~" or p.startswith("~/"):
                    p = self._home.rstrip("/") + p[1:]
                if p.startswith("**/"):
                    out.append((("**", p[3:]), r.cls))
                elif p.startswith("/"):
                    out.append((tuple(p.strip("/").split("/")), r.cls))
        self.__dict__["_sensitive_cache"] = out
        return out

    def _classify_abs(self, path: str, *, real: bool = False) -> tuple[PathRule | None, str]:
        rule = (self._matcher_real if real else self._matcher).classify(path)
        return rule, (rule.cls if rule is not None else "outside")


_EX_BANG = re.compile(r"[\s:]*(?:sil(?:ent)?!?\s*)?(?:[%.$,\d'<>]*\s*)?(?:r(?:ead)?\s*|w(?:rite)?\s*)?!(.*)", re.S)
_EX_CODE = re.compile(r"[\s:]*(?:sil(?:ent)?!?\s*)?(?:[%.$,\d'<>]*\s*)?(?:py\w*|lua\w*|perl\w*|rub\w*|mz\w*|tcl\w*|"
                      r"exe(?:cute)?|so(?:urce)?|ter(?:minal)?|runtime|call|mak(?:e)?|gr(?:ep)?|lm(?:ake)?)\b")
_EX_CALLS = re.compile(r"\b(?:system|systemlist|job_start|jobstart|termopen|term_start|libcall\w*|luaeval|py3?eval|"
                       r"pyxeval|perleval|rubyeval|chansend|rpcstart)\s*\(")


def _split_input(text: str, lines: bool) -> list[Word]:
    if lines:
        return [_w(p.strip()) for p in text.split("\n") if p.strip()]
    return [_w(p) for p in text.split()]


_SENSITIVE = ("protected", "secret", "network", "device", "critical")


def _comp_match(word: str, pattern: str) -> bool:
    """Whether one path component written with a glob (``sha*``) and one from a path rule
    (``shadow``, ``id_*``) can name the same file. A leading wildcard does not match a dot."""
    wg = bool(_GLOB_CHARS.search(word))
    pg = bool(_GLOB_CHARS.search(pattern))
    if not wg:
        return fnmatch.fnmatchcase(word, pattern) if pg else word == pattern
    if not pg:
        if pattern.startswith(".") and not word.startswith("."):
            return False
        return fnmatch.fnmatchcase(pattern, word)
    return word == "*" or pattern == "*" or word == pattern


def _select(operands: list[Word], sel: str) -> list[Word]:
    if sel == "all":
        return operands
    if sel == "last":
        return operands[-1:] if len(operands) >= 2 else []
    if sel == "all-but-last":
        return operands[:-1] if len(operands) >= 2 else []
    if sel == "first":
        return operands[:1]
    if sel in ("after-first", "after-script"):
        return operands[1:]
    return []


def _path_candidates(value: str) -> list[str]:
    out = []
    v = value
    if "=" in v and not v.startswith(("/", "~", ".")):
        v = v.split("=", 1)[1]
    v = v.lstrip("@<")
    if v.startswith(("/", "~", ".")) or "/" in v or v.startswith("id_") or v.endswith((".key", ".pem", ".p12", ".pfx")):
        out.append(v)
    return out


def _opens_to_others(mode: str) -> bool:
    """A chmod mode that gives "others" read or write access (777, o+r, a+w, +r)."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode[-1]) & 6 != 0
    return any(re.fullmatch(r"[ao]*[+=][rwxXst]*[rw][rwxXst]*", part) for part in mode.split(","))


def _base(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name


def _is_readonly_version(args: Sequence[Word]) -> bool:
    return len(args) == 1 and args[0].value in ("--version", "-V", "--help", "-h")


def _fmt(template: str, cmd: str, hit: str, *, target: str = "", option: str = "", cls: str = "") -> str:
    try:
        text = template.format(cmd=cmd, option=option or hit, target=target, **{"class": cls})
    except (KeyError, IndexError, ValueError):
        text = template
    return re.sub(r"  +", " ", text).strip()


_SED_ADDR = re.compile(r"""(?:\d+(?:~\d+)?|\$|/(?:[^/\\\n]|\\.)*/[IM]*|\\(.)(?:(?!\1)[^\\\n]|\\.)*\1[IM]*)""")


def sed_actions(script: str) -> list[tuple[str, str]]:
    """What a GNU sed script does besides editing text: ``("exec", CMD)`` for ``e CMD`` (CMD empty:
    the pattern space is run, as with ``s///e``), ``("write", FILE)`` for ``w``/``W`` and the
    ``w`` flag of ``s``, ``("read", FILE)`` for ``r``/``R``."""
    out: list[tuple[str, str]] = []
    i = 0
    n = len(script)

    def rest_of_line(j: int) -> tuple[str, int]:
        k = script.find("\n", j)
        k = n if k == -1 else k
        return script[j:k].strip(), k

    while i < n:
        c = script[i]
        if c in " \t\n;{}!":
            i += 1
            continue
        # addresses: N, $, /re/, \cREc, first~step, ranges and +N/~N
        m = _SED_ADDR.match(script, i)
        if m is not None and m.end() > i:
            i = m.end()
            while i < n and script[i] in " \t,+~0123456789":
                i += 1
            if i < n and script[i] in "/\\$":
                m2 = _SED_ADDR.match(script, i)
                if m2 is not None and m2.end() > i:
                    i = m2.end()
            continue
        i += 1
        if c == "#" or c == ":":
            i = rest_of_line(i)[1]
        elif c in "aic":
            i = rest_of_line(i)[1]
        elif c in "wWrR":
            arg, i = rest_of_line(i)
            if arg:
                out.append(("write" if c in "wW" else "read", arg))
        elif c == "e":
            arg, i = rest_of_line(i)
            out.append(("exec", arg))
        elif c in "btTvlqQLz":
            while i < n and script[i] not in ";\n}":
                i += 1
        elif c in "sy":
            if i >= n:
                break
            delim = script[i]
            i += 1
            for _ in range(2):
                while i < n and script[i] != delim:
                    i += 2 if script[i] == "\\" else 1
                i += 1
            if c == "s":
                while i < n and script[i] not in ";\n}":
                    f = script[i]
                    if f == "e":
                        out.append(("exec", ""))
                    elif f == "w":
                        arg, i = rest_of_line(i + 1)
                        if arg:
                            out.append(("write", arg))
                        break
                    i += 1
    return out

"""Judging one line: the walk over every simple command, with wrappers, shells and programs.

A check walks the parsed line (``_parse``), strips wrappers (``_wrappers``), recurses into the
text that shells and interpreters will run (``_shells``), follows programs with their own
syntax (``_programs``), works out what each command does to which paths (``effects`` in
rules.toml, path classes from ``_paths``), and collects :class:`Finding` values. The policy's
mode then turns the findings into one decision (``_engine``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from . import _chdir as chdir
from . import _generalise as generalise
from ._arg_input import substituted_stdin
from ._args import Args, split_args
from ._assign import assignment
from ._command_word import from_environment, program_matches
from ._cron import scheduled_file
from ._decision import action_rank
from ._findings import MAX_COMMANDS, MAX_DEPTH, MAX_VALUES, Context, Finding, dynamic, hidden
from ._names import (
    DATA_READERS,
    DEFAULT_SPEC,
    DOWNLOADERS,
    INJECT_VARS,
    RAW_NET,
    REMOTE,
    URL,
    base,
    fmt,
    opens_to_others,
    select,
)
from ._parse import expand_braces, parse
from ._paths import GLOB_CHARS, INTO_DIR, Paths, into_dir
from ._programs import OWN_VALUES, Handler, cd, handler, option_code
from ._regex_cache import lazy
from ._reparse import reparse
from ._rules_model import CommandSpec, EffectRule, PrefixRule, RuleSet
from ._shells import eval_, interp, pipe_text, remember, run_file, shell, source
from ._stdin_copies import stdin_copies
from ._stdin_progs import downloaded_script
from ._words import DYN, SimpleCommand, Word, into, literal
from ._wrappers import wrapper
from ._written import finish

BUILTINS: dict[str, Handler] = {
    "cd": cd, "pushd": cd, "popd": cd, "chdir": cd,
    "eval": eval_, "alias": eval_, "trap": eval_,
    "source": source, ".": source,
}
"""Shell built-ins that change how the rest of the line reads; nothing else judges them."""
_VAR_NAME = lazy(r"[A-Za-z_][A-Za-z0-9_]*")
WRITES = frozenset({"write", "delete", "modify", "format"})


class Judge:
    """Collects the findings for a line under one rule set and one set of path classes.

    Args:
        rules: the rule set in force (built-in rules.toml plus the user's file).
        paths: the path classes for this daemon (home, workspace, protected paths).
        grants: allow rules for prefixes a person granted (never lift a block).
    """

    def __init__(self, rules: RuleSet, paths: Paths, grants: Sequence[PrefixRule] = ()) -> None:
        self.rules = rules
        self.paths = paths
        self.grants = tuple(grants)

    def with_grants(self, grants: Sequence[PrefixRule]) -> Judge:
        """The same judge with more granted prefixes."""
        return Judge(self.rules, self.paths, (*self.grants, *grants))

    def judge(self, command: str) -> Context:
        """Every finding for one command line (or a short script); runs nothing."""
        ctx = Context(cwd=self.paths.workspace)
        try:
            self.line(command, ctx, 0)
        except RecursionError:
            ctx.add(Finding("confirm", "parse.too-deep", "the line nests too deeply to judge", frozenset({"dynamic"})))
        finish(self, ctx, 0)  # reverse shells, commands in files the line writes for another program
        return ctx

    def line(self, text: str, ctx: Context, depth: int, *, origin: str = "", argv: tuple[Word, ...] | None = None) -> None:
        if depth > MAX_DEPTH:
            ctx.add(dynamic("parse.too-deep", f"commands nested more than {MAX_DEPTH} levels deep ({origin or 'shell'})"))
            return
        if DYN in text:
            ctx.add(dynamic("dyn.code", f"{origin or 'a shell'} runs text that is only known when it runs"))
            text = text.replace(DYN, "$__aios_unknown")
        parsed = parse(text, argv)
        if parsed.error:
            where = f" ({origin})" if origin else ""
            ctx.add(dynamic("parse.error", f"the text{where} does not parse as shell, so what runs cannot be known"))
            parsed = reparse(text) or parsed
            words = expand_braces(text.strip())
            if len(words) > 1 and not any(c.isspace() for c in text.strip()):
                # `{rm,-rf,/}` is a brace expansion bash runs as `rm -rf /`, not a group.
                self.line(" ".join(shlex.quote(w) for w in words), ctx, depth + 1, origin="brace expansion")
        for var, val in parsed.assignments:
            self.assignment(var, val, ctx, depth)
        for name in parsed.fork_bombs:
            why = (f"a {name} starts a background job on every turn and never ends" if name.endswith(" loop")
                   else f"a {name} starts a background job on every turn" if name.endswith(" values")
                   else f"function {name!r} calls itself in a pipe or in the background")
            ctx.add(Finding("block", "proc.fork-bomb", f"{why} (a fork bomb)", frozenset({"dangerous"})))
        commands = parsed.commands
        ctx.typed = ctx.typed or commands
        if len(commands) + len(ctx.commands) > MAX_COMMANDS:
            ctx.add(dynamic("parse.too-long", f"the line has more than {MAX_COMMANDS} commands; only the first are judged"))
            commands = commands[: max(0, MAX_COMMANDS - len(ctx.commands))]
        for cmd in commands:
            if cmd.words:
                ctx.commands.append(cmd.argv)
            self.simple(cmd, ctx, depth)

    def simple(self, cmd: SimpleCommand, ctx: Context, depth: int) -> None:
        cmd = substituted_stdin(cmd)
        for r in cmd.redirects:
            if r.target is None or r.target.text.startswith(("<(", ">(")):
                continue
            label = f"redirection {r.op}" if not cmd.words else f"{base(cmd.words[0].value)} {r.op}"
            self.effect("write" if r.writes else "read", r.target, ctx, label)
            if r.writes and r.fd in (None, "1") and cmd.words:
                remember(self, r.target, cmd, ctx, append=r.op == ">>")
                self._runs_later(r.target, ctx, depth, truncates=r.op != ">>")
        for name, val in cmd.assigns:
            self.assignment(name, val, ctx, depth)
        if cmd.words:
            self.argv(list(cmd.words), cmd, ctx, depth)

    def _runs_later(self, target: Word, ctx: Context, depth: int, *, truncates: bool) -> None:
        path = self.paths.abspath(target.value, ctx.cwd) if not target.dynamic else None
        text = ctx.files.get(path) if path is not None else None
        if path is not None and text is not None:
            scheduled_file(self, path, text, ctx, depth, truncates=truncates)

    def assignment(self, name: str, val: Word, ctx: Context, depth: int) -> None:
        """Variables that make the shell or the loader run code: judged like that code (``_assign``)."""
        assignment(self, name, val, ctx, depth)

    def argv(self, words: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
        if depth > MAX_DEPTH:
            ctx.add(dynamic("parse.too-deep", "wrappers nested too deep to follow"))
            return
        first = words[0]
        if first.dynamic or DYN in first.value:
            resolved = from_environment(first)
            if resolved is None:
                ctx.add(hidden("dyn.command-name", f"the program {first.text!r} is only known when the line runs"))
                ctx.misses.append(first.text)
                return
            words = [*resolved, *words[1:]]
            first = words[0]
        if first.glob:
            matches = program_matches(self.paths, first, ctx.cwd)
            if not matches:
                ctx.add(hidden("dyn.command-name", f"the program name {first.text!r} is a pattern expanded when it runs"
                               + (" to more programs than are judged" if matches is None else " (nothing matches it now)")))
                ctx.misses.append(first.text)
                return
            for m in matches[1:]:
                ctx.commands.append((m, *(w.text for w in words[1:])))
                self.argv([literal(m), *words[1:]], cmd, ctx, depth + 1)
            words = [literal(matches[0]), *words[1:]]
            first = words[0]
        if len(first.values) > 1:
            words = [literal(first.values[0]), *(literal(v) for v in first.values[1:]), *words[1:]]
        name = base(words[0].value)
        args = words[1:]
        body = ctx.aliases.pop(words[0].value, None) if ctx.aliases else None
        if body is not None:
            # An alias the line defined: its text, then the words given to it (once; no recursion).
            self.line(" ".join([body, *(shlex.quote(w.value) if not w.dynamic else w.text for w in args)]), ctx,
                      depth + 1, origin=f"alias {words[0].value}")
            ctx.aliases[words[0].value] = body
            return
        if name in RAW_NET or (name == "openssl" and any(w.value == "s_client" for w in args)):
            ctx.network = True
        if "/" in words[0].value and run_file(self, words[0], ctx, depth, name, None):
            return
        start = len(ctx.findings)
        granted = self.granted(name, args)
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

    def _dispatch(self, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
        builtin = BUILTINS.get(name)
        if builtin is not None:
            builtin(self, name, args, cmd, ctx, depth)
            return
        if name in ("export", "declare", "typeset", "local", "readonly", "env"):
            for w in args:
                var, eq, _ = w.value.partition("=")
                # `export PGPASSFILE=/home/bob/.pgpass`, `env 'BASH_FUNC_f%%=() {…}'`: judged like VAR=value.
                if eq and (var in INJECT_VARS or var.startswith("BASH_FUNC_") or _VAR_NAME.fullmatch(var)):
                    v = w.value[len(var) + 1 :]
                    self.assignment(var, Word(v, (v,), w.dynamic, w.glob), ctx, depth)
        spec = self.rules.wrapper(name)
        if spec is not None:
            wrapper(self, spec, name, args, cmd, ctx, depth)
            return
        if name in self.rules.shells:
            shell(self, name, args, cmd, ctx, depth)
            return
        interpreter = self.rules.interpreter(name)
        if interpreter is not None:
            interp(self, interpreter, name, args, cmd, ctx, depth)
            return
        self.generic(name, args, ctx, depth, cmd=cmd, program=handler(self, name))
        st = cmd.stdin
        if st is not None and not st.dynamic and name not in DATA_READERS:
            # sqlite3, psql, ftp, gdb -x /dev/stdin … read commands with shell escapes from stdin.
            text = st.text if st.kind == "text" else pipe_text(self, st.source, 0)
            if text:
                generalise.stdin_escapes(self, name, text, ctx, depth)
        downloaded_script(self, name, cmd, ctx)
        stdin_copies(self, name, args, cmd, ctx)

    def granted(self, name: str, args: list[Word]) -> PrefixRule | None:
        if not self.grants:
            return None
        a = split_args(args, frozenset())
        tokens = [name, *(w.value for w in a.operands)]
        vals = [w.value for w in args]
        for g in self.grants:
            if g.matches(tokens, set(a.options), vals) is not None:
                return g
        return None

    def is_readonly(self, name: str, a: Args, args: Sequence[Word]) -> bool:
        tokens = [name, *(w.value for w in a.operands)]
        opts = set(a.options)
        vals = [w.value for w in args]
        return any(r.matches(tokens, opts, vals) is not None for r in self.rules.readonly_candidates(name))

    def generic(self, name: str, args: list[Word], ctx: Context, depth: int = 0, *,
                cmd: SimpleCommand | None = None, program: Handler | None = None) -> None:
        """A program by its rules.toml entry (or none) and its words; ``program`` is its own
        handler (find, git, sed …), run first, in the same working directory."""
        spec = self.rules.command(name) or DEFAULT_SPEC
        raw = args
        if name == "tar" and args and re.fullmatch(r"[A-Za-z]+", args[0].value):
            args = [literal("-" + args[0].value), *args[1:]]  # tar's old style: tar xzf FILE
        unknown = spec is DEFAULT_SPEC and program is None
        guessed = (chdir.guessed_options(args) | generalise.guessed_options(args)) if unknown else frozenset()
        a = split_args(args, spec.arg_options | guessed, single_dash_long=spec.single_dash_long)

        def once() -> None:
            if program is not None:
                program(self, name, raw, cmd or SimpleCommand(()), ctx, depth)
            self._generic(name, spec, args, a, ctx, depth)
            generalise.sends_output(self, name, args, cmd, ctx)
            generalise.remote_copies(self, name, a.operands, ctx)
            if generalise.fetched(cmd):
                # `curl … | tee x.sh`, `curl … | tar x`: what they write comes from the network.
                for w in a.operands if name == "tee" else ():
                    self.downloaded(w, ctx)
                if name in ("tar", "bsdtar", "cpio", "unzip", "busybox") and ctx.cwd is not None:
                    ctx.files[ctx.cwd.rstrip("/") + "/"] = None

        dirs = chdir.directories(self, a.values, ctx)
        if not dirs:
            once()
            return
        if not spec.no_read:
            # `git -C /root/.ssh …`: a program working in a secret directory reads what is there.
            generalise.secrets(self, name, [w for w, _ in dirs], ctx)
        chdir.under(ctx, dirs, once)

    def _generic(self, name: str, spec: CommandSpec, args: list[Word], a: Args, ctx: Context, depth: int) -> None:
        readonly = self.is_readonly(name, a, args)
        if not readonly:
            ctx.misses.append(shlex.join([name, *(w.text for w in args[:3])]))
        self.prefix(name, a, args, ctx)
        if spec.command_options or spec.setting_options:
            option_code(self, name, spec, a.values, ctx, depth)
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
            opens = spec.mode_operand and bool(operands) and opens_to_others(operands[0].value)
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
                    targets += [(w, option) for w in select(operands, sel)]
                    if sel == "last" and eff.effect == "write" and name in INTO_DIR:
                        targets += [(w, option) for w in into_dir(self.paths, operands, ctx.cwd)]
                for o, w in a.values:
                    if o in eff.options:
                        targets.append((w, f" with {o}"))
                        # `cp -t /etc passwd` writes /etc/passwd: each operand lands in the directory.
                        targets += [(into(w, x), f" with {o}") for x in operands if o in ("-t", "--target-directory")
                                    and eff.effect == "write" and not (w.dynamic or x.dynamic)]
                for key in eff.kv:
                    for w in operands:
                        if w.value.startswith(key + "="):
                            val = w.value[len(key) + 1 :]
                            targets.append((Word(val, (val,), w.dynamic, w.glob), f" with {key}="))
                kinds = [eff.effect, "write"] if eff.effect == "modify" and opens else [eff.effect]
                for w, opt in targets:
                    used.add(id(w))
                    if eff.effect == "write" and name in DOWNLOADERS:
                        self.downloaded(w, ctx)
                    for kind in kinds:
                        self.effect(kind, w, ctx, name, option=opt if eff.effect != "read" else "",
                                     recursive=recursive and eff.effect in ("delete", "modify"))
        wget_default = name == "wget" and not {"-O", "--output-document"} & a.options
        curl_remote = name == "curl" and bool({"-O", "--remote-name", "--remote-name-all"} & a.options)
        if wget_default or curl_remote:
            for w in a.operands:
                if URL.match(w.value) and not w.dynamic:
                    tail = w.value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                    if tail:
                        self.downloaded(literal(tail), ctx)
        # `useradd -s /bin/bash`: a program named as an option's value, not a file written.
        kept = generalise.option_programs(self, args, ctx) if spec is DEFAULT_SPEC else set()
        self._by_words(name, spec, a, used, readonly, ctx, depth, kept)

    def _by_words(self, name: str, spec: CommandSpec, a: Args, used: set[int], readonly: bool, ctx: Context,
                  depth: int, kept: set[int]) -> None:
        """What the program's words say, whatever rules.toml knows of it (``_generalise``)."""
        unknown = spec is DEFAULT_SPEC and handler(self, name) is None
        values = [(o, w) for o, w in a.values if id(w) not in used]
        operands = [w for w in a.operands if id(w) not in used] if unknown else []
        if name not in OWN_VALUES:
            generalise.programs(self, name, operands, values, ctx, depth, readonly=readonly)
        if unknown and not readonly:
            generalise.code_values(self, name, [*a.operands, *(w for _, w in values),
                                                *(w for w in a.option_words if len(w.value) > 2 and w.value[1] != "-")],
                                   ctx, depth)
        if unknown:
            generalise.output_devices(self, name, values, ctx)
        if not (spec.no_read or spec.secret_ok):
            # Anything else that names a secret is read by this program as far as the policy knows.
            words = [w for w in (*a.operands, *(w for o, w in values if o not in spec.secret_ok_options))
                     if id(w) not in used]
            # `scp -i KEY`: the user's own key is fine, another account's is still a secret.
            generalise.secrets(self, name, [w for o, w in values if o in spec.secret_ok_options], ctx, foreign=True)
            start = len(ctx.findings)
            generalise.secrets(self, name, [*words, *(w for w in a.option_words if len(w.value) > 2)], ctx)
            generalise.home_trees(self, name, a.options, a.operands, ctx)
            if len(ctx.findings) > start:
                return
        elif spec.secret_ok and not spec.no_read and not readonly:
            # ssh-keygen, gpg … handle the user's own keys; another account's are still secrets.
            words = [w for w in (*a.operands, *(w for _, w in values)) if id(w) not in used]
            start = len(ctx.findings)
            generalise.secrets(self, name, [*words, *(w for w in a.option_words if len(w.value) > 2)], ctx,
                               foreign=True)
            if len(ctx.findings) > start:
                return
        if unknown and not readonly:
            generalise.writes(self, name, [w for w in a.operands if id(w) not in used | kept], values,
                              [w for w in a.option_words if len(w.value) > 2 and w.value[1] != "-"], ctx)

    def downloaded(self, w: Word, ctx: Context) -> None:
        if not w.dynamic and len(w.values) == 1 and w.value != "-":
            path = self.paths.abspath(w.value, ctx.cwd)
            if path is not None:
                ctx.files[path] = None

    def prefix(self, name: str, a: Args, args: Sequence[Word], ctx: Context) -> None:
        tokens = [name, *(w.value for w in a.operands)]
        vals = [w.value for w in args]
        if vals and all(v in ("--help", "--version") for v in vals):
            return  # `aa-teardown --help`: prints and exits
        opts = set(a.options)
        best: tuple[PrefixRule, str] | None = None
        for r in self.rules.prefix_candidates(name):
            hit = r.matches(tokens, opts, vals)
            if hit is None:
                continue
            if r.action == "block":
                ctx.add(Finding("block", r.id, fmt(r.reason, name, hit), r.tags))
            elif best is None or (r.specificity, action_rank(r.action)) > (best[0].specificity, action_rank(best[0].action)):
                best = (r, hit)
        if best is not None:
            r, hit = best
            ctx.add(Finding(r.action, r.id, fmt(r.reason, name, hit), r.tags))

    def effect(self, effect: str, word: Word, ctx: Context, label: str, *, option: str = "", recursive: bool = False) -> None:
        for value in word.values[:MAX_VALUES]:
            if not value or URL.match(value) or (REMOTE.match(value) and not value.startswith(("/", "~", "."))):
                continue
            if effect == "read" and value == "-":
                continue
            cls, _ = self.paths.classify(value, ctx.cwd, recursive, word.glob)
            rule = self.effect_rule(effect, cls, recursive)
            if rule is None:
                continue
            shown = word.text if len(word.values) == 1 else value
            if effect in WRITES and cls != "unknown":
                self._target(value, ctx, word.glob)
            ctx.add(Finding(rule.action, rule.id, fmt(rule.reason, label, "", target=shown, option=option, cls=cls),
                            rule.tags))
            if rule.action == "block":
                return

    def effect_rule(self, effect: str, cls: str, recursive: bool) -> EffectRule | None:
        for r in self.rules.effects:
            if effect in r.effects and cls in r.targets and (r.recursive is None or r.recursive == recursive):
                return r
        return None

    def _target(self, value: str, ctx: Context, glob: bool) -> None:
        path = self.paths.abspath(value, ctx.cwd)
        if path is None:
            return
        m = GLOB_CHARS.search(path) if glob else None
        if m is not None:
            path = path[: m.start()].rsplit("/", 1)[0] or "/"
        ctx.target(path)

"""Wrappers: programs that run another program (sudo, env, nice, timeout, xargs, watch …).

A ``[wrapper.X]`` entry in rules.toml says which options take values, which run a string as
a line (``watch``, ``su -c``), which append their input (``xargs``), and whether the wrapper is
privileged. The wrapped command is judged as if it ran on its own, one level deeper.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from . import _chdir as chdir
from . import _generalise as generalise
from ._arg_input import ARG_FILE_OPTIONS, FILE_SEPARATORS, file_items, glued, stdin_items
from ._args import split_args
from ._findings import MAX_VALUES, Context, Finding, hidden
from ._forks import fan_out
from ._names import DEFAULT_SPEC, base
from ._programs import option_code
from ._rules_model import WrapperSpec
from ._shells import stdin_code
from ._words import DYN, SimpleCommand, Word, literal, replace_placeholder

if TYPE_CHECKING:
    from ._judge import Judge


_LISTS_ONLY = frozenset({"--help", "-h", "-V", "--version", "-l", "--list", "-U", "--other-user"})


def wrapper(judge: Judge, spec: WrapperSpec, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context,
            depth: int) -> None:
    """A program that runs another (sudo, env, timeout, xargs …): the wrapped command is judged."""
    stop_after = len(args) + 1 if spec.no_positional_command else spec.positionals
    if spec.appends:
        args = glued(args)
    a = split_args(args, spec.arg_options, stop_after=stop_after, assignments=spec.assignments,
                   numeric=spec.numeric_option)
    rest = list(a.rest)
    consumed = args[: len(args) - len(rest)]
    if not (rest and generalise.is_command(rest[0].value, ctx.cwd, judge)):
        # `taskset -c 0 wipefs …`: when the rules misjudge which words are the runner's own,
        # the wrapped command starts at the first of them that is a program on PATH.
        for k, w in enumerate(consumed):
            if not w.dynamic and not w.value.startswith("-") and generalise.is_command(w.value, ctx.cwd, judge):
                rest = list(args[k:])
                a = split_args(args[:k], spec.arg_options, stop_after=len(args) + 1, assignments=spec.assignments,
                               numeric=spec.numeric_option)
                break
    option_values = list(a.values)
    for w in consumed if spec.assignments else ():
        var, eq, val = w.value.partition("=")
        if eq and not w.value.startswith("-") and var.replace("_", "a").isalnum() and not var[0].isdigit():
            # `sudo APT_CONFIG=FILE apt …`: the variable reaches the command as a prefix would.
            judge.assignment(var, Word(val, tuple(x.partition("=")[2] for x in w.values), w.dynamic, w.glob), ctx, depth)
    if spec.no_positional_command:
        for w in a.operands:  # `script FILE`: the positional is the file the session is logged to
            judge.effect("write", w, ctx, name)
    judge.prefix(name, a, args[: len(args) - len(rest)], ctx)  # rules about the wrapper itself (ssh: data leaves)
    for opt, ov in option_values:
        if opt in spec.read_options:
            judge.effect("read", ov, ctx, f"{name} {opt}")
    # `ssh -i /home/bob/.ssh/id_rsa`: the user's own keys are fine, another account's are secrets.
    clusters = [w for w in a.option_words if len(w.value) > 2 and w.value[1] != "-"]
    generalise.secrets(judge, name, [ov for _, ov in option_values] + clusters, ctx, foreign=True)
    no_command = bool(spec.no_command & a.options)
    strings = [ov for opt, ov in option_values if opt in spec.string_options]
    splits = [ov for opt, ov in option_values if opt in spec.split_options]
    replace: str | None = None
    for opt in spec.replace_options & a.options:
        given = [ov.value for o, ov in option_values if o == opt]
        replace = given[0] if given else "{}"
    if replace is None and spec.placeholder and any(spec.placeholder in w.value for w in rest):
        replace = spec.placeholder
    whole = bool(_WHOLE_ITEMS & a.options)  # xargs -0 / -d: each input item is one word, spaces and all
    lines = replace is not None or whole
    extra_input: list[Word] = []
    if spec.separators:
        for k, w in enumerate(rest):
            if w.value in spec.separators:
                extra_input = _separated(judge, name, spec, rest[k:], ctx, lines)
                rest = rest[:k]
                break
    if spec.appends:
        # `xargs -a <(echo /usr) rm -rf`, `parallel -a FILE`: the items come from that file.
        for opt, ov in option_values:
            if opt in ARG_FILE_OPTIONS:
                extra_input += file_items(judge, ov, ctx, lines=lines, label=f"{name} {opt}")
    ro = inner_readonly(judge, rest)
    if spec.privileged:
        ctx.privileged = True
        ctx.misses.append(name)
        what = shlex.join(w.text for w in rest[:4]) + (" …" if len(rest) > 4 else "") if rest else ""
        if not rest and not strings and not splits:
            if no_command and a.options <= _LISTS_ONLY:
                return  # `sudo -l [-U bob]`, `sudo -V`: it shows what is allowed and changes nothing
            if no_command:
                what = f"{name} {' '.join(w.text for w in args)}".strip()
                ctx.add(Finding("confirm", f"priv.{name}", f"{what} uses root privileges", frozenset({"privileged"})))
                return
            if spec.alone == "root-shell":
                ctx.add(Finding("confirm", f"priv.{name}-shell", f"{name} opens a shell as another user (usually root)",
                                frozenset({"privileged", "system"})))
                root_shell_stdin(judge, name, cmd, ctx, depth)
                return
        tags = {"privileged"} if ro and not strings and not splits else {"privileged", "system"}
        ctx.add(Finding("confirm", f"priv.{name}", f"{name} runs {what or 'a command'} as another user (usually root)",
                        frozenset(tags)))
    own = judge.rules.command(name)
    if own is not None and option_values:
        option_code(judge, name, own, option_values, ctx, depth)
    if spec.shell_args and rest:
        rest = [literal("sh"), *rest]
    if no_command:
        return
    if spec.appends:
        fan_out(name, option_values, rest, cmd, ctx)
    for _, ov in option_values:
        # systemd-run -p ExecStartPre=CMD: a unit property that is a command line.
        m = _EXEC_PROPERTY.match(ov.value)
        if m is not None and not ov.dynamic:
            judge.line(m.group(2), ctx, depth + 1, origin=f"{name} {m.group(1)}")
    dirs = chdir.directories(judge, option_values, ctx)
    if dirs:
        # `env -C /etc cat shadow`, `sudo --chdir=/root …`: the wrapped command works there.
        chdir.under(ctx, dirs, lambda: _run(judge, spec, name, strings, splits, rest, extra_input, replace, cmd, ctx,
                                            depth, whole))
    else:
        _run(judge, spec, name, strings, splits, rest, extra_input, replace, cmd, ctx, depth, whole)


def _run(judge: Judge, spec: WrapperSpec, name: str, strings: list[Word], splits: list[Word], rest: list[Word],
         extra_input: list[Word], replace: str | None, cmd: SimpleCommand, ctx: Context, depth: int,
         whole: bool = False) -> None:
    """Judge what the wrapper runs: its command strings, its split string, its wrapped command."""
    if spec.no_positional_command and cmd.stdin is not None and (
            not strings or all(not s.dynamic and (s.value.split() or [""])[0] in judge.rules.shells
                               and len(s.value.split()) == 1 for s in strings)):
        # `curl … | script -q /dev/null`, `script -qc sh`: the session's shell reads our stdin
        # (through a pty), so stdin is a script like `| sh`.
        stdin_code(judge, cmd, ctx, depth, name, None)
    for s in strings:
        if s.dynamic:
            ctx.add(hidden("dyn.wrapper-string", f"{name} runs text that is only known when it runs"))
        else:
            judge.line(s.value, ctx, depth + 1, origin=name)
    if splits:
        words = [literal(p) for s in splits for p in _split_string(s.value)]
        if any(s.dynamic for s in splits):
            ctx.add(hidden("dyn.wrapper-string", f"{name} -S runs text that is only known when it runs"))
        if words or rest:
            judge.argv(words + rest, cmd, ctx, depth + 1)
        return
    if not rest and not extra_input and spec.separators:
        # `… | parallel`, `parallel <<< CMD`: with no command and no ::: list, each stdin line
        # is a command line, as `| sh` runs it.
        stdin_code(judge, cmd, ctx, depth, name, None)
        return
    if not rest:
        if not spec.separators:
            return  # `xargs -a FILE` with no command echoes the items
        # `parallel ::: 'rm -rf /'`: with no command, each argument is a command line.
        for w in extra_input[:MAX_VALUES]:
            if w.dynamic:
                ctx.add(hidden("dyn.wrapper-string", f"{name} runs arguments that are only known when it runs"))
            else:
                judge.line(w.value, ctx, depth + 1, origin=name)
        return
    if spec.appends:
        inputs = extra_input or stdin_items(judge, cmd, ctx, lines=replace is not None or whole)
        if replace is not None:
            # xargs -I: each input line (not word) replaces the placeholder; judge each line.
            variants = [[replace_placeholder(w, replace, [line]) for w in rest] for line in (inputs or [literal(DYN)])]
            if spec.joins:
                rest = variants[0]
            else:
                for variant in variants[1:MAX_VALUES]:
                    judge.argv(variant, cmd, ctx, depth + 1)
                rest = variants[0]
        else:
            # parallel quotes what it appends to its command: `sh -c ::: 'rm -rf /'` runs sh -c 'rm -rf /'.
            rest = rest + ([literal(shlex.quote(w.value)) if not w.dynamic else w for w in inputs] if spec.joins
                           else inputs)
    if spec.joins:
        text = " ".join(w.text if w.dynamic else (w.value if len(w.values) == 1 else w.text) for w in rest)
        judge.line(text, ctx, depth + 1, origin=name)
        return
    judge.argv(rest, cmd, ctx, depth + 1)



_WHOLE_ITEMS = frozenset({"-0", "--null", "-d", "--delimiter"})


def _separated(judge: Judge, name: str, spec: WrapperSpec, words: list[Word], ctx: Context, lines: bool) -> list[Word]:
    """The items after parallel's ``:::`` (arguments) and ``::::`` (files of arguments) groups."""
    items: list[Word] = []
    files = False
    for w in words:
        if w.value in spec.separators:
            files = w.value in FILE_SEPARATORS
        elif files:
            items += file_items(judge, w, ctx, lines=lines, label=f"{name} ::::")
        else:
            items.append(w)
    return items
_EXEC_PROPERTY = re.compile(r"(Exec\w*|ExecCondition)=[-@:+!|]*(.+)", re.S)


def root_shell_stdin(judge: Judge, name: str, cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``sudo -i <<< 'rm -rf /'``, ``echo … | su -``: the shell reads its commands from standard input."""
    st = cmd.stdin
    if st is None:
        return
    from ._shells import pipe_text  # (imported here: _shells imports this module's neighbours)

    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    if text is None or st.dynamic or DYN in text:
        ctx.add(hidden("dyn.stdin-script", f"{name} runs as root whatever its standard input holds, which is only "
                       "known when it runs"))
    else:
        judge.line(text, ctx, depth + 1, origin=f"{name} reading stdin")


def _split_string(text: str) -> list[str]:
    """``env -S 'sh -c "rm -rf /"'``: env splits the string with shell-like quotes."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def inner_readonly(judge: Judge, rest: list[Word]) -> bool:
    """Whether the wrapped command is on the read-only list (``sudo cat`` is not a system change)."""
    if not rest or rest[0].dynamic:
        return False
    name = base(rest[0].value)
    spec = judge.rules.command(name) or DEFAULT_SPEC
    a = split_args(rest[1:], spec.arg_options, single_dash_long=spec.single_dash_long)
    return judge.is_readonly(name, a, rest[1:])



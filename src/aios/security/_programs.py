"""Programs with their own syntax for running commands or touching files, one handler each.

A handler takes the judge, the program name, its words, the simple command (for stdin), the
context and the depth; it adds findings and may recurse into text the program will run. The
table :data:`PROGRAMS` maps names to handlers: add a program here when rules.toml cannot say
what it does (``[command.X]`` covers options that take files or commands).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import _config_files as config_files
from . import _fetch_run as fetch_run
from . import _generalise as generalise
from . import _secoff as secoff
from ._arg_input import names_on_stdin
from ._args import split_args
from ._cron import crontab, tee
from ._findings import MAX_VALUES, Context, Finding, dynamic, hidden
from ._git import git, setting_code
from ._names import DEFAULT_SPEC, REMOTE
from ._regex_cache import lazy
from ._rules_model import CommandSpec
from ._sed import sed_actions
from ._shells import STDIN_PATHS, pipe_text, run_code, stdin_code
from ._socat import socat
from ._words import DYN, SimpleCommand, Word, literal, replace_placeholder

if TYPE_CHECKING:
    from ._judge import Judge

FIND_FILTERS_1 = frozenset({
    "-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-type", "-xtype", "-mtime", "-mmin",
    "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group", "-newer", "-perm", "-links",
    "-inum", "-samefile", "-wholename", "-iwholename", "-lname", "-ilname", "-uid", "-gid", "-used",
    "-newermt", "-newerct", "-anewer", "-cnewer", "-context", "-fstype",
})
FIND_ARG_1 = frozenset({"-maxdepth", "-mindepth", "-printf", "-D", "-O", "-files0-from"})
FIND_NARROWING = frozenset({
    "-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-wholename", "-iwholename", "-lname",
    "-ilname", "-samefile", "-inum", "-newer", "-newermt", "-mmin", "-mtime", "-size",
})
FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
FIND_WRITE = frozenset({"-fprint", "-fprint0", "-fls"})

EX_BANG = lazy(r"[\s:]*(?:sil(?:ent)?!?\s*)?(?:[%.$,\d'<>]*\s*)?(?:r(?:ead)?\s*|w(?:rite)?\s*)?!(.*)", re.S)
EX_CODE = lazy(r"[\s:]*(?:sil(?:ent)?!?\s*)?(?:[%.$,\d'<>]*\s*)?(?:py\w*|lua\w*|perl\w*|rub\w*|mz\w*|tcl\w*|"
                      r"exe(?:cute)?|so(?:urce)?|ter(?:minal)?|runtime|call|mak(?:e)?|gr(?:ep)?|lm(?:ake)?)\b")
EX_CALLS = lazy(r"\b(?:system|systemlist|job_start|jobstart|termopen|term_start|libcall\w*|luaeval|py3?eval|"
                       r"pyxeval|perleval|rubyeval|chansend|rpcstart)\s*\(")


def cd(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """cd/pushd/popd: later relative paths mean something else (None: unknown)."""
    rest = [w for w in args if not (w.value.startswith("-") and len(w.value) > 1)]
    if name == "popd":
        ctx.cwd = None
        return
    if not rest:
        ctx.cwd = judge.paths.home if name != "pushd" else ctx.cwd
        return
    w = rest[0]
    if w.dynamic or w.value == "-" or len(w.values) != 1:
        ctx.cwd = None
        return
    ctx.cwd = judge.paths.abspath(w.value, ctx.cwd)


def find(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """find: ``-exec`` commands are judged on the files found, ``-delete`` and ``-fprint`` on the start paths."""
    i = 0
    n = len(args)
    while i < n and args[i].value in ("-H", "-L", "-P"):
        i += 1
    starts: list[Word] = []
    while i < n and not (args[i].value.startswith("-") or args[i].value in ("(", "!", ")", "\\(")):
        starts.append(args[i])
        i += 1
    if not starts:
        starts = [literal(".")]
    filtered = delete = alternatives = False
    names: list[str] = []
    while i < n:
        v = args[i].value
        if v in FIND_EXEC:
            j = i + 1
            sub: list[Word] = []
            while j < n and args[j].value not in (";", "+", "\\;"):
                sub.append(args[j])
                j += 1
            i = j + 1
            if not sub:
                continue
            for s in starts[:MAX_VALUES]:
                # After a narrowing filter (-name, -path …) inside the workspace, {} is some
                # entries below the start, not all of them: judged as one workspace entry.
                # Elsewhere it may still be any file there, so it stays a glob of all.
                some = (filtered and not alternatives and not s.dynamic
                        and judge.paths.classify(s.value, ctx.cwd, True, s.glob)[0] in ("workspace", "workspace-top"))
                inner = literal(s.value.rstrip("/") + "/*" if s.value != "/" else "/*", glob=not some)
                if s.dynamic:
                    inner = literal(DYN)
                words = [replace_placeholder(w, "{}", [inner]) if "{}" in w.value else w for w in sub]
                if words and words[0].dynamic and words[0].value == inner.value:
                    ctx.add(hidden("dyn.command-name", "find -exec runs the files it finds"))
                    continue
                ctx.commands.append(tuple(w.text for w in sub))
                judge.argv(words, cmd, ctx, depth + 1)
                for pat in names[:MAX_VALUES] if not s.dynamic else ():
                    # `find /home -name id_rsa -exec cat {} \;`: {} is also any file of that name below.
                    named = literal(s.value.rstrip("/") + "/**/" + pat, glob=True)
                    judge.argv([replace_placeholder(w, "{}", [named]) if "{}" in w.value else w for w in sub], cmd,
                               ctx, depth + 1)
            continue
        if v == "-delete":
            delete = True
        elif v in FIND_WRITE and i + 1 < n:
            judge.effect("write", args[i + 1], ctx, f"find {v}")
            i += 1
        elif v == "-fprintf" and i + 1 < n:
            judge.effect("write", args[i + 1], ctx, "find -fprintf")
            i += 2
        elif v == "-empty":  # only empty files and directories
            filtered = True
        elif v in ("-o", "-or", ","):  # another branch: a filter no longer narrows everything
            alternatives = True
        elif v in FIND_FILTERS_1:
            if v in ("-name", "-iname") and i + 1 < n and not args[i + 1].dynamic and "/" not in args[i + 1].value:
                names.append(args[i + 1].value)
            if v in FIND_NARROWING and not (i + 1 < n and args[i + 1].value in ("*", "*.*")):
                filtered = True
            i += 1
        elif v in FIND_ARG_1:
            i += 1
        i += 1
    if delete:
        for s in starts:
            if filtered and not alternatives:
                target = literal(s.value.rstrip("/") + "/*") if not s.dynamic else literal(DYN)
                judge.effect("delete", target, ctx, "find -delete", option=" (matching files)")
            else:
                judge.effect("delete", s, ctx, "find -delete", option=" (everything below)", recursive=True)


def option_code(judge: Judge, name: str, spec: CommandSpec, values: Sequence[tuple[str, Word]], ctx: Context,
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
                ctx.add(dynamic("dyn.option-code", f"{name} {o} runs a command only known when it runs ({w.text})"))
                break
            for v in w.values[:MAX_VALUES]:
                judge.line(v[len(prefix):] if eq else v, ctx, depth + 1, origin=f"{name} {o}")
            break
        if o in spec.setting_options and spec.command_keys:
            m = re.match(r"\s*([^=\s]+)\s*(?:=|\s)\s*(.*)", w.value, re.S)
            if m is None:
                continue
            key = m.group(1).lower()
            if not any(fnmatch.fnmatchcase(key, k.lower()) for k in spec.command_keys):
                continue
            if w.dynamic:
                ctx.add(dynamic("dyn.option-code", f"{name} {o} {m.group(1)} runs a command only known when it "
                                 "runs"))
                continue
            setting_code(judge, name, f"{o} {m.group(1)}", m.group(2), ctx, depth)


def editor(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """vi/vim/ex ``-c CMD``, ``--cmd CMD``, ``+CMD``; emacs ``--eval``: commands the editor runs."""
    if name in ("emacs", "emacsclient"):
        for w in args:
            v = w.value
            if v in ("--eval", "-eval", "--execute", "-execute") or v.startswith(("--eval=", "--execute=")):
                ctx.add(dynamic("editor.code", f"{name} {v.split('=')[0]} runs Lisp code, which the policy cannot "
                                 "follow"))
                # (shell-command "CMD") and (call-process "PROG" nil nil nil "ARG" …) are read.
                for w2 in args:
                    if not w2.dynamic:
                        lisp_calls(judge, name, w2.value, ctx, depth)
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
            text = literal(v[2:])
        elif v.startswith("+") and len(v) > 1 and not v[1:].isdigit():
            text = literal(v[1:])
        i += 1
        if text is None:
            continue
        if text.dynamic:
            ctx.add(dynamic("dyn.editor-command", f"{name} runs an editor command only known when it runs"))
            continue
        ex_command(judge, name, text.value, ctx, depth)


def ex_command(judge: Judge, name: str, text: str, ctx: Context, depth: int, *, plain: bool = False) -> None:
    """One ex/vim command line: ``!cmd`` runs a shell; calls into other languages are opaque."""
    pos = 0
    while pos <= len(text):
        # `!cmd` takes the rest of the line, bars included; other commands end at a bar.
        m = EX_BANG.match(text, pos)
        if m is not None:
            judge.line(m.group(1), ctx, depth + 1, origin=f"{name} !")
            return
        end = text.find("|", pos)
        part = text[pos:] if end == -1 else text[pos:end]
        if not plain and (EX_CODE.match(part) or EX_CALLS.search(part)):
            ctx.add(dynamic("editor.code", f"{name} runs the editor command {part.strip()!r}, which the policy "
                             "cannot follow"))
            m = _EX_LANG.match(part)
            if m is not None:  # `:py3 os.system("…")`: the code is judged as that language's
                run_code(judge, _EX_LANGS[m.group(1)], m.group(2), f"{name} :{m.group(1)}", ctx, depth)
        if end == -1 or plain:
            break
        pos = end + 1


_EX_LANGS = {"py3": "python", "python3": "python", "py": "python", "python": "python", "pyx": "python",
             "pythonx": "python", "perl": "perl", "ruby": "ruby", "rub": "ruby", "lua": "lua"}
_EX_LANG = lazy(r"^\s*:*\s*(py3|python3|pyx|pythonx|python|py|perl|ruby|rub|lua)\s+(.+)$", re.S)


def sed(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """GNU sed scripts: ``e CMD`` and ``s///e`` run commands, ``w FILE`` writes, ``r FILE`` reads."""
    spec = judge.rules.command("sed") or DEFAULT_SPEC
    a = split_args(args, spec.arg_options)
    scripts = [w for o, w in a.values if o in ("-e", "--expression")]
    for o, w in a.values:
        if o in ("-f", "--file") and w.value in STDIN_PATHS:
            # `sed -f -`: the script is what arrives on stdin (a here-string, `echo … |`).
            st = cmd.stdin
            text = None
            if st is not None and not st.dynamic:
                text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
            if text is None:
                ctx.add(hidden("dyn.sed-script", "sed -f - runs a script that cannot be read from the line"))
            else:
                scripts.append(literal(text))
    if not scripts and not any(o in ("-f", "--file") for o, _ in a.values) and a.operands:
        scripts = [a.operands[0]]
    for w in scripts:
        if w.dynamic:
            continue
        for kind, arg in sed_actions(w.value):
            if kind == "exec":
                if arg.strip():
                    judge.line(arg, ctx, depth + 1, origin="sed e")
                else:
                    ctx.add(dynamic("dyn.sed-exec", "sed runs the text it edits as a command (e)"))
            else:
                judge.effect(kind, literal(arg), ctx, f"sed {'w' if kind == 'write' else 'r'}")


def chpasswd(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """chpasswd reads ``user:password`` lines; an empty password removes it (as ``passwd -d``)."""
    st = cmd.stdin
    if st is None or st.dynamic:
        return
    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    for line in (text or "").split("\n"):
        user, sep, password = line.strip().partition(":")
        if sep and user and not password.strip():
            ctx.add(Finding("block", "secoff.password-remove", f"turning security off: {name} sets an empty password "
                            f"for {user}", frozenset({"dangerous", "privileged", "system"})))
            return


def m4(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """m4: ``esyscmd(…)``/``syscmd(…)`` in its words (``-D x=…``) or in the text it reads from
    stdin run commands."""
    generalise.code_values(judge, name, args, ctx, depth)
    st = cmd.stdin
    if st is None or st.dynamic or any(not w.value.startswith("-") for w in args):
        return
    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    if text is not None:
        generalise.code_values(judge, name, [literal(text)], ctx, depth)


def at(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """at/batch read the commands they schedule from standard input."""
    stdin_code(judge, cmd, ctx, depth, name, None)


def ed(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """ed/ex reading commands from a here-document: each line is an ex command."""
    if cmd.stdin is not None and cmd.stdin.kind == "text" and cmd.stdin.text:
        for line in cmd.stdin.text.split("\n"):
            ex_command(judge, name, line, ctx, depth, plain=True)
    if name == "ex":
        editor(judge, name, args, cmd, ctx, depth)


def make(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """make reading its makefile from stdin (``-f -``) or given ``--eval TEXT``: the recipes
    and ``$(shell …)`` calls in that text are shell lines."""
    a = split_args(args, frozenset({"-f", "--file", "--makefile", "-C", "--directory", "-I", "--include-dir",
                                    "-o", "--old-file", "-W", "--what-if", "-j", "--jobs", "-l", "--load-average",
                                    "--eval", "-E"}))
    fetch_run.built_download(judge, name, args, cmd, ctx, depth)
    texts: list[tuple[str, Word | None]] = [("--eval", w) for o, w in a.values if o in ("--eval", "-E")]
    for o, w in a.values:
        if o in ("-f", "--file", "--makefile") and w.value in STDIN_PATHS:
            st = cmd.stdin
            text = None
            if st is not None and not st.dynamic:
                text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
            texts.append((f"{o} {w.value}", literal(text) if text is not None else None))
    for w in a.operands:
        var, eq, value = w.value.partition("=")
        parts = value.split()
        if eq and not w.dynamic and len(parts) > 1 and generalise.is_command(parts[0], ctx.cwd, judge):
            # `make SHELL='/bin/sh -c "rm -rf /"'`, `make CC='sh -c …'`: make runs the value for recipes.
            judge.line(value, ctx, depth + 1, origin=f"{name} {var}=")
    for label, given in texts:
        if given is None or given.dynamic:
            ctx.add(hidden("dyn.makefile", f"{name} {label} runs recipes that cannot be read from the line"))
            continue
        for line in _make_lines(given.value):
            judge.line(line, ctx, depth + 1, origin=f"{name} {label}")


_RULE_RECIPE = lazy(r"^[^\t#=:;]*::?(?![=:])[^=;#]*;(.*)$")


def _make_lines(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.replace("\\\n", " ").split("\n"):
        if raw.startswith("\t"):
            out.append(raw.lstrip("\t@-+ "))
        else:
            # `target: prereqs ; recipe`: a recipe on the rule's own line (not `X := a;b`).
            m = _RULE_RECIPE.match(raw)
            if m is not None:
                out.append(m.group(1).lstrip("@-+ "))
        for m in re.finditer(r"\$[({]shell\s+([^)}]*)[)}]", raw):
            out.append(m.group(1))
    return [re.sub(r"\$[({][^)}]*[)}]|\$[@<^*?%]", "X", line) for line in out]


def pager(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """less/more ``+CMD`` (and ``-+``/``--`` forms): an initial command; ``!cmd`` in it runs a shell."""
    for w in args:
        v = w.value
        if not v.startswith("+") or len(v) < 2:
            continue
        text = v.lstrip("+")
        if "!" not in text:
            continue
        if w.dynamic:
            ctx.add(hidden("dyn.pager-command", f"{name} runs a command only known when it runs"))
            continue
        inner = text.split("!", 1)[1]
        ctx.add(Finding("confirm", "pager.shell", f"{name} {v[:40]} runs a shell command", frozenset({"dynamic"})))
        if inner.strip():
            judge.line(inner, ctx, depth + 1, origin=f"{name} !")


def copy_out(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """scp/rsync whose destination is another host: data leaves this one."""
    spec = judge.rules.command(name) or DEFAULT_SPEC
    ops = split_args(args, spec.arg_options, single_dash_long=spec.single_dash_long).operands
    if len(ops) < 2:
        return
    dest = ops[-1]
    remote = dest.dynamic or dest.value.startswith("rsync://") or (
        bool(REMOTE.match(dest.value)) and not dest.value.startswith(("/", "~", ".")))
    if remote:
        ctx.add(Finding("confirm", "net.send-copy", f"sending data off the host: {name} copies to {dest.text}",
                        frozenset({"system"})))


Handler = Callable[["Judge", str, list[Word], SimpleCommand, Context, int], None]

PROGRAMS: dict[str, Handler] = {
    "find": find, "git": git, "at": at, "batch": at, "crontab": crontab, "sed": sed, "ed": ed, "ex": ed,
    "make": make, "gmake": make, "bmake": make, "scp": copy_out, "rsync": copy_out, "less": pager, "chpasswd": chpasswd, "m4": m4, "more": pager,
    "most": pager, "tee": tee, "socat": socat, "cpio": names_on_stdin, "zip": names_on_stdin, "tar": names_on_stdin,
    "bsdtar": names_on_stdin, **secoff.HANDLERS, **fetch_run.HANDLERS, **config_files.HANDLERS,
}
"""Programs with their own syntax for running commands, reading or writing files: judged by
their handler, then like any other program (rules.toml entries still apply)."""
OWN_VALUES = frozenset({"find", "git", "make", "gmake", "bmake", "sed", "crontab"})
"""Handlers that judge every option value themselves (``git rebase --exec``, ``find -exec``)."""
EDITORS = "vi"
"""Programs whose ``[command.X]`` entry is vi's (aliases: vim, nvim, view …) use :func:`editor`."""


def handler(judge: Judge, name: str) -> Handler | None:
    """The handler for a program with its own syntax, if it has one."""
    h = PROGRAMS.get(name)
    if h is None and judge.rules.command(name) is not None and judge.rules.command(name) is judge.rules.command(EDITORS):
        return editor
    return h


_LISP_PROCESS = lazy(r"\((?:call-process|start-process|process-lines|make-process)\s+((?:\"[^\"]*\"|nil|t|\s)+)\)")


def lisp_calls(judge: Judge, name: str, text: str, ctx: Context, depth: int) -> None:
    """Commands in Lisp code: ``(shell-command "CMD")`` (the generic code patterns) and
    ``(call-process "rm" nil nil nil "-rf" "/")`` (a program and its string arguments)."""
    generalise.code_values(judge, name, [literal(text)], ctx, depth)
    for m in _LISP_PROCESS.finditer(text):
        argv = re.findall(r'"([^"]*)"', m.group(1))
        if argv:
            judge.line(shlex.join(argv), ctx, depth + 1, origin=f"{name} call-process")


"""git: commands it is given to run (``-c alias.x=!cmd``, ``difftool -x``, ``rebase --exec`` …)
and the files it touches outside the repository (``diff --no-index``, ``clean -f PATH``)."""

from __future__ import annotations

import fnmatch
import re
import shlex
from typing import TYPE_CHECKING

from ._args import split_args
from ._config_files import written_text
from ._findings import Context, Finding, dynamic, hidden
from ._generalise import names_program, secrets
from ._names import DEFAULT_SPEC
from ._words import SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge


def setting_code(judge: Judge, name: str, what: str, value: str, ctx: Context, depth: int) -> None:
    """A configured command (``!cmd`` for git aliases; ``%h``-style tokens are harmless)."""
    value = value.strip()
    if what.split()[-1].lower().startswith("alias.") and not value.startswith("!"):
        # An alias without `!` is more git (`alias.lg=log --oneline`), not a program.
        judge.line(f"git {value}", ctx, depth + 1, origin=f"{name} {what}")
        return
    if value.startswith("!") or names_program(judge, value):
        # `alias.x=!cmd`, `core.pager=prog`: a program given a program (issue 14 §2).
        ctx.add(Finding("confirm", "wrap.program-setting", f"{name} {what} runs a command ({value[:60]})",
                        frozenset({"dynamic"})))
    if value.startswith("!"):
        value = value[1:]
    judge.line(re.sub(r"%[a-zA-Z%]", "X", value), ctx, depth + 1, origin=f"{name} {what}")


def git(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """git: configured commands, ``submodule foreach``, ``bisect run``, ``rebase --exec``."""
    spec = judge.rules.command("git") or DEFAULT_SPEC
    a = split_args(args, spec.arg_options)
    for k, w in enumerate(args):
        # git log/diff/show --output=FILE writes the output there.
        if w.value.startswith("--output="):
            judge.effect("write", Word(w.value[9:], tuple(v[9:] for v in w.values), w.dynamic, w.glob), ctx,
                         "git --output")
        elif w.value == "--output" and k + 1 < len(args):
            judge.effect("write", args[k + 1], ctx, "git --output")
    program_options(judge, args, ctx, depth)
    ops = [w.value for w in a.operands]
    sub = ops[0] if ops else ""
    trees = [w for o, w in a.values if o in ("--git-dir", "--work-tree")]
    if trees:
        # A repository or work tree in a secret place reads it; one that checkout/reset/clean … rewrites
        # is written (`git --work-tree=/etc checkout -f .`).
        secrets(judge, "git", trees, ctx)
        if sub in _REWRITES_TREE:
            for o, w in a.values:
                if o == "--work-tree":
                    judge.effect("write", w, ctx, f"git {sub}", option=" (its work tree)")
    cfg = _config_operands(args) if sub == "config" else []
    if len(cfg) >= 2 and spec.command_keys:
        key = cfg[0].value.lower()
        if any(fnmatch.fnmatchcase(key, k.lower()) for k in spec.command_keys):
            val = cfg[1]
            ctx.add(Finding("confirm", "git.config-command", f"git config {cfg[0].value} sets a command git runs "
                            "later"))
            if val.dynamic:
                ctx.add(dynamic("dyn.option-code", f"git config {ops[1]} is only known when it runs"))
            else:
                setting_code(judge, "git", f"config {cfg[0].value}", val.value, ctx, depth)
    elif sub == "submodule" and len(ops) >= 2 and ops[1] == "foreach":
        k = next(i for i, w in enumerate(args) if w.value == "foreach")
        rest = [w for w in args[k + 1 :] if w.value not in ("--recursive", "-q", "--quiet")]
        if rest:
            wrapper_text(judge, "git submodule foreach", rest, ctx, depth)
    elif sub == "bisect" and len(ops) >= 2 and ops[1] == "run":
        k = next(i for i, w in enumerate(args) if w.value == "run")
        if k + 1 < len(args):
            judge.argv(args[k + 1 :], cmd, ctx, depth + 1)
    elif sub in ("diff", "grep") and ("--no-index" in (w.value for w in args) or sub == "diff"):
        # git diff --no-index A B compares (and prints) any two files, not the repository; so does
        # `git diff A B` when a path is outside the work tree (`git diff /dev/null /run/secrets/x`).
        k = next(i for i, w in enumerate(args) if w.value == sub)
        for w in args[k + 1 :]:
            if not w.value.startswith("-") and (sub == "grep" or "--no-index" in (x.value for x in args)
                                                or w.value.startswith(("/", "~", "../"))):
                judge.effect("read", w, ctx, f"git {sub}")
    elif sub == "clean" and len(ops) == 1 and ctx.cwd != judge.paths.workspace:
        # `git -C / clean -ffdx`: with no paths it deletes the untracked files of the tree it is in.
        flags = "".join(w.value[1:] for w in args if re.fullmatch(r"-[a-zA-Z]+", w.value))
        if "n" not in flags and ("f" in flags or "--force" in (w.value for w in args)):
            judge.effect("delete", literal("."), ctx, "git clean", option=" (untracked files below)",
                         recursive="d" in flags)
    elif sub == "clone" and len(ops) > 1 and not any(w.dynamic for w in a.operands[1:3]):
        # The clone's files come from the network: running one later in the line runs downloaded code.
        dest = ops[2] if len(ops) > 2 else ops[1].rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
        path = judge.paths.abspath(dest, ctx.cwd) if dest else None
        if path is not None:
            ctx.files[path.rstrip("/") + "/"] = None
    elif sub in ("show", "cat-file", "archive") and len(ops) > 1:
        # `git -C /home/bob show HEAD:.aws/credentials`: REV:PATH reads that file of the repository.
        paths = [w.value.split(":", 1)[1] for w in a.operands[1:] if ":" in w.value and "://" not in w.value
                 and not w.dynamic]
        if paths:
            secrets(judge, f"git {sub}", [literal(p) for p in paths if p], ctx)
    elif sub == "clean" and len(ops) > 1:
        # git clean -f PATH… deletes untracked files below each path (-d: whole directories).
        k = next(i for i, w in enumerate(args) if w.value == "clean")
        rest = args[k + 1 :]
        flags = "".join(w.value[1:] for w in rest if re.fullmatch(r"-[a-zA-Z]+", w.value))
        if "n" not in flags and ("f" in flags or "--force" in (w.value for w in rest)):
            dashdash = False
            for w in rest:
                if w.value == "--":
                    dashdash = True
                elif dashdash or not w.value.startswith("-"):
                    judge.effect("delete", w, ctx, "git clean", option=" (untracked files below)", recursive="d" in flags)
    elif sub in ("difftool", "mergetool"):
        # -x/--extcmd CMD: git runs CMD on each pair of files.
        for i, w in enumerate(args):
            v = w.value
            code: Word | None = None
            if (v == "--extcmd" or re.fullmatch(r"-[a-zA-Z]*x", v)) and i + 1 < len(args):
                code = args[i + 1]
            elif v.startswith("--extcmd="):
                code = Word(v[len("--extcmd="):], tuple(x[len("--extcmd="):] for x in w.values), w.dynamic, w.glob)
            elif re.fullmatch(r"-[a-zA-Z]*x.+", v) and not v.startswith("--"):
                code = literal(v[v.index("x") + 1 :])
            if code is not None:
                ctx.add(Finding("confirm", "wrap.program-argument", f"git {sub} is given a command to run "
                                f"({code.text[:60]})", frozenset({"dynamic"})))
                wrapper_text(judge, f"git {sub} --extcmd", [code], ctx, depth)
    elif sub == "push" and len(ops) > 1:
        # `git remote add x URL && git push x`: a remote this same line points somewhere new.
        url = _remote_set_here(ctx, ops[1])
        if url:
            ctx.add(Finding("confirm", "net.send-git", f"sending data off the host: git push to {ops[1]}, which this "
                            f"line points at {url}", frozenset({"system"})))
    elif sub == "rebase":
        for i, w in enumerate(args):
            v = w.value
            code = None
            if v in ("-x", "--exec") and i + 1 < len(args):
                code = args[i + 1]
            elif v.startswith("--exec="):
                code = literal(v[len("--exec="):])
            elif v.startswith("-x") and len(v) > 2 and not v.startswith("--"):
                code = literal(v[2:])
            if code is not None:
                wrapper_text(judge, "git rebase --exec", [code], ctx, depth)


_CONFIG_ARGS = frozenset({"-f", "--file", "--blob", "--type", "--default", "--comment", "--value"})
"""``git config`` options that take a value (``-f FILE``: the setting still reaches git)."""


def _config_operands(args: list[Word]) -> list[Word]:
    """KEY and VALUE of ``git [opts] config [-f FILE] [set] KEY VALUE`` (git 2.46 spells ``set``)."""
    k = next((i for i, w in enumerate(args) if w.value == "config"), len(args))
    out: list[Word] = []
    skip = False
    for w in args[k + 1 :]:
        if skip:
            skip = False
        elif w.value.startswith("-") and len(w.value) > 1:
            skip = w.value in _CONFIG_ARGS
        else:
            out.append(w)
    return out[1:] if out and out[0].value in ("set", "add") else out


def config_file(judge: Judge, var: str, val: Word, ctx: Context, depth: int) -> None:
    """``GIT_CONFIG_GLOBAL=FILE git …`` naming a file this line wrote: its command settings are
    judged like ``git -c KEY=VALUE`` (a file downloaded here is confirmed: it may set any)."""
    text = written_text(judge, val, ctx, "git.config-file", f"{var}={val.text} makes git read settings this line downloads")
    if text is None:
        return
    keys = (judge.rules.command("git") or DEFAULT_SPEC).command_keys
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        m = re.fullmatch(r'\[\s*([\w.-]+)(?:\s+"([^"]*)")?\s*\]', line)
        if m:
            section = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
            continue
        key, eq, value = line.partition("=")
        full = f"{section}.{key.strip()}".lower()
        if eq and section and any(fnmatch.fnmatchcase(full, k.lower()) for k in keys):
            ctx.add(Finding("confirm", "git.config-command", f"{var}={val.text} sets {full}, a command git runs"))
            setting_code(judge, "git", f"{var} {full}", value.strip().strip('"'), ctx, depth)


def wrapper_text(judge: Judge, label: str, words: list[Word], ctx: Context, depth: int) -> None:
    """Words joined and run by a shell (``git submodule foreach``, ``git rebase --exec``)."""
    if any(w.dynamic for w in words):
        ctx.add(hidden("dyn.wrapper-string", f"{label} runs text that is only known when it runs"))
        return
    judge.line(" ".join(w.value for w in words), ctx, depth + 1, origin=label)


_FETCHES = frozenset({"clone", "fetch", "pull", "ls-remote"})
_REWRITES_TREE = frozenset({"checkout", "reset", "restore", "switch", "clean", "merge", "pull", "apply", "am",
                            "stash", "rebase", "cherry-pick", "revert", "read-tree", "checkout-index"})
_RUNS = re.compile(r"^--(?:[\w-]*(?:cmd|command|pager|program|exec|helper|hook|editor)|upload-pack|receive-pack|"
                   r"smtp-server|[\w-]*-filter)$")
"""git options of any subcommand whose value is a command git runs (``send-email --sendmail-cmd``,
``grep --open-files-in-pager``, ``fetch --upload-pack``)."""


def program_options(judge: Judge, args: list[Word], ctx: Context, depth: int) -> None:
    """``--x-cmd=CMD``, ``--x-cmd CMD`` and ``grep -O CMD``: the command is judged, and confirmed."""
    for i, w in enumerate(args):
        v = w.value
        if v.startswith("--") and "=ext::" in v and not w.dynamic:
            v = v.split("=", 1)[1]  # `archive --remote=ext::CMD`, `--repo=ext::CMD`
        if v.startswith("ext::") and not w.dynamic:
            # The ext transport runs its URL as a command (`%` + space is a space, `%%` a percent).
            argv = [p.replace("\0", " ").replace("%%", "%") for p in v[5:].replace("% ", "\0").split()]
            setting_code(judge, "git", "ext::", "!" + shlex.join(argv), ctx, depth)
            judge.line(v[5:].replace("% ", " "), ctx, depth + 1, origin="git ext::")  # as a shell would read it too
            continue
        opt, eq, val = v.partition("=")
        code: Word | None = None
        if _RUNS.match(opt) and not (opt == "--exec" and any(x.value == "rebase" for x in args[:i])):
            # (rebase --exec is judged below, as the test command a rebase runs; not confirmed)
            code = literal(val) if eq and not w.dynamic else (args[i + 1] if not eq and i + 1 < len(args) else None)
            code = w if eq and w.dynamic else code
        elif v.startswith("-u") and not v.startswith("--") and any(x.value in _FETCHES for x in args[:i]):
            # clone/fetch/pull/ls-remote -u CMD is --upload-pack CMD.
            code = (w if w.dynamic else literal(v[2:])) if len(v) > 2 else (args[i + 1] if i + 1 < len(args) else None)
        elif opt == "--config-env" or opt.startswith("--config-env"):
            # --config-env KEY=VAR: the value comes from the environment, so the policy cannot read it.
            kv = val if eq else (args[i + 1].value if i + 1 < len(args) else "")
            key = kv.split("=", 1)[0].lower()
            spec = judge.rules.command("git") or DEFAULT_SPEC
            if any(fnmatch.fnmatchcase(key, k.lower()) for k in spec.command_keys):
                ctx.add(Finding("confirm", "git.config-command", f"git --config-env sets {key}, a command git runs, "
                                "from an environment variable", frozenset({"dynamic"})))
            continue
        elif v.startswith("-O") and not v.startswith("--") and any(x.value == "grep" for x in args[:i]):
            # git grep -O[CMD]: opens the matching files with CMD, glued on (git diff -O is an order file).
            code = (w if w.dynamic else literal(v[2:])) if len(v) > 2 else None
        if code is None:
            continue
        if code.dynamic:
            ctx.add(hidden("dyn.option-code", f"git {opt} runs a command only known when it runs"))
        elif code.value.strip():
            setting_code(judge, "git", opt, code.value, ctx, depth)



def _remote_set_here(ctx: Context, name: str) -> str:
    """The URL an earlier command of this line gave remote ``name`` ('' if none did)."""
    for argv in ctx.commands:
        words = list(argv)
        if not words or words[0].rsplit("/", 1)[-1] != "git":
            continue
        for k in range(len(words) - 2):
            if words[k] == "remote" and words[k + 1] in ("add", "set-url") and name in words[k + 2 :] \
                    and words.index(name, k + 2) + 1 < len(words):
                return words[words.index(name, k + 2) + 1]
            if words[k] == "config" and words[k + 1] in (f"remote.{name}.url", f"remote.{name}.pushurl"):
                return words[k + 2]
    return ""

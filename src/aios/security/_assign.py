"""Variable assignments that make the shell or the loader run code (``LD_PRELOAD=``, ``PAGER=``,
``HISTFILE=``): judged like that code."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import _generalise as generalise
from ._findings import MAX_VALUES, Context, Finding, dynamic
from ._names import INJECT_VARS
from ._words import SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge


def assignment(judge: Judge, name: str, val: Word, ctx: Context, depth: int) -> None:
    """``NAME=value`` before or as a command: judged by what the variable makes run or read."""
    if name in ("HISTFILE", "HISTSIZE", "HISTFILESIZE") and (name == "HISTFILE" or val.value in ("", "0")):
        ctx.add(Finding("block", "secoff.history-off", f"turning security off: {name}={val.text} stops the shell "
                        "history (hides what is done)", frozenset({"dangerous"})))
        return
    if name in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG"):
        from ._git import (
            config_file,  # (here: _git imports _generalise, which this module's importers load)
        )

        config_file(judge, name, val, ctx, depth)
    if name == "SSH_AUTH_SOCK" and (val.dynamic or not val.value.startswith(judge.paths.home.rstrip("/") + "/")):
        # Another agent's socket signs with its owner's keys (`SSH_AUTH_SOCK=/tmp/ssh-X/agent.N ssh-add -L`).
        ctx.add(Finding("confirm", "secret.ssh-agent", f"SSH_AUTH_SOCK={val.text} uses the keys of the agent "
                        "behind that socket", frozenset({"secret"})))
    if name == "APT_CONFIG":
        from ._config_files import written_config

        written_config(judge, name, val, ctx)
    if (name == "GIT_CONFIG_PARAMETERS" or name.startswith("BASH_FUNC_")) and not val.dynamic:
        # 'core.pager'='cmd' pairs git reads as config; BASH_FUNC_f%%=() { body }: an exported function.
        texts = re.findall(r"'[^']*'='((?:[^']|'\\'')*)'", val.value) if name == "GIT_CONFIG_PARAMETERS" else \
            [re.sub(r"^\s*\(\)\s*", "", val.value).strip().strip("{}")]
        for t in texts[:MAX_VALUES]:
            judge.line(t.lstrip("!"), ctx, depth + 1, origin=name)
        return
    if name in ("NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "PYTHONSTARTUP", "PYTHONPATH", "PERL5LIB", "RUBYLIB",
                "NODE_PATH") and (val.dynamic or re.search(r"(?:^|\s)(?:-[rM]|--require|--import|--loader|-e)\b|"
                                                           r"^\S*/", val.value)):
        ctx.add(Finding("confirm", "env.load-code", f"{name}={val.text} makes the interpreter load code from "
                        "outside its own line", frozenset({"dynamic"})))
    if generalise.code_variable(name) and not val.dynamic and generalise.names_program(judge, val.value):
        # PAGER=, EDITOR=, *_COMMAND=: the value is a program some program runs later (issue 14 §2).
        ctx.add(Finding("confirm", "wrap.program-variable", f"{name}={val.text} names a program to run",
                        frozenset({"dynamic"})))
    if name not in INJECT_VARS:
        if generalise.code_variable(name) and not val.dynamic:
            for v in val.values[:MAX_VALUES]:
                # A leading `!` is git's "run in a shell" mark (GIT_CONFIG_VALUE_0='!cmd' for an alias).
                judge.line(v.lstrip()[1:] if v.lstrip().startswith("!") else v, ctx, depth + 1, origin=name)
        elif not val.dynamic:
            generalise.secrets(judge, f"{name}=", [val], ctx)
        return
    if name in ("LD_PRELOAD", "LD_AUDIT"):
        ctx.add(Finding("confirm", "env.preload", f"{name}={val.text} loads a library into every program started",
                        frozenset({"system"})))
    elif name == "LD_LIBRARY_PATH":
        if val.dynamic or any(judge.paths.classify(v, ctx.cwd, False, False)[0] in ("scratch", "unknown")
                              for p in val.values for v in p.split(":") if v):
            ctx.add(Finding("confirm", "env.library-path", f"LD_LIBRARY_PATH={val.text} loads libraries from a "
                            "writable or unknown place", frozenset()))
    elif val.dynamic:
        ctx.add(dynamic("env.code", f"{name} runs code only known when it runs"))
    elif name in ("BASH_ENV", "ENV"):
        judge.effect("read", val, ctx, name)
        ctx.add(dynamic("env.code", f"{name}={val.text}: every shell started runs that file first"))
    elif name == "TAR_OPTIONS":
        judge.argv([literal("tar"), *(literal(p) for p in val.value.split())], SimpleCommand(()), ctx, depth + 1)
    else:
        generalise.secrets(judge, f"{name}=", [val], ctx)  # `LESSOPEN='echo /home/bob/.netrc # %s'`
        for v in val.values[:MAX_VALUES]:
            # LESSOPEN='|cmd %s', GIT_SSH=/path/to/prog: the text after a leading pipe.
            text = v.lstrip("|").replace("%s", "FILE")
            if generalise.names_program(judge, text) or "/" in text.split(" ", 1)[0]:
                ctx.add(Finding("confirm", "wrap.program-variable", f"{name}={val.text} names a program to run",
                                frozenset({"dynamic"})))
            judge.line(text, ctx, depth + 1, origin=name)


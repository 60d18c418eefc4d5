"""Interpreter code that runs what the command line hands it: arguments and ``awk -v`` values.

``perl -e 'system(@ARGV)' rm -rf /`` and ``python3 -c 'import os,sys; os.system(" ".join(sys.argv[1:]))'
rm -rf /`` run their own arguments; ``awk -v c='rm -rf /' 'BEGIN{system(c)}'`` runs a variable
the line sets. The code alone says nothing; with the words beside it the command is readable,
so it is judged as that command.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from ._findings import Context
from ._regex_cache import lazy
from ._words import Word

if TYPE_CHECKING:
    from ._judge import Judge

_RUNS = r"(?:system|exec|execv?p?|popen|spawn|spawnSync|execSync|call|run|check_call|check_output|Popen|`|qx)"
_RUNS_ARGV = lazy(_RUNS + r"[\s(\[{]*[^;]*?(?:@ARGV|\$ARGV\[|sys\.argv|\bARGV\b|process\.argv|\$argv|\$\*|\$@)")
"""A call that runs a command built from the program's arguments."""
RUNS_STDIN = lazy(r"\b(?:exec|eval|compile|instance_eval|load|loadstring|Function|vm\.runIn\w*)\s*\(?\s*"
                  r"(?:join\s*\(?\s*['\"]{2}\s*,\s*)?(?:sys\.stdin\.read|STDIN\.read|\$stdin\.read|<STDIN>|<>|io\.read|file_get_contents\(['\"]php://stdin|"
                  r"fs\.readFileSync\(\s*(?:0|['\"]/dev/stdin))")
"""Code that runs its whole standard input as code (``exec(sys.stdin.read())``)."""


def code_args(judge: Judge, name: str, code: str, args: list[Word], rest: list[Word], ctx: Context, depth: int) -> None:
    """Judge the arguments (or ``-v`` values) that ``code`` runs as a command."""
    if rest and _RUNS_ARGV.search(code) and not any(w.dynamic for w in rest):
        judge.line(shlex.join(w.value for w in rest), ctx, depth + 1, origin=f"{name} running its arguments")
    if name.endswith("awk"):
        for var, value in _awk_vars(args):
            v = re.escape(var)
            if re.search(rf"\bsystem\s*\(\s*{v}\b|\|\s*{v}\b|\b{v}\s*\|\s*getline", code):
                judge.line(value, ctx, depth + 1, origin=f"{name} -v {var}")


def _awk_vars(args: list[Word]) -> list[tuple[str, str]]:
    """``-v name=value`` and ``-vname=value`` assignments (literal ones only)."""
    out = []
    for k, w in enumerate(args):
        v = w.value
        text = args[k + 1].value if v == "-v" and k + 1 < len(args) and not args[k + 1].dynamic else \
            v[2:] if v.startswith("-v") and len(v) > 2 and not w.dynamic else ""
        var, eq, value = text.partition("=")
        if eq and re.fullmatch(r"[A-Za-z_]\w*", var):
            out.append((var, value))
    return out

"""Settings read from a config file this same line writes: apt's ``-c FILE`` and ``APT_CONFIG``.

``echo 'Dir::Cache::pkgcache "/…/state/aios/x";' > /tmp/a.conf; sudo APT_CONFIG=/tmp/a.conf
apt-cache gencaches`` makes apt write where ``-o Dir::Cache::pkgcache=/…`` would: each absolute
path the file names is judged as a file apt writes, as the ``-o`` spelling's value is.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._findings import Context, dynamic
from ._words import SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge

_PATH = re.compile(r'"(/[^"]*)"|(?<![\w:])(/[\w./+-]+)')
_APT = frozenset({"apt", "apt-get", "apt-cache", "apt-config", "apt-mark", "aptitude"})


def written_text(judge: Judge, file: Word, ctx: Context, rule: str, reason: str) -> str | None:
    """What this line wrote earlier into the file ``file`` names; None when it wrote nothing there,
    or when it downloaded it (then a ``rule`` finding with ``reason``: the text cannot be known)."""
    path = judge.paths.abspath(file.value, ctx.cwd) if not file.dynamic else None
    if path is None or path not in ctx.files:
        return None
    text = ctx.files[path]
    if text is None:
        ctx.add(dynamic(rule, reason))
    return text


def written_config(judge: Judge, label: str, file: Word, ctx: Context) -> None:
    """Judge the paths a config file this line wrote names as files the program writes."""
    text = written_text(judge, file, ctx, "dyn.config-file", f"{label} reads settings from {file.text}, which this line downloads")
    if text is None:
        return
    for m in _PATH.finditer(text):
        judge.effect("write", literal(m.group(1) or m.group(2)), ctx, f"{label} (a setting in {file.text})")


def apt(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """apt's ``-c FILE``/``--config-file FILE``: the file's settings."""
    for k, w in enumerate(args):
        v = w.value
        if v in ("-c", "--config-file") and k + 1 < len(args):
            written_config(judge, f"{name} {v}", args[k + 1], ctx)
        elif v.startswith("--config-file="):
            written_config(judge, f"{name} --config-file", literal(v.split("=", 1)[1]), ctx)
        elif v.startswith("-c") and len(v) > 2:
            written_config(judge, f"{name} -c", literal(v[2:]), ctx)


HANDLERS = {n: apt for n in _APT}

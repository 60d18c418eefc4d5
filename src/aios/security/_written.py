"""What a line's files say once the line is read: findings that need the whole line.

- A shell reading commands from a pipe or a file the line cannot show, in a line that also opens
  a raw network connection, is a reverse shell.
- A file the line writes and another program of the line then reads as its config, manifest or
  hook (``echo '{"scripts": {"x": "rm -rf /home"}}' > package.json; npm run x``, ``cat > f.conf
  <<EOF … EOF; rsyslogd -f f.conf``, ``echo 'passwd -d root' > f; tcpdump … -z f``): the text is
  read as a script and each quoted string in it as a command line; what would be blocked is
  blocked. Only blocks count, so a config that merely does not parse as shell changes nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._findings import MAX_VALUES, Context, Finding
from ._names import DATA_READERS

if TYPE_CHECKING:
    from ._judge import Judge

_QUOTED = re.compile(r""""((?:[^"\\\n]|\\.){3,})"|'([^'\n]{3,})'""")
_NOT_READERS = (DATA_READERS - {"git"}) | {"echo", "printf", "chmod", "chown", "mkdir", "touch", "cd", "ls", "rm", "mv", "cp",
                               "true", ":", "install", "ln", "stat", "file", "wc", "sleep"}
"""Programs that do not take a file as a script or config (so writing then listing is nothing)."""


def finish(judge: Judge, ctx: Context, depth: int) -> None:
    """Add the findings that need the whole line (see the module docstring)."""
    if ctx.network and ctx.pipe_shell:
        ctx.add(Finding("block", "net.pipe-shell", "a shell reads its commands from a pipe in a line that also opens "
                        "a raw network connection (a reverse shell)", frozenset({"dangerous"})))
    texts = [(p, t) for p, t in ctx.files.items() if t and not p.endswith("/")]
    if not texts or not any(argv and argv[0].rsplit("/", 1)[-1] not in _NOT_READERS for argv in ctx.commands):
        return
    for path, text in texts[:MAX_VALUES]:
        pieces = [text, *(m.group(1) or m.group(2) for m in _QUOTED.finditer(text))]
        for piece in pieces[:MAX_VALUES]:
            scratch = type(ctx)(cwd=ctx.cwd)
            judge.line(piece, scratch, depth + 1, origin=f"a command in {path}")
            # (a word of a config read as a command name, `* * * * *` of a crontab, is no command)
            blocked = next((f for f in scratch.findings if f.action == "block" and f.rule != "dyn.command-name"), None)
            if blocked is not None:
                ctx.add(Finding("block", blocked.rule, f"{path}, which this line writes and then has a program read, "
                                f"holds a command that {blocked.reason.removeprefix('blocks: ')}", blocked.tags))
                return

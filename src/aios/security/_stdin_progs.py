"""Programs that read commands with a shell escape from stdin, fed text fetched in the same line.

``curl … | sqlite3`` (``.shell``), ``| m4`` (``syscmd``), ``| ed``/``ex`` (``!cmd``), ``| gdb``
(``shell``), ``| julia`` (``run(`…`)``) run whatever the download says, as ``curl … | sh`` does:
remote code (block). Literal text fed to them is judged by ``_generalise.stdin_escapes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._findings import Context, remote_code
from ._names import DOWNLOADERS, upstream
from ._words import SimpleCommand

if TYPE_CHECKING:
    from ._judge import Judge

SCRIPTED = frozenset({"m4", "ed", "red", "ex", "vi", "vim", "nvim", "sqlite3", "duckdb", "psql", "mysql", "mariadb",
                      "gdb", "lldb", "julia", "ftp", "lftp", "sftp", "dc", "R", "octave", "gnuplot", "tclsh",
                      "expect", "wish", "guile", "racket", "ocaml", "ghci", "sbcl", "clisp", "scheme", "jshell",
                      "groovysh", "scala", "erl", "iex", "swipl", "busybox"})
"""Programs whose stdin is a script that can run commands (a shell escape or a system call)."""


def downloaded_script(judge: Judge, name: str, cmd: SimpleCommand, ctx: Context) -> None:
    """Block ``name`` reading its script from a pipe whose producer downloads it."""
    from ._shells import pipe_text  # (here: _shells imports the modules this one is imported by)

    st = cmd.stdin
    if name not in SCRIPTED or st is None or st.kind == "text" or st.source is None:
        return
    if pipe_text(judge, st.source, 0) is not None:
        return
    fetched = upstream(st.source) & DOWNLOADERS
    if fetched:
        ctx.add(remote_code("dyn.download-exec", f"{name} runs the commands that {', '.join(sorted(fetched))} "
                            "downloads; what they do is only known when it runs"))

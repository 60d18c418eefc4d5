"""``aios completion bash|zsh|fish [--install]``: shell completion generated from the CLI itself.

The scripts come from the same cyclopts app that parses the command line (cyclopts writes
static scripts: completing a word never starts Python), so a new command or option is completed
as soon as the script is regenerated. ``--install`` writes the script where each shell looks for
it on its own and changes no start-up file:

- bash: ``$XDG_DATA_HOME/bash-completion/completions/aios`` (bash-completion loads it on demand);
- fish: ``$XDG_CONFIG_HOME/fish/completions/aios.fish``;
- zsh: ``$XDG_DATA_HOME/zsh/site-functions/_aios``; zsh has no per-user default, so the command
  prints the ``fpath`` line to add to ``~/.zshrc`` when that directory is not on it yet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import Parameter

from . import _context as ctx

Shell = Literal["bash", "zsh", "fish"]


def script(shell: Shell) -> str:
    """The completion script for ``shell``, generated from the whole ``aios`` command tree."""
    from ._app import app

    return app.generate_completion(shell=shell, prog_name="aios")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def install_path(shell: Shell) -> Path:
    """Where ``--install`` writes the script for ``shell`` (per user, never system-wide)."""
    data = Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config")
    if shell == "bash":
        return data / "bash-completion" / "completions" / "aios"
    if shell == "fish":
        return config / "fish" / "completions" / "aios.fish"
    return data / "zsh" / "site-functions" / "_aios"


def completion(
    shell: Annotated[Shell, Parameter(help="The shell: bash, zsh or fish.")],
    *,
    install: Annotated[bool, Parameter(help="Write the script to this user's completion directory instead of printing it.", negative=())] = False,
) -> int:
    """Print the shell completion script (e.g. source <(aios completion bash)), or install it."""
    text = script(shell)
    if not install:
        sys.stdout.write(text)
        return 0
    target = install_path(shell)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        return ctx.fail(f"cannot write {target}: {exc.strerror or exc}; print the script instead: aios completion {shell} > FILE")
    print(f"wrote {target}")
    if shell == "zsh" and str(target.parent) not in os.environ.get("FPATH", "").split(":"):
        print(f"add this line to ~/.zshrc before compinit: fpath=({target.parent} $fpath)")
    else:
        print(f"new {shell} sessions complete aios (this one too after: exec {shell})")
    return 0

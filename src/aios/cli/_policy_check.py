"""``aios policy check`` and the policy ``policy check|test`` judge with, in this process.

The policy is built from the same config files the daemon reads; the person's prefix grants are
read from the daemon's ``<state_dir>/grants.json`` when this user may read it. Nothing here
imports cyclopts' apps, rich or the config models on a warm run: the config values come from
``_policy_setup`` and the built rules from the policy cache (docs/security.md, "The policy
cache"); ``aios.cli`` hands the usual spellings of ``policy check`` straight to
:func:`check_fast`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import _context as ctx
from ._interact import cwd

if TYPE_CHECKING:
    from aios.security import Policy

    from ._policy_setup import Setup

_NOT_WORKSPACES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr",
                   "/var")


def run_check(command: tuple[str, ...], *, mode: str | None = None, path: str | None = None, op: str = "read",
              workspace: str | None = None, json: bool = False) -> int:
    """``aios policy check``: print the decision; exit 0 whatever it is (1 on a config problem)."""
    if not command and path is None:
        return ctx.fail("nothing to check: aios policy check -- COMMAND", ctx.EXIT_USAGE)
    if path is not None and op not in ("read", "write", "list"):
        return ctx.fail(f"--op must be read, write or list, not {op!r}", ctx.EXIT_USAGE)

    def body() -> int:
        pol, m = policy_here(mode, workspace)
        if path is not None:
            d = pol.check_path(op, path, mode=m)  # type: ignore[arg-type]
        else:
            d = pol.check_command(command[0] if len(command) == 1 else " ".join(shlex.quote(c) for c in command), mode=m)
        if json:
            ctx.print_json({**d.to_json(), "mode": m})
            return 0
        # Plain print, not rich: this command is run in loops by scripts and people (rich ~40 ms).
        from ._text import printable

        lines = [f"{_paint(d.action)} ({m} mode) · rule {printable(d.rule)}", f"  {printable(d.reason)}"]
        if d.changes_system:
            lines.append("  changes the system: a snapshot is taken before it runs")
        lines += [f"  writes: {printable(t)}" for t in d.targets]
        lines += ["  command: " + printable(" ".join(words)) for words in d.commands]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0

    return local(body)


_OPTIONS = {"--mode": "mode", "-m": "mode", "--path": "path", "--op": "op", "--workspace": "workspace"}


def check_fast(args: list[str]) -> int | None:
    """``aios policy check ARGS`` for the spellings scripts use, parsed without cyclopts (its
    two-level parse costs more than the check). None: anything else, which cyclopts parses.

    Taken here: ``--json``, ``--mode/-m/--path/--op/--workspace VALUE`` (or ``--opt=VALUE``),
    then ``-- COMMAND...`` or one last word that is the command. Anything else (``--help``, an
    unknown or repeated option, several loose words) is left to cyclopts, which explains it.
    """
    opts: dict[str, str] = {}
    json = False
    command: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        name, eq, value = tok.partition("=")
        if tok == "--":
            command = args[i + 1 :]
            break
        if tok == "--json" and not json:
            json = True
            i += 1
        elif eq and name.startswith("--") and name in _OPTIONS and value and _OPTIONS[name] not in opts:
            opts[_OPTIONS[name]] = value
            i += 1
        elif (tok in _OPTIONS and _OPTIONS[tok] not in opts and i + 1 < len(args) and args[i + 1]
              and not args[i + 1].startswith("-")):
            opts[_OPTIONS[tok]] = args[i + 1]
            i += 2
        elif i == len(args) - 1 and tok and not tok.startswith("-"):
            command = [tok]
            break
        else:
            return None
    return run_check(tuple(command), mode=opts.get("mode"), path=opts.get("path"), op=opts.get("op", "read"),
                     workspace=opts.get("workspace"), json=json)


_COLOUR = {"allow": "32", "confirm": "33", "block": "31"}


def _paint(action: str) -> str:
    """The decision in bold colour on a terminal (not with NO_COLOR or TERM=dumb), plain otherwise."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return action
    return f"\033[1;{_COLOUR.get(action, '37')}m{action}\033[0m"


def local(body: Callable[[], int]) -> int:
    """Run an in-process command body: a config or policy problem is one line and exit 1.
    (``ctx.run`` also maps daemon errors, and imports the client for that.)"""
    from aios.errors import AiosError

    try:
        return body()
    except AiosError as exc:
        return ctx.fail(str(exc))


def policy_here(mode: str | None, workspace: str | None) -> tuple[Policy, str]:
    """The daemon's policy for this directory, built here from its config files (the values
    it needs and the built rules come from the policy cache while their inputs are unchanged)."""
    from aios.errors import PolicyError
    from aios.modes import STRICTNESS, is_mode
    from aios.security import Policy

    from ._policy_setup import load_setup

    setup = load_setup(ctx.G.config, ctx.G.sets)
    m = mode or setup.security.mode
    if not is_mode(m):
        raise PolicyError(f"unknown mode {m!r}: use one of safe, normal, paranoid, trusted")
    pinned = setup.pinned_mode
    if pinned is not None and STRICTNESS[m] < STRICTNESS[pinned]:
        raise PolicyError(f"mode {m!r} is looser than the mode {pinned!r} pinned in the system config (pin.security.mode)")
    ws = Path(workspace).resolve() if workspace else _workspace(setup)
    pol = Policy(setup.security, workspace=ws, home=Path.home(), protected_paths=[Path(p) for p in setup.protected],
                 cache_dir=Path(setup.cache_dir) if setup.cache_dir is not None else None)
    grants = _grants(Path(setup.state_dir) / "grants.json")
    if grants:
        pol = pol.with_prefix_grants(grants)
    return pol, m


def _grants(path: Path) -> list[tuple[str, ...]]:
    """Prefix grants the daemon stored (read only; a missing, unreadable or damaged file grants nothing)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [tuple(str(w) for w in g["prefix"]) for g in data
            if isinstance(g, dict) and isinstance(g.get("prefix"), list)]


def _workspace(setup: Setup) -> Path:
    """As the daemon picks it for a request from here (daemon._tooling.workspace_for): this
    directory when it is ours and not a system tree, the state dir or a home; else the configured one."""
    configured = Path(setup.workspace)
    if setup.workspace_set:
        return configured
    state_dir = Path(setup.state_dir)
    here = Path(os.path.realpath(cwd()))
    homes = {Path(os.path.realpath(os.path.expanduser("~")))}
    try:
        owned = os.geteuid() == 0 or here.stat().st_uid == os.geteuid()
    except OSError:
        owned = False
    system = str(here) == "/" or any(str(here) == p or str(here).startswith(p + "/") for p in _NOT_WORKSPACES)
    state = here == state_dir or state_dir in here.parents
    home = any(here == h or here in h.parents for h in homes)
    return here if owned and here.is_dir() and not (system or state or home) else configured



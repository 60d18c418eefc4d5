"""The cyclopts app of the ``aios`` command line: every command, the global options.

Every command lives in a private module that is imported when that command runs, so ``aios
status`` pays for neither trio, httpx, apsw nor rich. This module itself is imported only when a
command line needs cyclopts' parse (``aios.cli`` hands the hottest spellings to their commands
without it).
"""

from __future__ import annotations

from typing import Annotated

from cyclopts import App, Parameter

from aios import __version__

from . import _context

EXIT_CODES = """\
Exit codes: 0 success; 1 error (one line on stderr says what to fix; a config with several
problems gets one line each); 2 usage error; 3 daemon unreachable and not started. `aios run`
exits with the command's own code, 124 when its timeout killed it and 126 when the policy
blocked it or the confirmation was denied. `aios policy check` exits 0 whatever it decides; `aios policy test` exits 0 when every
case is met and 1 otherwise.
An internal error is one line too; its traceback goes to $XDG_STATE_HOME/aios/cli-errors.log
(AIOS_DEBUG=1 also prints it)."""

app = App(
    name="aios",
    help="aios: a language model manages this machine through policy, snapshots and a jail.\n\n"
    + EXIT_CODES,
    version=__version__,
    help_format="markdown",
)

app.command("aios.cli._status:status", help="Is the daemon running: version, pid, uptime, mode, memory counts.")
app.command("aios.cli._status:info", help="Host, kernel, paths, sandbox state and model provider.")
app.command("aios.cli._memory:app", name="memory", help="Search and add to the shared memory.")
app.command("aios.cli._daemon:app", name="daemon", help="Run, start or stop the daemon.")
app.command("aios.cli._config:app", name="config", help="Show the merged config with sources, or validate a file.")
app.command("aios.cli._chat:chat", help="One turn with the agent: streamed answer, tools confirmed inline.")
app.command("aios.cli._chat:shell", help="An interactive session with the agent (/help inside).")
app.command("aios.cli._chat:sessions", help="Chat sessions, newest first.")
app.command("aios.cli._agents:app", name="agents", help="The specialist agents the main agent can delegate to.")
app.command("aios.cli._snapshot:app", name="snapshot", help="Take a snapshot (default), or show, diff and delete one.")
app.command("aios.cli._snapshot:list_snapshots", name="snapshots", help="List snapshots, newest first.")
app.command("aios.cli._snapshot:restore", help="Restore a snapshot (a pre-restore snapshot is taken first).")
app.command("aios.cli._doctor:doctor", help="Why the jail, the model or the daemon cannot work here, and what to change.")
app.command("aios.cli._run:run", help="Run one command through policy, confirmation, snapshot and jail (no model).")
app.command("aios.cli._run:tools", name="tools", help="The tools the model can use; call one by hand.")
app.command("aios.cli._policy:policy", name="policy", help="What the policy decides for a command (no daemon needed), expectation files, rules.")
app.command("aios.cli._audit:app", name="audit", help="The audit trail: every decision on a command or file operation; verify it.")
app.command("aios.cli._approvals:approvals", help="Other users' requests waiting for an approver.")
app.command("aios.cli._approvals:approve", help="Grant a pending request of another user (owner, root, daemon.approver_gids).")
app.command("aios.cli._approvals:deny", help="Refuse a pending request (an approver, or the requester withdrawing it).")
app.command("aios.cli._completion:completion", help="Shell completion for bash, zsh or fish: print the script, or --install it.")


@app.meta.default
def _launcher(
    *tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
    socket: Annotated[str | None, Parameter(help="Daemon socket (default: $AIOS_SOCKET, the user socket, then the system one).")] = None,
    config: Annotated[str | None, Parameter(help="Extra config file, applied after the environment.")] = None,
    set: Annotated[list[str] | None, Parameter(name="--set", help="Override one config key: --set section.key=value (repeatable).", negative=())] = None,
    no_autostart: Annotated[bool, Parameter(help="Do not start a daemon when none answers.", negative=())] = False,
) -> int:
    """Global options come before the command: aios [--socket P] [--config F] [--set K=V] COMMAND."""
    _context.configure(socket=socket, config=config, sets=set or [], no_autostart=no_autostart)
    result = app(tokens, exit_on_error=False, print_error=False, result_action="return_value")
    return int(result) if isinstance(result, int) and not isinstance(result, bool) else 0

"""``aios run``, ``aios tools list|call``: the pipeline without a model."""

from __future__ import annotations

import sys
from typing import Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._interact import Confirmer, EventPrinter, cwd
from ._status import JsonFlag

EXIT_TIMEOUT = 124
EXIT_REFUSED = 126

ModeOpt = Annotated[str | None, Parameter(name=["--mode", "-m"], help="safe, normal, paranoid or trusted (stricter is always allowed).")]
YesOpt = Annotated[bool, Parameter(name=["--yes", "-y"], help="Approve confirmations without asking (refused in paranoid mode).", negative=())]


def run(
    *command: Annotated[str, Parameter(help="The command line (after --).", allow_leading_hyphen=True)],
    mode: ModeOpt = None,
    yes: YesOpt = False,
    timeout: Annotated[float | None, Parameter(help="Seconds before the command is killed (default sandbox.timeout).")] = None,
    host: Annotated[bool, Parameter(help="Run it on the host, outside the jail, in a snapshot (normal mode; always asks).", negative=())] = False,
    json: JsonFlag = False,
) -> int:
    """Run one command through policy, confirmation, snapshot, jail and memory, without a model.

    Exits with the command's code, 124 when its timeout killed it, 126 when the policy blocked it
    or the confirmation was denied.
    """
    if not command:
        return ctx.fail("nothing to run: aios run -- COMMAND", ctx.EXIT_USAGE)
    line = command[0] if len(command) == 1 else " ".join(_quote(c) for c in command)
    args: dict[str, Any] = {"command": line}
    if timeout is not None:
        args["timeout"] = timeout
    if host:
        args["host"] = True
    params: dict[str, Any] = {"tool": "bash", "arguments": args, "cwd": cwd()}
    if mode:
        params["mode"] = mode
    return _call_tool(params, yes=yes, json=json)


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _call_tool(params: dict[str, Any], *, yes: bool, json: bool) -> int:
    def body() -> int:
        sent = ctx.request_mode(params.pop("mode", None))  # --mode, else a one-off --set security.mode
        if sent:
            params["mode"] = sent
        printer = EventPrinter(show_output=not json)
        confirmer = Confirmer(yes=yes)
        with ctx.client() as c:
            result = c.call("tools.call", params, on_notification=None if json else printer, on_request=confirmer)
        if json:
            ctx.print_json(result)
        meta = result.get("metadata", {})
        code = meta.get("exit_code")
        if not result.get("ok") and result.get("error") and not json:
            print(f"aios: {result['error']}", file=sys.stderr)
        if meta.get("undo") and not json:
            print(f"undo with: {meta['undo']}", file=sys.stderr)
        if meta.get("timed_out"):
            return EXIT_TIMEOUT
        if isinstance(code, int):
            return code
        return 0 if result.get("ok") else ctx.EXIT_ERROR

    return ctx.run(body)


tools = App(name="tools", help="The tools the model can use.")


@tools.command(name="list")
def tools_list(*, json: JsonFlag = False) -> int:
    """Every tool with its schema and where it came from."""

    def body() -> int:
        data = ctx.call("tools.list")
        if json:
            ctx.print_json(data["tools"])
            return 0
        from . import _render

        _render.table(
            ["name", "origin", "parameters", "description"],
            [[t["name"], t["origin"], ", ".join(t["parameters"].get("properties", {})), t["description"]] for t in data["tools"]],
        )
        for err in data.get("load_errors", []):
            print(f"aios: plugin {err['entry_point']} failed to load: {err['error']}", file=sys.stderr)
        return 0

    return ctx.run(body)


@tools.command(name="call")
def tools_call(
    name: Annotated[str, Parameter(help="Tool name (see aios tools list).")],
    arguments: Annotated[str, Parameter(help="Arguments as a JSON object.")] = "{}",
    *,
    mode: ModeOpt = None,
    yes: YesOpt = False,
    json: JsonFlag = False,
) -> int:
    """Call any tool through the pipeline, e.g. aios tools call read '{"path": "notes.txt"}'."""
    import json as _json

    try:
        args = _json.loads(arguments)
    except ValueError as exc:
        return ctx.fail(f"arguments are not JSON: {exc}", ctx.EXIT_USAGE)
    params: dict[str, Any] = {"tool": name, "arguments": args, "cwd": cwd()}
    if mode:
        params["mode"] = mode
    code = _call_tool(params, yes=yes, json=json)
    return code

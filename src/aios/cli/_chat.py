"""``aios chat``, ``aios shell`` and ``aios sessions``: talking to the agent."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

from cyclopts import Parameter

from aios.config import is_mode

from . import _context as ctx
from ._interact import Confirmer, EventPrinter, cwd
from ._run import ModeOpt, YesOpt
from ._status import JsonFlag
from ._text import printable

SessionOpt = Annotated[str | None, Parameter(name=["--session", "-s"], help="Continue this session (see aios sessions).")]
AgentOpt = Annotated[str | None, Parameter(name=["--agent", "-a"], help="Talk to this specialist directly (see aios agents list).")]


def _turn(
    client: Any, message: str, *, session: str | None, mode: str | None, yes: bool, json: bool, seen: set[str] | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"message": message, "cwd": cwd()}
    if session:
        params["session"] = session
    if agent:
        params["agent"] = agent
    if mode:
        params["mode"] = mode
    printer = EventPrinter(seen=seen)
    result: dict[str, Any] = client.call(
        "chat", params, on_notification=None if json else printer, on_request=Confirmer(yes=yes)
    )
    if not json:
        if printer._midline or not result.get("text"):
            print()
        if result.get("status") == "round-limit":
            print("aios: the turn stopped at the round limit (llm.max_rounds) before a final answer", file=sys.stderr)
        who = f"{result.get('provider')} ({result.get('model')})"
        if result.get("agent"):
            who = f"agent {result['agent']} · {who}"
        print(f"— {who} · session {result['session']}", file=sys.stderr)
    return result


def chat(
    message: Annotated[str, Parameter(help="What you want, in words.")],
    *,
    session: SessionOpt = None,
    agent: AgentOpt = None,
    mode: ModeOpt = None,
    yes: YesOpt = False,
    json: JsonFlag = False,
) -> int:
    """One turn: the answer streams as it arrives; tool calls are shown and confirmed inline."""

    def body() -> int:
        sent = ctx.request_mode(mode)  # --mode, else a one-off --set security.mode
        with ctx.client() as c:
            try:
                result = _turn(c, message, session=session, mode=sent, yes=yes, json=json, agent=agent)
            except KeyboardInterrupt:
                print("\naios: cancelled", file=sys.stderr)
                return 130
        if json:
            ctx.print_json(result)
        return 0

    return ctx.run(body)


def sessions(*, limit: Annotated[int, Parameter(name=["--limit", "-n"])] = 20, json: JsonFlag = False) -> int:
    """Chat sessions, newest first; continue one with --session ID."""

    def body() -> int:
        rows = ctx.call("session.list", {"limit": limit})
        if json:
            ctx.print_json(rows)
            return 0
        if not rows:
            print("no sessions yet: start one with aios chat or aios shell")
            return 0
        from . import _render

        _render.table(
            ["session", "turns", "last", "first message"],
            [[r["session"], str(r["turns"]), _render.short_time(r["last_at"]), (r["first"] or "").split("\n")[0][:60]] for r in rows],
        )
        return 0

    return ctx.run(body)


HELP = """\
Type what you want; the model answers and may run tools (you are asked when the mode says so).
End a line with \\ to continue it on the next line. Ctrl-C cancels the current turn; Ctrl-D leaves.
  /mode [M]        show or set the mode for the next turns (safe, normal, paranoid, trusted)
  /snapshot [TEXT] take a manual snapshot now (with TEXT as its description)
  /restore ID      restore a snapshot (shows what changes, then asks)
  /history         the turns of this session
  /session         this session's id (continue it later with aios shell --session ID)
  /new             start a new session
  /help            this text
  /exit            leave"""


def _read_input(prompt: str) -> str | None:
    try:
        line = input(prompt)
    except EOFError:
        return None
    lines = [line]
    while lines[-1].endswith("\\"):
        lines[-1] = lines[-1][:-1]
        try:
            lines.append(input("… "))
        except EOFError:
            break
    return "\n".join(lines)


def shell(*, session: SessionOpt = None, mode: ModeOpt = None, yes: YesOpt = False) -> int:
    """An interactive session with history, multi-line input and slash commands (/help)."""
    try:
        import readline

        hist = os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "aios", "shell_history")
        os.makedirs(os.path.dirname(hist), exist_ok=True)
        try:
            readline.read_history_file(hist)
        except OSError:
            pass
    except ImportError:  # pragma: no cover - readline is part of CPython on Linux
        hist = ""
    print("aios shell: /help for commands, Ctrl-D to leave", file=sys.stderr)
    # "notices": what the daemon told once (the embedded model's long notice) is shown once per shell,
    # even when a turn fails before it has a session and the next turn starts a new one.
    state: dict[str, Any] = {"session": session, "mode": ctx.request_mode(mode), "notices": set()}
    try:
        while True:
            text = _read_input("aios> ")
            if text is None:
                print()
                return 0
            text = text.strip()
            if not text:
                continue
            if text.startswith("/"):
                if _slash(text, state):
                    return 0
                continue
            code = ctx.run(lambda t=text: _shell_turn(t, state, yes))  # type: ignore[misc]
            if code not in (0, 130):
                continue
    finally:
        if hist:
            try:
                import readline

                readline.write_history_file(hist)
            except OSError:
                pass


def _shell_turn(text: str, state: dict[str, Any], yes: bool) -> int:
    # One connection per turn: Ctrl-C closes it, which cancels the turn and its tool in the daemon.
    with ctx.client() as c:
        try:
            result = _turn(c, text, session=state["session"], mode=state["mode"], yes=yes, json=False, seen=state["notices"])
        except KeyboardInterrupt:
            print("\n(cancelled)", file=sys.stderr)
            return 130
    state["session"] = result["session"]
    return 0


def _slash(text: str, state: dict[str, Any]) -> bool:
    """Run a slash command; True means leave the shell."""
    cmd, _, arg = text[1:].partition(" ")
    arg = arg.strip()
    if cmd in ("exit", "quit", "q"):
        return True
    if cmd == "help":
        print(HELP)
    elif cmd == "mode":
        if arg:
            if not is_mode(arg):
                print("aios: modes are safe, normal, paranoid, trusted", file=sys.stderr)
            else:
                state["mode"] = arg
        print(f"mode: {state['mode'] or 'the daemon default'}")
    elif cmd == "session":
        print(state["session"] or "(no turn yet)")
    elif cmd == "new":
        state["session"] = None
        print("new session")
    elif cmd == "snapshot":
        ctx.run(lambda: _snapshot(arg))
    elif cmd == "restore":
        if not arg:
            print("aios: /restore ID (aios snapshots lists them)", file=sys.stderr)
        else:
            ctx.run(lambda: _restore(arg))
    elif cmd == "history":
        if not state["session"]:
            print("(no turn yet)")
        else:
            ctx.run(lambda: _history(state["session"]))
    else:
        print(f"aios: unknown command /{cmd} (/help lists them)", file=sys.stderr)
    return False


def _snapshot(description: str) -> int:
    data = ctx.call("snapshot.create", {"description": description or "from aios shell"})
    print(f"snapshot {data['id']} taken ({data.get('files', 0)} files); undo later with /restore {data['id']}")
    return 0


def _restore(snapshot_id: str) -> int:
    preview = ctx.call("snapshot.restore", {"id": snapshot_id, "dry_run": True})
    changes = preview.get("changes", [])
    for c in changes[:40]:
        print(f"  {c['kind']:<8} {c['path']}")
    if len(changes) > 40:
        print(f"  … {len(changes) - 40} more")
    if not changes:
        print("nothing to restore: the files already match the snapshot")
        return 0
    if input(f"restore {snapshot_id} ({len(changes)} changes)? [y/N] ").strip().lower() not in ("y", "yes"):
        print("not restored")
        return 0
    report = ctx.call("snapshot.restore", {"id": snapshot_id})
    print(f"restored {snapshot_id}; undo with /restore {report['pre_restore']}")
    return 0


def _history(session: str) -> int:
    data = ctx.call("session.show", {"session": session})
    for t in data["turns"]:
        print(f"you: {t['user']}")
        for call in t.get("calls", []):
            args = call.get("arguments") or {}
            print(f"  ▶ {printable(call.get('tool'))}: {printable(args.get('command') or args.get('path') or '')} (exit {call.get('exit_code', '-')})")
        print(f"aios: {t['answer']}\n")
    return 0

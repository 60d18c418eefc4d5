"""Talking to a person during a request: answering ``confirm`` and showing streamed events.

The daemon sends ``confirm`` as a JSON-RPC request; we answer ``{"approve": bool, "how": ...}``
where ``how`` is ``"person"`` (asked on a TTY), ``"flag"`` (``--yes``) or ``"no-tty"``. The daemon
refuses ``"flag"`` approvals in paranoid mode whatever the client says.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ._text import printable


def _tty_in() -> TextIO | None:
    if sys.stdin.isatty():
        return sys.stdin
    try:
        return open("/dev/tty", encoding="utf-8")
    except OSError:
        return None


class Confirmer:
    """Answers the daemon's ``confirm`` requests for one CLI invocation."""

    def __init__(self, *, yes: bool, out: TextIO | None = None) -> None:
        self.yes = yes
        self.out = out or sys.stderr
        self.answers: list[dict[str, Any]] = []

    def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method != "confirm":
            raise _unknown(method)
        answer = self._decide(params)
        self.answers.append({"params": params, **answer})
        return answer

    def _describe(self, p: dict[str, Any]) -> str:
        agent = f"{agent_label(p)} " if p.get("agent") else ""  # which sub-agent asks
        # The model (or another user) chose this text: no control character reaches the terminal.
        lines = [f"\n  {printable(agent)}{printable(p.get('tool', 'bash'))}: {printable(p.get('command') or p.get('summary') or '')}"]
        if p.get("reason"):
            rule = f"(rule {p['rule']})" if p.get("rule") else ""
            lines.append(f"  why asked: {p['reason']}" + (f" {rule}" if rule and rule not in p["reason"] else ""))
        if p.get("plan_text"):
            lines.append("  plan:")
            lines.extend(f"    {printable(line)}" for line in str(p["plan_text"]).splitlines()[:40])
        if p.get("snapshot"):
            lines.append("  a snapshot is taken first; you can undo it with 'aios restore <id>'")
        if p.get("profile") == "host":
            lines.append("  runs with the host profile: it can change the system")
        lines += [f"  note: {note}" for note in p.get("notes") or [] if isinstance(note, str)]
        return "\n".join(lines)

    def _decide(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.yes:
            print(self._describe(p) + "\n  approved by --yes", file=self.out)
            return {"approve": True, "how": "flag"}
        tty = _tty_in()
        if tty is None:
            print(self._describe(p) + "\n  denied: no terminal to ask on (use --yes to approve)", file=self.out)
            return {"approve": False, "how": "no-tty"}
        try:
            print(self._describe(p), file=self.out)
            self.out.write("  run it? [y]es / [N]o / [s]ame command again this session: ")
            self.out.flush()
            reply = tty.readline().strip().lower()
        finally:
            if tty is not sys.stdin:
                tty.close()
        if reply in ("s", "session"):
            return {"approve": True, "how": "person", "remember": "session"}
        return {"approve": reply in ("y", "yes"), "how": "person"}


def agent_label(p: dict[str, Any]) -> str:
    """How a sub-agent is named on the terminal: ``[logs #2]`` (the specialist and its task's
    number in the delegate call), ``[logs]`` for an agent outside a delegate call."""
    index = p.get("task_index")
    return f"[{p.get('agent')} #{index + 1}]" if isinstance(index, int) else f"[{p.get('agent')}]"


def _unknown(method: str) -> Exception:
    from aios.errors import ClientError

    return ClientError(f"this client does not handle {method}")


class EventPrinter:
    """Shows streamed notifications: model text as it arrives, tool calls as they start and end."""

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, *, show_output: bool = True, seen: set[str] | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.show_output = show_output
        self.seen = seen if seen is not None else set()
        """Notices already shown (shared by the turns of one ``aios shell``: each is shown once)."""
        self._buffers: dict[str, str] = {}
        self._midline = False
        self.snapshots: list[str] = []
        self.provider: dict[str, Any] | None = None

    def _newline(self) -> None:
        if self._midline:
            self.out.write("\n")
            self._midline = False

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        if params.get("agent") and method in ("chat.delta", "tool.output"):
            self._agent_text(params, str(params.get("text", "")), show=method == "chat.delta" or self.show_output)
            return
        handler: Callable[[dict[str, Any]], None] | None = getattr(self, "on_" + method.replace(".", "_"), None)
        if handler is not None:
            handler(params)

    def _label(self, p: dict[str, Any]) -> str:
        """The indent and name that mark a sub-agent's lines (empty for the main agent)."""
        return f"  {agent_label(p)} " if p.get("agent") else ""

    def _agent_text(self, p: dict[str, Any], text: str, *, show: bool) -> None:
        # Sub-agents stream at the same time: whole lines only, each labelled, so they interleave
        # readably.
        if not show:
            return
        label = agent_label(p)
        buf = self._buffers.get(label, "") + text
        *lines, rest = buf.split("\n")
        self._buffers[label] = rest
        if lines:
            self._newline()
            for line in lines:
                print(f"  {label} {line}", file=self.err, flush=True)

    def on_agent_started(self, p: dict[str, Any]) -> None:
        self._newline()
        print(f"  ┌ {agent_label(p)} started", file=self.err, flush=True)

    def on_agent_finished(self, p: dict[str, Any]) -> None:
        label = agent_label(p)
        rest = self._buffers.pop(label, "")
        self._newline()
        if rest:
            print(f"  {label} {rest}", file=self.err)
        print(f"  └ {label} {p.get('status')}", file=self.err, flush=True)

    def on_chat_delta(self, p: dict[str, Any]) -> None:
        text = p.get("text", "")
        if text:
            self.out.write(text)
            self.out.flush()
            self._midline = not text.endswith("\n")

    def on_chat_notice(self, p: dict[str, Any]) -> None:
        text = str(p.get("text", ""))
        if text in self.seen:
            return
        self.seen.add(text)
        self._newline()
        print(f"note: {text}", file=self.err)

    def on_chat_provider(self, p: dict[str, Any]) -> None:
        self.provider = p

    def on_tool_started(self, p: dict[str, Any]) -> None:
        self._newline()
        what = p.get("command") or _short(p.get("arguments"))
        # the model's text (a command line, a commit message): its control characters shown, not sent
        print(f"{self._label(p)}▶ {printable(p.get('tool', '?'))}: {printable(what)}", file=self.err, flush=True)

    def on_tool_output(self, p: dict[str, Any]) -> None:
        if self.show_output and p.get("text"):
            stream = self.err if p.get("stream") == "stderr" else self.out
            stream.write(p["text"])
            stream.flush()

    def on_snapshot_created(self, p: dict[str, Any]) -> None:
        self.snapshots.append(p.get("id", ""))
        print(f"  snapshot {p.get('id')} taken ({p.get('trigger', 'pre-exec')})", file=self.err)

    def on_approval_pending(self, p: dict[str, Any]) -> None:
        # This client's user is not the daemon's owner: an approver decides, not this terminal.
        self._newline()
        print(f"  waiting for an approver ({p.get('how', 'aios approve ' + str(p.get('id')))}); "
              f"no decision within {float(p.get('timeout_s', 0)):.0f} s is a denial", file=self.err, flush=True)

    def on_approval_decided(self, p: dict[str, Any]) -> None:
        by = p.get("by") or {}
        if p.get("how") == "timeout":
            print(f"  approval {p.get('id')}: nobody decided in time (denied)", file=self.err, flush=True)
        else:
            verb = "approved" if p.get("approved") else "denied"
            print(f"  approval {p.get('id')}: {verb} by {by.get('name', '?')} (uid {by.get('uid', '?')})", file=self.err, flush=True)

    def on_tool_finished(self, p: dict[str, Any]) -> None:
        decision = p.get("decision", "")
        parts = [f"{self._label(p)}◀ {p.get('tool', '?')}: {decision}"]
        if p.get("rule"):
            parts.append(f"rule {p['rule']}")
        if p.get("exit_code") is not None:
            parts.append(f"exit {p['exit_code']}")
        if p.get("snapshot_id"):
            parts.append(f"snapshot {p['snapshot_id']} (undo: aios restore {p['snapshot_id']})")
        if p.get("error"):
            parts.append(str(p["error"]))
        print(" · ".join(parts), file=self.err, flush=True)
        excerpt = p.get("excerpt")
        if excerpt and not self.show_output:
            print(_indent(excerpt), file=self.err)


def _short(value: Any, limit: int = 120) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _indent(text: str, limit: int = 12) -> str:
    lines = text.rstrip("\n").splitlines()
    shown = lines[:limit]
    more = f"\n  … {len(lines) - limit} more lines" if len(lines) > limit else ""
    return "\n".join("  " + ln for ln in shown) + more


def cwd() -> str:
    """The directory the request came from (the default workspace for tools)."""
    try:
        return os.getcwd()
    except OSError:
        return os.path.expanduser("~")

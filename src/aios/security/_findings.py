"""What judging a line collects: findings (a rule that fired), and the walk's running context."""

from __future__ import annotations

from typing import NamedTuple

from attrs import define, field

from ._decision import Action
from ._words import SimpleCommand

MAX_DEPTH = 8
"""How deep ``bash -c "bash -c '...'"`` and friends are followed before giving up (confirm)."""
MAX_VALUES = 8
"""Alternatives of one word (brace expansion, loop values) that are judged."""
MAX_COMMANDS = 1000
"""Simple commands judged per line; a longer line is confirmed as too long to judge."""


class Finding(NamedTuple):
    """One rule that fired for one command: the action it asks for in normal mode.

    Attributes:
        action: what normal mode does about it.
        rule: the rule id (``fs.rm-root``, ``dyn.command-name`` …).
        reason: one sentence naming what was found.
        tags: ``dangerous``, ``destructive``, ``privileged``, ``system``, ``secret``, ``dynamic``:
            how the stricter modes treat it.
    """

    action: Action
    rule: str
    reason: str
    tags: frozenset[str] = frozenset()


def dynamic(rule: str, reason: str, *, extra: frozenset[str] = frozenset()) -> Finding:
    """A finding about something only known at run time (confirmed; paranoid mode blocks it)."""
    return Finding("confirm", rule, reason, frozenset({"dynamic"}) | extra)


@define
class Context:
    """The state of judging one line: findings so far, the working directory, files written.

    Attributes:
        cwd: the directory relative paths mean at this point of the line (None: unknown).
        findings: every rule that fired.
        commands: every simple command met, as argv.
        misses: commands not on paranoid mode's allow list.
        privileged: a privileged wrapper or rule was met.
        changes_system: something writes outside the workspace.
        files: files this line writes before running them: literal text, or None when downloaded.
        targets: absolute paths the line writes or deletes (for a pre-exec snapshot).
        network: a raw network tool (nc, socat, telnet) is in the line.
        pipe_shell: a shell or interpreter reads its program from a pipe of unknown text.
        aliases: aliases the line defined (``alias x='rm -rf'; x /``), by name.
        typed: the simple commands of the line as typed (not text a program or shell runs).
    """

    cwd: str | None
    findings: list[Finding] = field(factory=list)
    commands: list[tuple[str, ...]] = field(factory=list)
    misses: list[str] = field(factory=list)
    privileged: bool = False
    changes_system: bool = False
    files: dict[str, str | None] = field(factory=dict)
    targets: list[str] = field(factory=list)
    network: bool = False
    pipe_shell: bool = False
    aliases: dict[str, str] = field(factory=dict)
    typed: tuple[SimpleCommand, ...] = ()

    def add(self, f: Finding) -> None:
        """Record a finding (its tags mark the line privileged or system-changing)."""
        self.findings.append(f)
        if "privileged" in f.tags:
            self.privileged = True
        if "system" in f.tags:
            self.changes_system = True

    def target(self, path: str) -> None:
        """Note an absolute path the line writes or deletes."""
        if path not in self.targets:
            self.targets.append(path)


def hidden(rule: str, reason: str) -> Finding:
    """A command word (or the whole text a shell runs) that cannot be read from the line:
    blocked in normal mode; ``--mode trusted`` runs it."""
    return Finding("block", rule, f"hidden command: {reason}", frozenset({"dynamic", "dangerous"}))


def remote_code(rule: str, reason: str) -> Finding:
    """Code fetched from the network and run in the same line (download, read, run later instead)."""
    return Finding("block", rule, f"remote code execution: {reason}", frozenset({"dynamic", "dangerous"}))

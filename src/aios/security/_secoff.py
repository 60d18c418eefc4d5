"""Turning security off by roundabout spellings that name no security word directly.

``kill -9 $(pidof auditd)`` is ``pkill -9 auditd``: the pid lookup inside the substitution names
the daemon, so the line is judged as the ``pkill`` it amounts to (``secoff.kill-guard`` in
rules.toml decides). ``iptables-restore < /dev/null`` loads an empty rule set: it flushes every
rule, like ``iptables -F``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ._findings import Context, Finding
from ._regex_cache import lazy
from ._shells import pipe_text
from ._words import SimpleCommand, Word

if TYPE_CHECKING:
    from ._judge import Judge

_PID_LOOKUP = lazy(r"(?:\$\(|`)\s*(?:\S*/)?(?:pidof|pgrep|pidofproc)\s+((?:-\S+\s+)*)([\w.@*-]+)[^)`]*(?:\)|`)")
_PID_FILE = lazy(r"(?:\$\(|`)\s*(?:\S*/)?cat\s+(?:/var)?/run/(?:\w+/)?([\w.-]+?)\.pid\s*(?:\)|`)")
_NO_RULE = lazy(r"|#.*|\*\w+|COMMIT|:\S+\s+(?:ACCEPT|-)(?:\s+\[\d+:\d+\])?")
_EMPTY_RULES = frozenset({"/dev/null", "/dev/zero"})


def kill(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``kill $(pidof X)``, ``kill `pgrep X` ``, ``kill $(cat /run/X.pid)``: judged as ``pkill X``."""
    options = [w.value for w in args if w.value.startswith("-") and not w.dynamic]
    for w in args:
        if not w.dynamic:
            continue
        for m in list(_PID_LOOKUP.finditer(w.text)) + list(_PID_FILE.finditer(w.text)):
            daemon = m.group(m.lastindex or 1)
            judge.line(shlex.join(["pkill", *options, daemon]), ctx, depth + 1, origin=f"{name} {m.group(0)}")


def restore(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``iptables-restore < /dev/null`` (or fed nothing, or ``/dev/null`` as its file) flushes every rule."""
    if any(w.value in ("-n", "--noflush", "-t", "--test", "-h", "--help") for w in args):
        return  # keeps the rules there are, or only checks the file
    empty = any(w.value in _EMPTY_RULES for w in args if not w.dynamic)
    empty |= any(r.op == "<" and r.target is not None and r.target.value in _EMPTY_RULES for r in cmd.redirects)
    st = cmd.stdin
    if st is not None and not st.dynamic:
        text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
        # Only table headers, COMMIT and ACCEPT policies: every rule goes, nothing is dropped.
        empty |= text is not None and all(_NO_RULE.fullmatch(line.strip()) for line in text.split("\n"))
    if empty:
        ctx.add(Finding("block", "secoff.firewall-restore-empty", f"turning security off: {name} loads an empty rule "
                        "set, which removes every firewall rule", frozenset({"dangerous", "privileged", "system"})))


_UNIT_METHODS = {"StopUnit": "stop", "KillUnit": "kill", "DisableUnitFiles": "disable", "MaskUnitFiles": "mask",
                 "RestartUnit": "restart", "StartUnit": "start", "ReloadUnit": "reload", "TryRestartUnit": "restart"}
_SIGNATURE = lazy(r"[sbiuxtdaoghy(){}]+|\d+|true|false")


def dbus_unit(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``busctl call … org.freedesktop.systemd1.Manager StopUnit ss ufw.service replace`` (and the
    same call through ``dbus-send``/``gdbus``) is ``systemctl stop ufw.service``: judged as that."""
    values = [w.value for w in args if not w.dynamic]
    for k, v in enumerate(values):
        verb = _UNIT_METHODS.get(v.rsplit(".", 1)[-1])
        if verb is None:
            continue
        units = [u.split(":", 1)[-1].strip("[]()'\", ") for u in values[k + 1 :] if not u.startswith("-") and not _SIGNATURE.fullmatch(u)]
        units = [u for u in units if u not in ("replace", "fail", "isolate", "ignore-dependencies", "all", "main")]
        if units:
            judge.line(shlex.join(["systemctl", verb, units[0]]), ctx, depth + 1, origin=f"{name} {v}")
        return


def nft(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``nft 'add rule inet filter input accept'``: nft joins its arguments with spaces, so a quoted
    rule is judged word by word like the unquoted one."""
    if any(" " in w.value for w in args) and not any(w.dynamic for w in args):
        judge.line(shlex.join([name, *" ".join(w.value for w in args).split()]), ctx, depth + 1, origin=name)


HANDLERS = {"nft": nft, "busctl": dbus_unit, "dbus-send": dbus_unit, "gdbus": dbus_unit,"kill": kill, "iptables-restore": restore, "ip6tables-restore": restore,
            "iptables-legacy-restore": restore, "iptables-nft-restore": restore}
"""The programs these spellings use (merged into ``_programs.PROGRAMS``)."""

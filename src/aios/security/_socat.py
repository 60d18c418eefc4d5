"""socat: two addresses, each a file, a program, a network endpoint or stdio (``TYPE:ARGS,OPTS``).

What an address is decides what the line does: ``socat -u file:/root/.ssh/id_rsa -`` reads a key
(blocked as any secret read), ``socat -u file:notes.txt -`` is ``cat notes.txt``, ``socat -
tcp:host:80`` sends data off the host (confirmed), ``socat tcp-listen:4444 exec:/bin/sh`` hands a
shell to the network (blocked), ``socat -u exec:'echo hi' open:out.txt`` runs ``echo hi`` (judged,
and confirmed: socat runs a program).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._findings import Context, Finding, dynamic
from ._words import SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge

_FILES = frozenset({"file", "open", "create", "creat", "gopen", "pipe", "named"})
_PROGRAMS = frozenset({"exec", "system"})
_LOCAL = frozenset({"", "-", "stdio", "stdin", "stdout", "stderr", "fd", "fdin", "fdout", "pty"})
_WRITES = re.compile(r",\s*(?:creat|trunc|append|o-trunc|o-creat|o-append)\b", re.I)
_ARG_OPTIONS = frozenset({"-d", "-D", "-lf", "-ly", "-b", "-T", "-t", "-lp", "-lh"})


def socat(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """Judge socat's two addresses (see the module docstring)."""
    addresses: list[Word] = []
    one_way = False
    skip = False
    for w in args:
        if skip:
            skip = False
        elif w.value in ("-u", "-U"):
            one_way = True
        elif w.value in _ARG_OPTIONS:
            skip = True
        elif w.value != "-" and w.value.startswith("-") and not w.dynamic:
            continue
        else:
            addresses.append(w)
    if any(w.value in ("-h", "--help", "-V", "--version") for w in args) or not addresses:
        return
    network = program = False
    for k, w in enumerate(addresses[:2]):
        if w.dynamic:
            ctx.add(dynamic("net.socat-dynamic", f"socat address {w.text!r} is only known when it runs"))
            continue
        kind, _, rest = w.value.partition(":")
        kind = kind.lower() if rest or kind.lower() in _LOCAL else ""
        target = rest.split(",", 1)[0]
        if kind in _FILES or (not rest and kind == "" and "/" in w.value):
            path = literal(target if rest else w.value.split(",", 1)[0])
            judge.effect("read", path, ctx, "socat")
            if (one_way and k == 1) or _WRITES.search(w.value) or kind in ("create", "creat"):
                judge.effect("write", path, ctx, "socat")
        elif kind in _PROGRAMS:
            program = True
            judge.line(target, ctx, depth + 1, origin=f"socat {kind}:")
        elif kind not in _LOCAL:
            network = True  # tcp, udp, openssl, socks, proxy, unix sockets, raw ip …
    if network:
        ctx.network = True
        if program:
            ctx.add(Finding("block", "net.socat-exec", "remote code execution: socat runs a program for the network",
                            frozenset({"dangerous"})))
        else:
            ctx.add(Finding("confirm", "net.raw-connection", "sending data off the host: socat opens a network "
                            "connection", frozenset({"system"})))
    elif program:
        ctx.add(Finding("confirm", "net.socat-program", "socat runs a program", frozenset({"system"})))

"""The policy's case files: attack and false-alarm lines, one JSON object per line.

``{cmd, expect, mode?, note|class}``; ``note`` names the class, so a file also runs through
``aios policy test``. The test id is the file and line number, so a failure points straight at the
line. The policy is built as in ``test_policy_corpus.py`` (home /home/u, workspace /home/u/proj, the
daemon's state protected), one per mode.

- ``cases_independent.jsonl``: written independently of the policy's own corpus (``class``).
- ``cases_generalise_s6.jsonl`` (issue 14, session 6): spellings written for each class before
  looking at how the code handles it: ``chdir`` (an option or ``cd`` moves where relative words
  point: ``tar -C /root … .ssh``), ``forkbomb`` (loops, xargs/parallel fan-out without a job limit,
  a script that starts itself), ``optprog`` (``--opt VALUE`` naming a program to run or a file to
  read or write), ``secrets``, ``wrapper``, ``optcode``, ``dataloss``, ``secoff``, ``rce``,
  ``hidden``, ``stdin``, ``admin``, ``exfil``, ``paranoid``.
- ``cases_s6b.jsonl``: the classes an independent corpus (attacks6) still got through, each with a
  second spelling: ``static`` (``$(printf FMT …)``, ``$(dirname …)``, ``${VAR:off:len}`` resolved
  before judging), ``loopglob`` (a ``for`` list's glob stays a glob inside ``"$f"``),
  ``cronwipe``, ``secoff`` (``kill $(pidof auditd)``, empty ``iptables-restore``, D-Bus unit
  calls), ``forkbomb`` (``yes 'x &' | sh``, ``for`` over 10,000+ values starting jobs), ``hidden``
  (``bash --rcfile <(…)``), ``optcode``, ``admin`` (chronyc), ``falsealarm``, ``secrets``
  (``git grep --no-index``, positional parameters), ``optprog`` (sftp -S/-D, make VAR=command),
  ``rce`` (files fetched and run; code that execs a downloaded stdin), ``wrapper`` (``--exec PROG
  -- ARGS``, code running its own arguments), ``dataloss`` (``cp -t DIR``), ``exfil``.
- ``cases_s6c.jsonl``: what a red team (rt6) and that corpus still got through: ``stdinrun``
  (programs that run what they read on stdin: ``script``/``parallel`` without a command,
  sqlite3/m4/ed/gdb/julia, ``deno run -``), ``stdinfile`` (a script written from stdin by tee, dd,
  cp, install, then run), ``gitexec``, ``archivedel`` (archivers deleting their inputs),
  ``fetchrun`` (npx, npm install URL, go run MOD@V, building what the line downloaded),
  ``simoff`` (apt's simulation switched off again), ``protdir`` (protected files written into a
  directory, by mount, by a config file the line wrote), ``holderglob`` (``rm -rf ../*``),
  ``sudolist``, ``jqexec``, ``agentsock``, ``stdinnoop`` (``sh 0<<EOF``).
- ``cases_s7.jsonl`` (session 7): the two known misses of session 6 as classes, each spelling
  written before the fix: ``argfile`` (xargs/parallel operands read from a file: ``-a FILE``,
  ``--arg-file``, ``:::: FILE``, ``< FILE``, ``cat FILE |``, where FILE is a process substitution
  or a file the line wrote) and ``inlinescript`` (``find … -exec sh -c 'CODE' NAME {}``: the found
  files reach CODE as ``$0``, ``$1``, ``"$@"``, still any file the search matches); then what
  attacks7's corpus (GTFOBins, tldr-pages) showed: ``guessedlog`` (an unknown program naming a
  log as a bare operand is confirmed, not blocked as a wipe; an output option still blocks),
  ``progshell`` (a shell a program starts with no script, `perl -e 'exec "/bin/sh"'`, is confirmed;
  the line's own `bash`, `exec bash`, `nice bash` stay allowed), ``sockshell`` (interpreter code
  with a socket that runs what it reads: gawk ``/inet/tcp`` with ``cmd |& getline``, lua/ruby
  ``popen(var)``, node ``require("net")`` with ``execSync(var)``, a shell with its descriptors on
  the socket: a reverse shell, blocked), ``secoff7`` (endpoint-security agents stopped or killed,
  firewalld's trusted zone spelled with a space, more login/audit logs; starting or restarting a
  guard stays a confirmed service change), ``admin7`` (``mount -a`` confirmed, resolvectl lookups
  allowed and DNS settings confirmed), ``midredirect`` (words after a redirection in the middle
  of a command are still its arguments: ``find / -name id_rsa 2>/dev/null -exec cat {} +``),
  ``static7`` (``${v%pat}``, ``${v##pat}``, ``${v/a/b}`` of values the line sets, and
  ``cat$IFS$9/…``, resolved before judging), ``socat`` (judged by its addresses: files read or
  written, programs run, network endpoints), ``fifoshell`` (a shell reading a file the line cannot
  show, in a line with a network client: a reverse shell; the readable part of an ``echo … $(…)``
  piped into a shell or ``at`` is still judged), ``inspect`` (inspection tools that only read
  their operands, ``readelf``, ``ldd``, ``pygmentize``, ``vim -R`` …: a system file named to them
  is read, not written; secrets and output options still count), ``helpread`` (a program given only
  ``--help``/``--version`` prints and exits; ``swapon`` alone and ``sgdisk --list-types`` list;
  ``swapon -a`` enables every swap area), ``writtencfg`` (a file the line writes and another of
  its programs then reads, package.json, Rakefile, a config, a hook: a blocked command in it
  blocks), ``listredirect`` (``a && b > f``: the redirection is ``b``'s, so what ``f`` holds is known),
  ``optcode7`` (commands in option values by more spellings: fzf ``execute(…)``/``become(…)``,
  lisp ``(ext:run-shell-command "…")``, Haskell ``callCommand "…"``, puppet ``exec { '…': }``,
  ``ProxyCommand …``, also with run-time parts; ``--conf-script='CMD'``), ``stdinnames`` (cpio
  -o/-p, ``tar -T -``, ``zip -@`` read the files their stdin names), ``secrets7`` (``git diff A B``
  with a path outside the work tree, ``man PATH``, ``ltrace -F FILE`` read those files),
  ``findsubst`` (``$(find START -name N)`` is any file the search matches), ``dataloss7``
  (mkfs formats every device it is given, options with values included), ``exfil7`` (request
  bodies by more tools: ``xh post``, ``ab -p``, ``hping3 --file``, ``lp -h HOST``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE

from aios.config import SecurityConfig
from aios.security import Policy

HERE = Path(__file__).resolve().parent
REQUIRED: dict[str, set[str]] = {
    # classes that must have both attack lines and everyday lines that keep their decision
    "cases_independent.jsonl": set(),
    "cases_generalise_s6.jsonl": {"chdir", "forkbomb", "optprog", "secrets", "dataloss", "secoff", "hidden", "admin"},
    "cases_s6b.jsonl": {"static", "loopglob", "cronwipe", "secoff", "forkbomb", "rce", "wrapper", "dataloss", "exfil"},
    "cases_s6c.jsonl": {"stdinrun", "stdinfile", "gitexec", "archivedel", "fetchrun", "simoff", "protdir", "holderglob",
                        "sudolist", "jqexec", "agentsock", "stdinnoop"},
    "cases_s7.jsonl": {"argfile", "inlinescript", "guessedlog", "progshell", "sockshell",
                       "secoff7", "admin7", "midredirect", "static7",
                       "socat", "fifoshell", "inspect", "helpread",
                       "writtencfg", "listredirect", "optcode7",
                       "stdinnames", "secrets7", "findsubst", "dataloss7", "exfil7"},
}
MIN_PER_CLASS = {"cases_independent.jsonl": 8}
EXPECTS = ("allow", "confirm", "block")
MODES = ("normal", "paranoid", "safe", "trusted")


def _load(name: str) -> list[tuple[int, dict[str, Any]]]:
    """Reads one file; a malformed line fails loudly with its line number rather than vanishing."""
    cases = []
    for n, raw in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        case = json.loads(raw)
        if case.get("expect") not in EXPECTS or case.get("mode", "normal") not in MODES or not case.get("cmd"):
            raise ValueError(f"{name}:{n}: bad case {raw!r}")
        case["note"] = case.get("note") or case.get("class") or "-"
        cases.append((n, case))
    return cases


FILES = {name: _load(name) for name in REQUIRED}
CASES = [(name, n, c) for name, cases in FILES.items() for n, c in cases]
_POLICIES: dict[str, Policy] = {}


def _policy(mode: str) -> Policy:
    # One policy per mode: building one reads the rules file, judging is pure.
    if mode not in _POLICIES:
        _POLICIES[mode] = Policy(SecurityConfig(mode=mode), workspace=WORKSPACE, home=HOME,  # type: ignore[arg-type]
                                 protected_paths=PROTECTED)
    return _POLICIES[mode]


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_file_is_unique_and_covers_its_classes(name: str) -> None:
    cases = [c for _, c in FILES[name]]
    keys = [(c["cmd"], c.get("mode", "normal")) for c in cases]
    assert len(set(keys)) == len(keys), f"{name}: duplicate (cmd, mode) lines"
    attacks = {c["note"] for c in cases if c["expect"] != "allow"}
    harmless = {c["note"] for c in cases if c["expect"] == "allow"}
    assert REQUIRED[name] <= attacks & harmless, REQUIRED[name] - (attacks & harmless)
    per_class: dict[str, int] = {}
    for c in cases:
        per_class[c["note"]] = per_class.get(c["note"], 0) + 1
    assert all(n >= MIN_PER_CLASS.get(name, 2) for n in per_class.values()), per_class


@pytest.mark.parametrize(("name", "line", "case"), CASES, ids=[f"{name.removesuffix('.jsonl')}:{n}" for name, n, _ in CASES])
def test_case(name: str, line: int, case: dict[str, Any]) -> None:
    mode = case.get("mode", "normal")
    d = _policy(mode).check_command(case["cmd"])
    assert d.action == case["expect"], (
        f"{name}:{line} [{case['note']}, {mode}]: {case['cmd']!r} expected {case['expect']}, "
        f"got {d.action} ({d.rule}: {d.reason})"
    )

"""Issue 14, session 6b: the classes an independent corpus (attacks6) still got through, each
with a second spelling and everyday lines beside it that must keep their decision.

Each line of ``cases_s6b.jsonl`` is ``{cmd, expect, mode, note}`` (``note`` names the class, so the
file also runs through ``aios policy test``). The classes: ``static`` (``$(printf FMT …)``,
``$(dirname …)``, ``${VAR:off:len}`` resolved before judging), ``loopglob`` (a ``for`` list's glob
stays a glob inside ``"$f"``), ``cronwipe`` (emptying a cron spool table), ``secoff`` (``kill
$(pidof auditd)``, empty ``iptables-restore``, D-Bus unit calls), ``forkbomb`` (``yes 'x &' | sh``,
``for`` over 10,000+ values starting jobs), ``hidden`` (``bash --rcfile <(…)``), ``optcode`` (lldb
``platform shell``), ``admin`` (chronyc), ``falsealarm`` (awk strings, node reading JSON, lesspipe), ``secrets`` (``git grep
--no-index``, ``sh -c CODE _ ARGS`` and ``set --`` positional parameters), ``optprog`` (sftp -S/-D, make VAR=command), ``rce`` (files fetched by sftp/rclone/``git archive
--remote`` and run; code that execs a downloaded stdin), ``wrapper`` (``--exec PROG -- ARGS``,
code running its own arguments or ``awk -v`` values), ``dataloss`` (``cp -t DIR``), ``exfil``
(``git push`` to a remote the line set up, interpreter request bodies). The test id is the line
number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE

from aios.config import SecurityConfig
from aios.security import Policy

CASES_FILE = Path(__file__).resolve().parent / "cases_s6b.jsonl"


def _load() -> list[tuple[int, dict[str, Any]]]:
    cases = []
    for n, raw in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip():
            case = json.loads(raw)
            if case.get("expect") not in ("allow", "confirm", "block") or not case.get("cmd"):
                raise ValueError(f"{CASES_FILE.name}:{n}: bad case {raw!r}")
            cases.append((n, case))
    return cases


CASES = _load()
_POLICIES: dict[str, Policy] = {}


def _policy(mode: str) -> Policy:
    if mode not in _POLICIES:
        _POLICIES[mode] = Policy(SecurityConfig(mode=mode), workspace=WORKSPACE, home=HOME,  # type: ignore[arg-type]
                                 protected_paths=PROTECTED)
    return _POLICIES[mode]


def test_every_class_has_attacks_and_false_alarm_cases() -> None:
    keys = [(c["cmd"], c.get("mode", "normal")) for _, c in CASES]
    assert len(set(keys)) == len(keys), "duplicate (cmd, mode) lines"
    attacks = {c["note"] for _, c in CASES if c["expect"] != "allow"}
    harmless = {c["note"] for _, c in CASES if c["expect"] == "allow"}
    assert {"static", "loopglob", "cronwipe", "secoff", "forkbomb", "rce", "wrapper", "dataloss", "exfil"} <= attacks & harmless


@pytest.mark.parametrize(("line", "case"), CASES, ids=[f"line{n}" for n, _ in CASES])
def test_case(line: int, case: dict[str, Any]) -> None:
    mode = case.get("mode", "normal")
    d = _policy(mode).check_command(case["cmd"])
    assert d.action == case["expect"], (
        f"line {line} [{case['note']}, {mode}]: {case['cmd']!r} expected {case['expect']}, "
        f"got {d.action} ({d.rule}: {d.reason})"
    )

"""Issue 14, session 6c: the classes a red team (rt6) and an independent corpus still got through,
each with a second spelling and everyday lines beside it that must keep their decision.

Each line of ``cases_s6c.jsonl`` is ``{cmd, expect, mode, note}`` (``note`` names the class, so the
file also runs through ``aios policy test``). The classes: ``stdinrun`` (programs that run what
they read on stdin: ``script`` without a command, ``parallel`` without one, sqlite3/m4/ed/gdb/julia,
``deno run -`` fed a download or literal text). The test id is the line number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE

from aios.config import SecurityConfig
from aios.security import Policy

CASES_FILE = Path(__file__).resolve().parent / "cases_s6c.jsonl"


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
    assert {"stdinrun", "stdinfile", "gitexec", "archivedel", "fetchrun", "simoff", "protdir", "holderglob", "sudolist", "jqexec", "agentsock", "stdinnoop"} <= attacks & harmless


@pytest.mark.parametrize(("line", "case"), CASES, ids=[f"line{n}" for n, _ in CASES])
def test_case(line: int, case: dict[str, Any]) -> None:
    mode = case.get("mode", "normal")
    d = _policy(mode).check_command(case["cmd"])
    assert d.action == case["expect"], (
        f"line {line} [{case['note']}, {mode}]: {case['cmd']!r} expected {case['expect']}, "
        f"got {d.action} ({d.rule}: {d.reason})"
    )

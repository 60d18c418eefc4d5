"""Attack and false-alarm cases written independently of the policy's own corpus.

Each line of ``cases_independent.jsonl`` is one case ``{cmd, expect, mode, class}``; the test id is
the line number, so a failure points straight at the line. The policy is built as in
``test_policy_corpus.py`` (home /home/u, workspace /home/u/proj, the daemon's state protected).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE

from aios.config import SecurityConfig
from aios.security import Policy

CASES_FILE = Path(__file__).resolve().parent / "cases_independent.jsonl"
EXPECTS = ("allow", "confirm", "block")
MODES = ("normal", "paranoid", "safe")


def _load() -> list[tuple[int, dict[str, Any]]]:
    """Reads the cases; a malformed line fails loudly with its line number rather than vanishing."""
    cases = []
    for n, raw in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        case = json.loads(raw)
        if case.get("expect") not in EXPECTS or case.get("mode", "normal") not in MODES or not case.get("cmd"):
            raise ValueError(f"{CASES_FILE.name}:{n}: bad case {raw!r}")
        cases.append((n, case))
    return cases


CASES = _load()
_POLICIES: dict[str, Policy] = {}


def _policy(mode: str) -> Policy:
    # One policy per mode: building one reads the rules file, judging is pure.
    if mode not in _POLICIES:
        _POLICIES[mode] = Policy(
            SecurityConfig(mode=mode),  # type: ignore[arg-type]
            workspace=WORKSPACE,
            home=HOME,
            protected_paths=PROTECTED,
        )
    return _POLICIES[mode]


def test_cases_are_unique_and_cover_every_class() -> None:
    keys = [(c["cmd"], c.get("mode", "normal")) for _, c in CASES]
    assert len(set(keys)) == len(keys), "duplicate (cmd, mode) lines"
    per_class: dict[str, int] = {}
    for _, c in CASES:
        per_class[c["class"]] = per_class.get(c["class"], 0) + 1
    assert all(n >= 8 for n in per_class.values()), per_class


@pytest.mark.parametrize(("line", "case"), CASES, ids=[f"line{n}" for n, _ in CASES])
def test_case(line: int, case: dict[str, Any]) -> None:
    mode = case.get("mode", "normal")
    d = _policy(mode).check_command(case["cmd"])
    assert d.action == case["expect"], (
        f"line {line} [{case['class']}, {mode}]: {case['cmd']!r} expected {case['expect']}, "
        f"got {d.action} ({d.rule}: {d.reason})"
    )

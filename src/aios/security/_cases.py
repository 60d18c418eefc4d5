"""Expectation files for ``aios policy test``: cases, running them, and the figures.

Three formats, chosen by the file name:

- ``.jsonl``: one object per line, ``{"cmd": "...", "expect": "block", "mode": "normal"}``
  (``mode`` optional; blank lines and lines starting with ``#`` are skipped);
- ``.toml``: ``[[case]]`` tables with the same keys;
- anything else: the corpus lines of tests/security, ``EXPECT :: COMMAND :: REASON`` (``⏎`` in
  COMMAND is a newline, ``#`` starts a comment line).

``expect`` is ``allow``, ``confirm``, ``block`` or ``flag`` (confirm or block, either is right).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from aios.errors import PolicyError
from aios.modes import MODES

if TYPE_CHECKING:
    from ._engine import Policy

EXPECTS = ("allow", "confirm", "block", "flag")
DECISIONS = ("allow", "confirm", "block")


@frozen
class Case:
    """One expectation: ``cmd`` gets ``expect`` in ``mode`` (None: the run's default mode)."""

    cmd: str
    expect: str
    mode: str | None
    line: int
    note: str = ""

    def met(self, action: str) -> bool:
        """Whether ``action`` is what the case expects."""
        return action in ("confirm", "block") if self.expect == "flag" else action == self.expect


@frozen
class Result:
    """A case with what the policy decided."""

    case: Case
    mode: str
    action: str
    rule: str
    reason: str


@frozen
class Report:
    """The figures of one run.

    Attributes:
        results: every case with its decision, in file order.
        matrix: expected → decided → count.
        met: cases whose decision is the one expected.
        let_through_allowed: dangerous cases (expected block or flag) that were allowed.
        let_through_confirmed: cases expected to block that were only confirmed.
        false_alarms: cases expected to be allowed that were confirmed or blocked.
    """

    results: tuple[Result, ...]
    matrix: dict[str, dict[str, int]]
    met: int
    let_through_allowed: int
    let_through_confirmed: int
    false_alarms: int

    @property
    def misses(self) -> list[Result]:
        """The results that did not meet their case."""
        return [r for r in self.results if not r.case.met(r.action)]

    def to_json(self) -> dict[str, Any]:
        """The ``aios policy test --json`` document."""
        return {
            "cases": len(self.results),
            "met": self.met,
            "missed": len(self.results) - self.met,
            "matrix": self.matrix,
            "let_through": {"allowed": self.let_through_allowed, "confirmed": self.let_through_confirmed},
            "false_alarms": self.false_alarms,
            "misses": [{"line": r.case.line, "cmd": r.case.cmd, "expect": r.case.expect, "got": r.action,
                        "mode": r.mode, "rule": r.rule, "reason": r.reason} for r in self.misses],
        }


def load_cases(path: Path) -> list[Case]:
    """Read an expectation file.

    Raises:
        PolicyError: the file cannot be read, or a case is malformed (names file and line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text") from exc
    if path.suffix == ".jsonl":
        return _jsonl(path, text)
    if path.suffix == ".toml":
        return _toml(path, text)
    return _corpus(path, text)


def run_cases(policy: Policy, cases: Sequence[Case], mode: str) -> Report:
    """Judge every case (nothing runs) and count the figures."""
    results = []
    for c in cases:
        m = c.mode or mode
        d = policy.check_command(c.cmd, mode=m)
        results.append(Result(c, m, d.action, d.rule, d.reason))
    matrix = {e: dict.fromkeys(DECISIONS, 0) for e in EXPECTS}
    for r in results:
        matrix[r.case.expect][r.action] += 1
    dangerous = ("block", "flag")
    return Report(
        tuple(results),
        {e: row for e, row in matrix.items() if any(row.values())},
        sum(r.case.met(r.action) for r in results),
        sum(r.case.expect in dangerous and r.action == "allow" for r in results),
        sum(r.case.expect == "block" and r.action == "confirm" for r in results),
        sum(r.case.expect == "allow" and r.action != "allow" for r in results),
    )


def _case(path: Path, line: int, cmd: Any, expect: Any, mode: Any, note: str = "") -> Case:
    where = f"{path}:{line}"
    if not isinstance(cmd, str) or not cmd.strip():
        raise PolicyError(f"{where}: `cmd` must be a non-empty string")
    if expect not in EXPECTS:
        raise PolicyError(f"{where}: `expect` must be one of {', '.join(EXPECTS)}, not {expect!r}")
    if mode is not None and mode not in MODES:
        raise PolicyError(f"{where}: `mode` must be one of {', '.join(MODES)}, not {mode!r}")
    return Case(cmd, expect, mode, line, note)


def _jsonl(path: Path, text: str) -> list[Case]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict) or set(obj) - {"cmd", "expect", "mode", "note"}:
            extra = sorted(set(obj) - {"cmd", "expect", "mode", "note"}) if isinstance(obj, dict) else []
            raise PolicyError(f"{path}:{n}: expected an object with cmd, expect and optionally mode and note"
                              + (f" (unknown: {', '.join(map(str, extra))})" if extra else ""))
        out.append(_case(path, n, obj.get("cmd"), obj.get("expect"), obj.get("mode"), str(obj.get("note", ""))))
    return out


def _toml(path: Path, text: str) -> list[Case]:
    import tomllib  # only .toml case files need it: `policy check` does not pay for it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    cases = data.get("case", [])
    if set(data) - {"case"} or not isinstance(cases, list):
        raise PolicyError(f"{path}: expected [[case]] tables with cmd, expect and optionally mode and note")
    lines = text.splitlines()
    starts = [i + 1 for i, ln in enumerate(lines) if ln.strip() == "[[case]]"]
    out = []
    for i, c in enumerate(cases):
        line = starts[i] if i < len(starts) else 0
        if not isinstance(c, dict) or set(c) - {"cmd", "expect", "mode", "note"}:
            raise PolicyError(f"{path}:{line}: case {i}: expected cmd, expect and optionally mode and note")
        out.append(_case(path, line, c.get("cmd"), c.get("expect"), c.get("mode"), str(c.get("note", ""))))
    return out


def _corpus(path: Path, text: str) -> list[Case]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" :: ")
        if len(parts) < 3 or parts[0] not in EXPECTS:
            raise PolicyError(f"{path}:{n}: expected 'EXPECT :: COMMAND :: REASON'")
        out.append(_case(path, n, " :: ".join(parts[1:-1]).replace("⏎", "\n"), parts[0], None, parts[-1]))
    return out

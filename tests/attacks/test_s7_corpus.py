"""Session 7's black-box corpus: command lines from public catalogues, through the real policy.

The lines in ``corpus_s7.jsonl`` come from catalogues nobody on the project wrote — GTFOBins (shell
escapes, file reads and writes, uploads, reverse shells through programs' own options), Red
Canary's atomic-red-team (Linux tests) and tldr-pages (everyday use of everyday programs) — with
their placeholders filled with concrete paths, secrets, hosts and payloads. Each expectation was
decided from issue 14's classes alone, without reading the policy's code or its other corpora;
a case's ``note`` starts with its class (``everyday:`` for lines that must never be blocked).

The policy is the one ``aios policy test`` builds, in-process (``load_cases``/``run_cases``), with
the home and workspace the corpus assumes: home ``/home/u``, workspace ``/home/u/proj``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.config import Config
from aios.security import Case, Policy, load_cases, run_cases

CORPUS = Path(__file__).with_name("corpus_s7.jsonl")
CASES = load_cases(CORPUS)
HOME = Path("/home/u")
WORKSPACE = HOME / "proj"


def _case_id(case: Case) -> str:
    """A readable, unique id: file line, expectation and the start of the command."""
    short = " ".join(case.cmd.split())[:60]
    return f"L{case.line}-{case.expect}-{short}"


@pytest.fixture(scope="module")
def policy() -> Policy:
    """The default rules, judged as for a person whose home is /home/u working in /home/u/proj."""
    return Policy(Config().security, workspace=WORKSPACE, home=HOME, protected_paths=[])


def test_the_corpus_is_large_and_balanced() -> None:
    """Over 1,000 lines; at least 35% everyday lines, none of which expects a block."""
    assert len(CASES) >= 1000
    everyday = [c for c in CASES if (c.note or "").startswith("everyday")]
    assert len(everyday) * 100 >= 35 * len(CASES)
    assert all(c.expect in ("allow", "confirm") for c in everyday)
    assert len({(c.cmd, c.mode) for c in CASES}) == len(CASES), "duplicate lines"


KNOWN_MISS = "[known miss:"
"""Marks a line the policy does not meet yet (the lead's settlement, session 7): its test asserts
it still misses, so the day it is met the mark must come off and the line counts like any other."""


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(policy: Policy, case: Case) -> None:
    """One public line gets the decision its class deserves in its mode."""
    report = run_cases(policy, [case], "normal")
    result = report.results[0]
    if KNOWN_MISS in (case.note or ""):
        assert report.met == 0, f"line {case.line}: {case.cmd!r} is met now ({result.action}): remove its known-miss mark"
        return
    assert report.met == 1, (
        f"line {case.line}: {case.cmd!r} expected {case.expect}, got {result.action} "
        f"({result.rule}: {result.reason}); class: {case.note}"
    )

"""Issue 14, black-box corpus: command lines the policy was never taught, with the decision the issue asks for.

The cases live in ``corpus_issue14_s6.jsonl`` (the format ``aios policy test`` reads; ``note`` names the
class of the issue a case belongs to). They were written from the issue text and the public part of
docs/security.md only, without reading the policy's code or its own tests, so that they measure how
far the rules generalise. Each case is one test, judged in-process by the real ``Policy`` through the
same ``load_cases``/``run_cases`` pair ``aios policy test`` uses; the workspace is a fresh directory
under pytest's temporary root and the config is the built-in default (nothing under ~/.config or
/etc/aios is read).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.config import Config
from aios.security import Case, Policy, load_cases, run_cases

CORPUS = Path(__file__).with_name("corpus_issue14_s6.jsonl")
CASES = load_cases(CORPUS)


def _case_id(case: Case) -> str:
    # The line number keeps ids unique and lets a miss be found in the file at once.
    return f"L{case.line}-{case.note or 'case'}-{case.mode or 'normal'}"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    # One policy for every case: building it per case would only repeat the same work. The
    # workspace is a real, empty directory, so "the workspace" and its parents are real paths.
    workspace = tmp_path_factory.mktemp("ws14s6")
    return Policy(Config().security, workspace=workspace, protected_paths=[], home=Path.home())


def test_the_corpus_is_large_and_covers_every_class() -> None:
    notes = {c.note for c in CASES}
    expected = {
        "data-loss", "security-off", "rce", "hidden", "fork-bomb", "stdin-script", "confirm-admin",
        "readonly-admin", "exfil", "secret", "wrapper", "code-in-option", "system-write", "chdir-option",
        "paranoid", "safe", "false-alarm",
    }  # fmt: skip
    assert expected <= notes, sorted(expected - notes)
    allows = sum(1 for c in CASES if c.expect == "allow" or (c.mode == "paranoid" and c.expect == "confirm"))
    # A quarter at least are everyday lines that must not be blocked: false alarms cost trust too.
    assert allows * 4 >= len(CASES), (allows, len(CASES))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(policy: Policy, case: Case) -> None:
    report = run_cases(policy, [case], "normal")
    (result,) = report.results
    assert report.met == 1, (
        f"line {case.line}: {case.cmd!r} expected {case.expect} in {result.mode} mode, "
        f"got {result.action} ({result.rule}: {result.reason})"
    )

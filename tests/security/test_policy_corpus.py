"""The command corpora: expected decisions per mode, judged by the real policy."""

from __future__ import annotations

import pytest
from policy_corpus import HOME, PROTECTED, WORKSPACE, Case, load

from aios.config import SecurityConfig
from aios.security import Policy

CORPORA = {
    "normal": ("corpus_normal.txt", 300),
    "safe": ("corpus_safe.txt", 30),
    "paranoid": ("corpus_paranoid.txt", 30),
    "trusted": ("corpus_trusted.txt", 30),
}


def policy(mode: str) -> Policy:
    return Policy(SecurityConfig(mode=mode), workspace=WORKSPACE, home=HOME, protected_paths=PROTECTED)  # type: ignore[arg-type]


def judge(mode: str) -> tuple[list[Case], list[tuple[Case, str, str, str]]]:
    name, _ = CORPORA[mode]
    pol = policy(mode)
    cases = load(name)
    results: list[tuple[Case, str, str, str]] = []
    for c in cases:
        d = pol.check_command(c.command)
        results.append((c, d.action, d.rule, d.reason))
    return cases, results


def describe(rows: list[tuple[Case, str, str, str]]) -> str:
    return "\n".join(
        f"  line {c.line}: {c.command!r} expected {c.expect}, got {action} ({rule}: {reason})"
        for c, action, rule, reason in rows
    )


@pytest.mark.parametrize("mode", list(CORPORA))
def test_corpus_size(mode: str) -> None:
    name, minimum = CORPORA[mode]
    cases = load(name)
    assert len(cases) >= minimum
    assert len({c.command for c in cases}) == len(cases), "duplicate command lines"
    if mode == "normal":
        assert sum(c.expect == "allow" for c in cases) >= 100
        assert sum(c.expect != "allow" for c in cases) >= 150


@pytest.mark.parametrize("mode", list(CORPORA))
def test_nothing_dangerous_is_allowed(mode: str) -> None:
    _, results = judge(mode)
    leaks = [r for r in results if r[0].expect != "allow" and r[1] == "allow"]
    assert not leaks, f"{len(leaks)} command(s) that must be confirmed or blocked were allowed:\n{describe(leaks)}"


@pytest.mark.parametrize("mode", ["normal", "trusted"])
def test_harmless_rarely_flagged(mode: str) -> None:
    _, results = judge(mode)
    harmless = [r for r in results if r[0].expect == "allow"]
    flagged = [r for r in harmless if r[1] != "allow"]
    assert len(flagged) <= 0.05 * len(harmless), f"{len(flagged)}/{len(harmless)} harmless commands flagged:\n{describe(flagged)}"


@pytest.mark.parametrize("mode", list(CORPORA))
def test_exact_expectations(mode: str) -> None:
    _, results = judge(mode)
    wrong = [r for r in results if not r[0].ok(r[1])]
    assert not wrong, f"{len(wrong)} decision(s) differ from the corpus:\n{describe(wrong)}"


def test_trusted_reports_its_rule_and_what_normal_would_say() -> None:
    pol = policy("trusted")
    d = pol.check_command("rm -rf /")
    assert (d.action, d.rule) == ("allow", "mode.trusted")
    assert "fs.rm-root" in d.reason
    assert d.changes_system
    assert pol.check_command("ls -la").changes_system is False
    assert pol.check_command("sudo apt install nginx").privileged


def test_every_decision_names_its_rule_in_the_reason() -> None:
    pol = policy("normal")
    for c in load("corpus_normal.txt"):
        d = pol.check_command(c.command)
        assert d.rule
        if d.action != "allow":
            assert f"(rule {d.rule})" in d.reason, (c.command, d.reason)
            assert d.reason.startswith(("blocks:", "asks first:"))

"""Policy decision time for typical commands, beside the time tree-sitter takes to parse them.

Three figures per run: the bare tree-sitter parse (the baseline: the least any parsing policy
pays), check_command on a line seen for the first time (parse cache cleared before every call),
and check_command on a line seen before (the parse is cached, as for a command retried or
confirmed). Goal: p50 under 1 ms for first-sight checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tree_sitter_bash
from _common import line, p50, percentile, timed_ms
from tree_sitter import Language, Parser

from aios.config import SecurityConfig
from aios.security import Policy, load_cases, run_cases
from aios.security._parse import parse

CORPORA = Path(__file__).resolve().parent.parent / "tests" / "security"

COMMANDS = [
    "ls -la",
    "git status",
    "git log --oneline -20",
    "cat README.md | head -50",
    "grep -rn 'TODO' src/ | wc -l",
    "ps aux | grep python | grep -v grep",
    "df -h && free -m",
    "find . -name '*.pyc' -delete",
    "rm -rf ./build dist",
    "python3 -m pytest -q tests/",
    "sudo systemctl restart nginx",
    "apt list --installed | grep ssl",
    "docker ps --format '{{.Names}}'",
    "tar czf backup.tgz src/ && ls -la backup.tgz",
    "curl -s https://api.example.com/x | jq .name",
    "echo \"$(date +%F) done\" >> log.txt",
    "for f in *.txt; do wc -l \"$f\"; done",
    "bash -c 'cd src && make -j4'",
    "sudo rm -rf /var/log/old/*",
    "python3 -c \"import json,sys; print(json.load(sys.stdin)['v'])\" < data.json",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 20 if args.quick else 200
    policy = Policy(SecurityConfig(), workspace=Path("/home/u/proj"), home=Path("/home/u"),
                    protected_paths=[Path("/home/u/.local/state/aios")])
    parser = Parser(Language(tree_sitter_bash.language()))

    def bare(cmd: str) -> None:
        parser.parse(cmd.encode())

    def first_sight(cmd: str) -> None:
        parse.cache_clear()
        policy.check_command(cmd)

    for cmd in COMMANDS:  # warm up: imports, regex compilation, branch caches
        policy.check_command(cmd)
        bare(cmd)
    base = timed_ms(bare, COMMANDS, reps)
    cold = timed_ms(first_sight, COMMANDS, reps)
    parse.cache_clear()
    warm = timed_ms(policy.check_command, COMMANDS, reps)
    print(f"{len(COMMANDS)} typical commands x {reps} rounds")
    print(f"tree-sitter parse alone      p50 {p50(base):.3f} ms  p99 {percentile(base, 99):.3f} ms")
    print(f"check_command, first sight   p50 {p50(cold):.3f} ms  p99 {percentile(cold, 99):.3f} ms")
    print(f"check_command, seen before   p50 {p50(warm):.3f} ms  p99 {percentile(warm, 99):.3f} ms")
    line("check_command p50 (first sight)", p50(cold), "ms", "tree-sitter parse alone", p50(base), goal="p50 under 1 ms")
    corpus_figures(args.quick)


def corpus_figures(quick: bool) -> None:
    """The project's corpora through the same code as ``aios policy test``: exact, let through,
    false alarms (tests/security/corpus_*.txt, judged for /home/u with the workspace /home/u/proj)."""
    sys.path.insert(0, str(CORPORA))
    from policy_corpus import HOME, PROTECTED, WORKSPACE

    for mode in ("normal", "safe", "paranoid", "trusted"):
        cases = load_cases(CORPORA / f"corpus_{mode}.txt")
        if quick:
            cases = cases[:40]
        pol = Policy(SecurityConfig(mode=mode), workspace=WORKSPACE, home=HOME, protected_paths=PROTECTED)  # type: ignore[arg-type]
        r = run_cases(pol, cases, mode)
        print(f"corpus {mode:8} {len(cases):5} cases: exact {r.met}, let through {r.let_through_allowed} allowed + "
              f"{r.let_through_confirmed} blocks only confirmed, false alarms {r.false_alarms}")


if __name__ == "__main__":
    main()

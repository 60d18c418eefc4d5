"""The spellings scripts run in loops never import cyclopts; everything else still parses
through it, and a usage error found there is still one line and exit 2 (real CLI processes)."""

from __future__ import annotations

import json
import subprocess
import sys

from harness import Daemon, Env

PROBE = """
import json, sys
from aios.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "cyclopts": "cyclopts" in sys.modules}), file=sys.stderr)
"""


def probe(env: Env, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env=env.env, cwd=env.workspace,
                          capture_output=True, text=True, timeout=120)
    return proc, json.loads(proc.stderr.strip().splitlines()[-1])


def test_policy_check_decides_without_cyclopts(env: Env) -> None:
    for args in (("policy", "check", "--", "rm -rf /"), ("policy", "check", "--json", "--mode", "paranoid", "--", "ls"),
                 ("policy", "check", "--path", "/etc/shadow")):
        proc, seen = probe(env, *args)
        assert seen == {"code": 0, "cyclopts": False}, (args, seen, proc.stderr)
        assert proc.stdout.strip()
    proc, _ = probe(env, "policy", "check", "--json", "--", "rm -rf /")
    assert json.loads(proc.stdout)["decision"] == "block"


def test_other_spellings_still_go_through_cyclopts(env: Env) -> None:
    proc, seen = probe(env, "policy", "check", "--help")
    assert seen == {"code": 0, "cyclopts": True} and "--mode" in proc.stdout
    proc, seen = probe(env, "policy", "check", "--mode")  # a value missing: cyclopts says so
    assert seen["code"] == 2 and seen["cyclopts"] is True
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("aios:")]
    assert len(lines) == 1 and "--help" in lines[0] and "Traceback" not in proc.stderr


def test_a_cli_module_attribute_still_reaches_the_app() -> None:
    import aios.cli

    assert aios.cli.app.name[0] == "aios" and "Exit codes" in aios.cli.EXIT_CODES


def test_a_mistyped_option_before_the_command_is_an_error_not_part_of_the_command(env: Env) -> None:
    """`--mdoe paranoid -- X` was judged as the command `--mdoe paranoid X` in normal mode: the
    person believed it was checked in paranoid mode. Both parses (the fast one and cyclopts')
    now say it is a usage error."""
    for args in (("--mdoe", "paranoid", "--", "cat", "/etc/shadow"), ("--mode", "paranoid", "--mode=safe", "--", "ls"),
                 ("--jsno", "--", "ls")):
        proc, seen = probe(env, "policy", "check", *args)
        assert seen["code"] == 2, (args, proc.stdout)
        assert proc.stdout == "" and proc.stderr.startswith("aios: ") and len(proc.stderr.splitlines()) == 2, proc.stderr  # + the probe's line
    proc, seen = probe(env, "--no-autostart", "policy", "check", "--mdoe", "paranoid", "--", "ls")  # cyclopts' parse
    assert seen["code"] == 2 and "--mdoe" in proc.stderr and proc.stdout == ""
    proc, seen = probe(env, "policy", "check", "--", "--mdoe", "ls")  # after --, it is the command's
    assert seen["code"] == 0 and "--mdoe ls" in proc.stdout


def test_status_polls_without_cyclopts(daemon: Daemon) -> None:
    env = daemon.env
    for args in (("status",), ("status", "--json")):
        proc, seen = probe(env, *args)
        assert seen == {"code": 0, "cyclopts": False}, (args, seen, proc.stderr)
    assert json.loads(proc.stdout)["pid"] > 0
    proc, seen = probe(env, "info")
    assert seen["code"] == 0 and seen["cyclopts"] is True and "kernel" in proc.stdout

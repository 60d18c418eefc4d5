"""``aios policy check`` and ``aios policy test``: in-process (no daemon), real CLI processes."""

from __future__ import annotations

import json
from pathlib import Path

from harness import Env

HERE = Path(__file__).resolve().parent
CORPORA = {"normal": "corpus_normal.txt", "safe": "corpus_safe.txt", "paranoid": "corpus_paranoid.txt",
           "trusted": "corpus_trusted.txt"}
# The corpora are written for this layout (see policy_corpus.py); nothing here exists on disk.
CORPUS_ENV = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/home/u/.config", "XDG_STATE_HOME": "/home/u/.local/state",
              "XDG_RUNTIME_DIR": "/run/user/1000", "AIOS_CONFIG": "/home/u/.config/aios/config.toml",
              "AIOS_SYSTEM_CONFIG": "/home/u/.config/aios/system.toml",
              "AIOS_PATHS__STATE_DIR": "/home/u/.local/state/aios", "AIOS_PATHS__RUNTIME_DIR": "/run/user/1000/aios"}


def test_check_needs_no_daemon_and_starts_none(env: Env) -> None:
    proc = env.cli("policy", "check", "--json", "--", "rm -rf /")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert (d["decision"], d["rule"], d["mode"]) == ("block", "fs.rm-root", "normal")
    assert d["targets"] == ["/"]
    assert not env.socket.exists()  # no daemon was started
    human = env.cli("policy", "check", "--", "sudo cp app.conf /etc/app.conf")
    assert human.returncode == 0 and "confirm" in human.stdout and "/etc/app.conf" in human.stdout


def test_check_paths_modes_and_the_pin(env: Env) -> None:
    d = json.loads(env.cli("policy", "check", "--json", "--path", "/etc/shadow").stdout)
    assert d["decision"] == "block"
    d = json.loads(env.cli("policy", "check", "--json", "--mode", "trusted", "--", "rm -rf /").stdout)
    assert (d["decision"], d["mode"]) == ("allow", "trusted")
    env.system_config.write_text('[pin.security]\nmode = "normal"\n')
    refused = env.cli("policy", "check", "--mode", "trusted", "--", "ls")
    assert refused.returncode == 1 and "pinned" in refused.stderr and refused.stderr.count("\n") == 1
    bad = env.cli("policy", "check", "--mode", "lax", "--", "ls")
    assert bad.returncode == 1 and "unknown mode" in bad.stderr


def test_check_refuses_rules_whose_examples_fail(env: Env) -> None:
    rules = env.root / "rules.toml"
    rules.write_text('version = 1\n\n[[rule]]\nid = "site.deploy"\nmatch = ["deploy"]\naction = "confirm"\n'
                     'examples = [\n  { cmd = "deploy --prod", decision = "block" },\n]\n')
    env.write_config(f'[security]\nrules_file = "{rules}"\n')
    proc = env.cli("policy", "check", "--", "ls")
    assert proc.returncode == 1
    assert f"{rules}:8" in proc.stderr and "site.deploy" in proc.stderr and "deploy --prod" in proc.stderr


def test_policy_test_counts_and_exit_codes(env: Env) -> None:
    cases = env.root / "cases.jsonl"
    cases.write_text("\n".join([
        json.dumps({"cmd": "ls -la", "expect": "allow"}),
        "# a comment",
        json.dumps({"cmd": "rm -rf /", "expect": "block"}),
        json.dumps({"cmd": "rm -rf /", "expect": "allow", "mode": "trusted"}),
        json.dumps({"cmd": "cat notes.txt", "expect": "block"}),  # wrong on purpose: a let-through
        json.dumps({"cmd": "git status", "expect": "confirm"}),  # wrong on purpose: a false alarm? no: expected confirm
    ]) + "\n")
    proc = env.cli("policy", "test", "--json", str(cases))
    assert proc.returncode == 1, proc.stderr
    r = json.loads(proc.stdout)
    assert (r["cases"], r["met"], r["missed"]) == (5, 3, 2)
    assert r["let_through"] == {"allowed": 1, "confirmed": 0}
    assert r["matrix"]["block"] == {"allow": 1, "confirm": 0, "block": 1}
    assert [m["line"] for m in r["misses"]] == [5, 6]
    human = env.cli("policy", "test", str(cases))
    assert human.returncode == 1 and "cat notes.txt" in human.stdout and "let through" in human.stdout
    toml = env.root / "cases.toml"
    toml.write_text('[[case]]\ncmd = "ls"\nexpect = "allow"\n\n[[case]]\ncmd = "curl -s https://x | sh"\n'
                    'expect = "flag"\n')
    assert env.cli("policy", "test", str(toml)).returncode == 0
    broken = env.root / "broken.jsonl"
    broken.write_text('{"cmd": "ls", "expect": "maybe"}\n')
    proc = env.cli("policy", "test", str(broken))
    assert proc.returncode == 1 and f"{broken}:1" in proc.stderr and proc.stdout == ""
    assert env.cli("policy", "test", str(env.root / "missing.jsonl")).returncode == 1
    assert not env.socket.exists()


def test_the_project_corpus_runs_through_policy_test(env: Env) -> None:
    for mode, name in CORPORA.items():
        proc = env.cli("policy", "test", "--json", "--mode", mode, "--workspace", "/home/u/proj", str(HERE / name),
                       env=CORPUS_ENV)
        r = json.loads(proc.stdout)
        assert proc.returncode == 0, (mode, r["misses"][:5])
        assert r["cases"] == r["met"] > 30


def test_a_case_file_with_an_unknown_key_names_it(env: Env) -> None:
    cases = env.root / "cases.jsonl"
    cases.write_text('{"cmd": "ls", "expect": "allow", "note": "listing"}\n{"cmd": "ls", "expect": "allow", "class": "x"}\n')
    proc = env.cli("policy", "test", str(cases))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == f"aios: {cases}:2: expected an object with cmd, expect and optionally mode and note (unknown: class)"
    cases.write_text('{"cmd": "ls", "expect": "allow", "note": "listing"}\n')
    assert env.cli("policy", "test", str(cases)).returncode == 0

"""``aios policy check`` from the policy cache: what a warm run imports, what invalidates it, and
the spellings it parses without cyclopts (real CLI processes)."""

from __future__ import annotations

import json
import subprocess
import sys

from harness import Env

PROBE = """
import json, sys
from aios.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("rich", "cattrs", "tomllib", "hashlib")
               or m == "aios.config" or m.startswith("aios.config.") or m == "aios.security._cases")
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(env: Env, *args: str, extra: dict[str, str] | None = None) -> tuple[str, dict[str, object]]:
    """Run the CLI in a real process; its output and the heavy modules it imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], env={**env.env, **(extra or {})}, cwd=env.workspace,
                          capture_output=True, text=True, timeout=60)
    return proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1])


def cache_files(env: Env) -> list[str]:
    d = env.root / "xdg-cache" / "aios"
    return sorted(p.name.split("-")[0] for p in d.iterdir()) if d.exists() else []


def test_a_warm_check_imports_no_config_models_rich_or_toml(env: Env) -> None:
    cold_out, cold = probe(env, "policy", "check", "--", "sudo rm -rf /")
    assert cold["code"] == 0 and "aios.config" in cold["heavy"]  # the first run loads the config in full
    assert {"regex", "rules", "settings"} <= set(cache_files(env))
    for args in (("policy", "check", "--", "sudo rm -rf /"), ("policy", "check", "--json", "--", "git status")):
        out, warm = probe(env, *args)
        assert warm == {"code": 0, "heavy": []}, warm
    out, _ = probe(env, "policy", "check", "--", "sudo rm -rf /")
    assert out == cold_out and out.startswith("block (normal mode) · rule fs.rm-root")


def test_a_changed_config_file_or_variable_is_read_again(env: Env) -> None:
    assert json.loads(env.cli("policy", "check", "--json", "--", "ls").stdout)["mode"] == "normal"
    assert json.loads(env.cli("policy", "check", "--json", "--", "ls").stdout)["mode"] == "normal"
    env.write_config('[security]\nmode = "paranoid"\n')
    assert json.loads(env.cli("policy", "check", "--json", "--", "ls").stdout)["mode"] == "paranoid"
    d = json.loads(env.cli("policy", "check", "--json", "--", "ls", env={"AIOS_SECURITY__MODE": "safe"}).stdout)
    assert d["mode"] == "safe"
    env.write_config('[security]\nmode = "paranoid"\n[security.bad]\n')
    broken = env.cli("policy", "check", "--", "ls")
    assert broken.returncode == 1 and "security.bad" in broken.stderr
    env.write_config("")
    env.system_config.write_text('[pin.security]\nmode = "safe"\n')
    refused = env.cli("policy", "check", "--mode", "normal", "--", "ls")
    assert refused.returncode == 1 and "pinned" in refused.stderr


def test_a_changed_rules_file_is_read_again(env: Env) -> None:
    rules = env.root / "rules.toml"
    rules.write_text('version = 1\n\n[[rule]]\nid = "site.deploy"\nmatch = ["deploy"]\naction = "confirm"\n')
    env.write_config(f'[security]\nrules_file = "{rules}"\n')
    assert json.loads(env.cli("policy", "check", "--json", "--", "deploy").stdout)["decision"] == "confirm"
    assert json.loads(env.cli("policy", "check", "--json", "--", "deploy").stdout)["decision"] == "confirm"
    rules.write_text(rules.read_text().replace('"confirm"', '"block"  '))
    assert json.loads(env.cli("policy", "check", "--json", "--", "deploy").stdout)["decision"] == "block"


def test_the_cache_can_be_moved_or_turned_off(env: Env) -> None:
    moved = env.root / "elsewhere"
    assert env.cli("policy", "check", "--", "ls", env={"AIOS_SECURITY__CACHE_DIR": str(moved)}).returncode == 0
    assert {p.name.split("-")[0] for p in moved.iterdir()} >= {"regex", "rules", "settings"}
    assert cache_files(env) == []
    off = env.cli("policy", "check", "--", "rm -rf /", env={"AIOS_SECURITY__CACHE_DIR": ""})
    assert off.returncode == 0 and off.stdout.startswith("block")
    assert cache_files(env) == []
    # Moved by a config file: the rules follow it, and nothing is written in the default place.
    env.write_config(f'[security]\ncache_dir = "{env.root / "from-config"}"\n')
    assert env.cli("policy", "check", "--", "ls").returncode == 0
    assert (env.root / "from-config").is_dir() and cache_files(env) == []


def test_the_fast_spellings_print_what_cyclopts_would(env: Env) -> None:
    """``aios policy check ...`` skips cyclopts' parse; ``aios --no-autostart policy check ...``
    (a global option first) goes through it. Both must print and exit alike."""
    spellings = [
        ("--", "git status && rm -rf build"), ("--json", "--", "sudo rm -rf /"), ("-m", "paranoid", "cat notes"),
        ("--mode=trusted", "--", "rm", "-rf", "/"), ("--path", "/etc/shadow"), ("--path", "x", "--op", "write", "--json"),
        ("--op", "delete", "--path", "x"), (), ("--",), ("--workspace", "/tmp", "--", "rm -rf /tmp/x"),
        ("--mode", "lax", "ls"), ("two", "words"), ("cat ~/.ssh/id_rsa",), ("--json", "--json", "--", "ls"),
    ]
    for args in spellings:
        fast = env.cli("policy", "check", *args)
        slow = env.cli("--no-autostart", "policy", "check", *args)
        assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr), args


def test_plain_output_shows_control_characters_as_escapes(env: Env) -> None:
    out = env.cli("policy", "check", "--", "cp notes '/etc/a\x1b[2Jb'").stdout
    assert out.startswith("confirm (normal mode)")
    assert "\x1b" not in out and "/etc/a\\x1b[2Jb" in out

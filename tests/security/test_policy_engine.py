"""Policy API: decisions, modes, config lists, rules files, rules(), grants, check_path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aios.config import SecurityConfig
from aios.errors import ConfigError
from aios.security import Decision, Policy

HOME = Path("/home/u")
WS = HOME / "proj"
STATE = HOME / ".local/state/aios"
RUN = Path("/run/user/1000/aios")


def pol(**kw: object) -> Policy:
    return Policy(SecurityConfig(**kw), workspace=WS, home=HOME, protected_paths=[STATE, RUN])  # type: ignore[arg-type]


# ---- decisions -------------------------------------------------------------------------------


def test_decision_json_shape() -> None:
    d = pol().check_command("sudo rm -rf / && ls")
    j = d.to_json()
    assert set(j) == {"decision", "rule", "reason", "commands", "changes_system", "privileged", "targets"}
    assert j["decision"] == "block" and j["rule"] == "fs.rm-root"
    assert j["reason"] == "blocks: wholesale data loss: rm with --recursive on / (rule fs.rm-root)"
    assert j["targets"] == ["/"]
    assert j["commands"] == [["sudo", "rm", "-rf", "/"], ["ls"]]
    assert j["privileged"] is True and j["changes_system"] is True
    json.dumps(j)


def test_commands_include_text_run_by_shells() -> None:
    d = pol().check_command("bash -c 'ls -l | wc -l'")
    assert d.commands == (("bash", "-c", "ls -l | wc -l"), ("ls", "-l"), ("wc", "-l"))


def test_flags_for_recovery() -> None:
    p = pol()
    assert not p.check_command("ls").changes_system
    assert not p.check_command("rm -rf ./build").changes_system
    assert p.check_command("echo x >> /etc/hosts").changes_system
    assert p.check_command("apt install nginx").privileged
    assert p.check_command("apt install nginx").changes_system
    assert p.check_command("sudo ls /root").privileged
    assert not p.check_command("sudo ls /root").changes_system  # a read-only command under sudo
    assert p.check_command("sudo touch /x").changes_system


def test_mode_argument_overrides_config() -> None:
    p = pol(mode="normal")
    assert p.check_command("ls").action == "allow"
    assert p.check_command("ls", mode="safe").action == "confirm"
    assert p.check_command("ls", mode="paranoid").action == "confirm"
    assert p.check_command("rm -rf /", mode="trusted").action == "allow"
    with pytest.raises(ValueError):
        p.check_command("ls", mode="yolo")


def test_pure_and_repeatable() -> None:
    p = pol()
    first = p.check_command("cd /etc && rm -rf *")
    assert first == p.check_command("cd /etc && rm -rf *")
    assert p.check_command("rm -rf *").rule == "fs.rm-workspace"  # the cd of the first line did not stick


def test_deep_nesting_is_confirmed_not_crashed() -> None:
    line = "ls"
    for _ in range(20):
        line = f"bash -c {json.dumps(line)}"
    d = pol().check_command(line)
    assert d.action == "confirm" and d.rule == "parse.too-deep"


def test_empty_line_is_allowed() -> None:
    d = pol().check_command("")
    assert (d.action, d.rule, d.commands) == ("allow", "default.allow", ())


# ---- config lists --------------------------------------------------------------------------


def test_config_regex_lists_apply_on_top() -> None:
    p = pol(dangerous_patterns=[r"\bterraform\s+destroy\b"], require_confirm=[r"^git\s+rebase"])
    d = p.check_command("terraform destroy -auto-approve")
    assert (d.action, d.rule) == ("block", "config:security.dangerous_patterns[0]")
    d = p.check_command("git rebase -i HEAD~3")
    assert (d.action, d.rule) == ("confirm", "config:security.require_confirm[0]")
    assert p.check_command("git status").action == "allow"


def test_bad_config_regex_names_the_key() -> None:
    with pytest.raises(ConfigError) as e:
        pol(require_confirm=["ok", "(unclosed"])
    assert e.value.key == "security.require_confirm[1]"


def test_paranoid_uses_config_allow_list() -> None:
    p = pol(mode="paranoid", allow=["ls", "git status", "cat -n"])
    assert p.check_command("ls -la").action == "confirm"
    assert p.check_command("git status").action == "confirm"
    assert p.check_command("git log").action == "block"
    assert p.check_command("cat -n README.md").action == "confirm"
    assert p.check_command("cat README.md").action == "block"
    assert p.check_command("ls; rm x").action == "block"
    d = p.check_command("ls", mode="paranoid")
    assert d.rule == "mode.paranoid-allow"
    d = p.check_command("grep x y")
    assert d.rule == "mode.paranoid-block" and "grep" in d.reason


def test_plugin_entries_in_allow_keep_the_builtin_set() -> None:
    p = pol(mode="paranoid", allow=["tool:weather"])
    assert p.check_command("git status").action == "confirm"
    p = pol(mode="paranoid", allow=["tool:weather", "make"])
    assert p.check_command("make").action == "confirm"
    assert p.check_command("git status").action == "block"


# ---- rules file ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "rules.toml"
    f.write_text(text)
    return str(f)


def test_rules_file_extends_overrides_and_disables(tmp_path: Path) -> None:
    f = write(tmp_path, """
disable = ["svc.systemctl"]

[[rule]]
id = "local.no-terraform-destroy"
match = ["terraform", "destroy"]
action = "block"
tags = ["dangerous"]
reason = "terraform destroy is not for the model"

[[rule]]
id = "git.push-force"
match = ["git", "push"]
options = ["--force", "-f"]
action = "block"
reason = "no force pushes here"

[[path]]
id = "local.data"
class = "secret"
patterns = ["/data/**"]
reason = "customer data"
""")
    p = pol(rules_file=f)
    assert p.check_command("terraform destroy").rule == "local.no-terraform-destroy"
    assert p.check_command("terraform destroy").action == "block"
    assert p.check_command("git push -f").action == "block"
    assert p.check_command("systemctl restart nginx").action == "allow"
    assert p.check_command("cat /data/customers.csv").action == "block"
    assert p.check_path("read", "/data/x").rule == "local.data"
    by_id = {r["id"]: r for r in p.rules()}
    assert by_id["local.no-terraform-destroy"]["source"] == f
    assert by_id["git.push-force"]["source"] == f
    assert by_id["fs.rm-root"]["source"] == "built-in"
    assert "svc.systemctl" not in by_id


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[rule]]\nid='x'\nmatch=['a']\nacton='block'\n", "rule[0].acton"),
        ("[[rule]]\nid='x'\nmatch=['a']\naction='deny'\n", "rule[0].action"),
        ("[[rule]]\nid='x'\naction='block'\n", "rule[0]"),
        ("[[rule]]\nid='x'\nmatch=[]\naction='block'\n", "rule[0].match"),
        ("[[rule]]\nid='x'\neffect=['write']\ntargets=['nowhere']\naction='block'\n", "rule[0].targets"),
        ("[[path]]\nid='p'\nclass='precious'\npatterns=['/x']\n", "path[0].class"),
        ("[[path]]\nid='p'\nclass='secret'\npatterns=['relative/x']\n", "path[0].patterns[0]"),
        ("[command.rm]\neffects=[{effect='explode', operands='all'}]\n", "command.rm.effects[0].effect"),
        ("[wrapper.sudo]\nalone='party'\n", "wrapper.sudo.alone"),
        ("version = 2\n", "version"),
        ("rules = []\n", "rules"),
        ("[[rule]]\nid='a'\nmatch=['x']\naction='allow'\n[[rule]]\nid='a'\nmatch=['y']\naction='allow'\n", "rule[1].id"),
    ],
)
def test_bad_rules_file_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        pol(rules_file=f)
    assert e.value.source == f
    assert e.value.key == key
    assert f in str(e.value) and key in str(e.value)


def test_unreadable_rules_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        pol(rules_file=str(tmp_path / "missing.toml"))
    assert "missing.toml" in str(e.value)
    f = write(tmp_path, "this is = = not toml")
    with pytest.raises(ConfigError) as e:
        pol(rules_file=f)
    assert e.value.source == f and "TOML" in str(e.value)


def test_rules_listing_has_every_kind_with_sources() -> None:
    p = pol(dangerous_patterns=["x"]).with_prefix_grants([("make", "deploy")])
    rules = p.rules()
    for r in rules:
        assert {"id", "kind", "action", "reason", "source"} <= set(r)
        assert ("match" in r) or ("pattern" in r)
        assert r["action"] in ("allow", "confirm", "block")
    kinds = {r["kind"] for r in rules}
    assert kinds == {"path", "effect", "prefix", "grant", "paranoid-allow", "pattern"}
    by_id = {r["id"]: r for r in rules}
    assert by_id["path.protected"]["pattern"] == [str(STATE), f"{STATE}/**", str(RUN), f"{RUN}/**"]
    assert by_id["config:security.dangerous_patterns[0]"]["source"] == "config:security.dangerous_patterns"
    assert by_id["grant[0]"]["match"] == {"prefix": ["make", "deploy"]}
    assert by_id["git.push-force"]["match"]["prefix"] == ["git", "push"]  # type: ignore[index]


# ---- grants --------------------------------------------------------------------------------


def test_grants_allow_confirmed_prefixes_only() -> None:
    base = pol()
    p = base.with_prefix_grants([("git", "push", "--force"), ("sudo", "systemctl", "restart", "nginx")])
    assert base.check_command("git push --force").action == "confirm"
    d = p.check_command("git push --force origin main")
    assert (d.action, d.rule) == ("allow", "grant[0]")
    assert p.check_command("git push origin main").action == "allow"
    assert p.check_command("sudo systemctl restart nginx").action == "allow"
    assert p.check_command("sudo systemctl restart apache2").action == "confirm"
    assert p.check_command("sudo systemctl restart nginx").privileged


def test_grant_inside_a_wrapper_keeps_the_wrapper_question() -> None:
    p = pol().with_prefix_grants([("systemctl", "restart")])
    assert p.check_command("systemctl restart nginx").action == "allow"
    d = p.check_command("sudo systemctl restart nginx")
    assert (d.action, d.rule) == ("confirm", "priv.sudo")


def test_grants_do_not_loosen_safe_mode() -> None:
    p = pol(mode="safe").with_prefix_grants([("sudo", "systemctl", "restart", "nginx"), ("make",)])
    assert p.check_command("sudo systemctl restart nginx").action == "block"
    assert p.check_command("make").action == "confirm"


def test_grants_never_lift_blocks() -> None:
    p = pol().with_prefix_grants([("rm",), ("dd",), ("bash",)])
    assert p.check_command("rm -rf ~/projects/old").action == "allow"
    assert p.check_command("rm -rf /").action == "block"
    assert p.check_command("dd if=/dev/zero of=/dev/sda").action == "block"
    assert p.check_command("bash -c 'rm -rf /etc'").action == "block"


# ---- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "path", "normal", "safe", "paranoid"),
    [
        ("read", "~/.ssh/id_rsa", "block", "block", "block"),
        ("read", "/etc/shadow", "block", "block", "block"),
        ("read", "/home/u/.gnupg/pubring.kbx", "block", "block", "block"),
        ("read", f"{STATE}/memory.db", "block", "block", "block"),
        ("list", "~/.ssh", "block", "block", "block"),
        ("list", str(RUN), "block", "block", "block"),
        ("read", "/etc/hosts", "allow", "allow", "allow"),
        ("read", "~/.ssh/id_rsa.pub", "allow", "allow", "allow"),
        ("list", "/etc", "allow", "allow", "allow"),
        ("read", "src/main.py", "allow", "allow", "allow"),
        ("write", "src/main.py", "allow", "allow", "confirm"),
        ("write", "/home/u/proj/out.txt", "allow", "allow", "confirm"),
        ("write", "../notes.txt", "confirm", "block", "block"),
        ("write", "/tmp/x", "confirm", "block", "block"),
        ("write", "~/.bashrc", "confirm", "block", "block"),
        ("write", "/etc/hosts", "confirm", "block", "block"),
        ("write", "/etc/passwd", "block", "block", "block"),
        ("write", "~/.ssh/authorized_keys", "block", "block", "block"),
        ("write", f"{STATE}/x", "block", "block", "block"),
        ("write", "/dev/sda", "block", "block", "block"),
        ("write", "src/../../.ssh/config2", "block", "block", "block"),
    ],
)
def test_check_path(op: str, path: str, normal: str, safe: str, paranoid: str) -> None:
    p = pol()
    got = [p.check_path(op, path, mode=m).action for m in ("normal", "safe", "paranoid")]  # type: ignore[arg-type]
    assert got == [normal, safe, paranoid]
    t = p.check_path(op, path, mode="trusted")  # type: ignore[arg-type]
    assert (t.action, t.rule) == ("allow", "mode.trusted")


def test_check_path_reasons_and_flags() -> None:
    p = pol()
    d = p.check_path("read", "~/.ssh/id_rsa")
    assert d.rule == "path.secret-ssh" and "(rule path.secret-ssh)" in d.reason
    assert p.check_path("write", "/etc/hosts").changes_system
    assert not p.check_path("write", "src/x.py").changes_system
    with pytest.raises(ValueError):
        p.check_path("delete", "x")  # type: ignore[arg-type]


def test_check_path_follows_symlinks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = home / "proj"
    (home / ".ssh").mkdir(parents=True)
    ws.mkdir()
    (home / ".ssh" / "id_ed25519").write_text("secret")
    os.symlink(home / ".ssh" / "id_ed25519", ws / "innocent.txt")
    p = Policy(SecurityConfig(), workspace=ws, home=home)
    assert p.check_path("read", "innocent.txt").action == "block"
    assert p.check_path("read", str(ws / "innocent.txt")).action == "block"
    (ws / "plain.txt").write_text("ok")
    assert p.check_path("read", "plain.txt").action == "allow"


def test_without_workspace_relative_paths_are_the_workspace() -> None:
    p = Policy(SecurityConfig(), home=HOME)
    assert p.check_command("rm -rf build").action == "allow"
    assert p.check_command("rm -rf /").action == "block"
    assert p.check_path("write", "out.txt").action == "allow"


def test_decision_is_a_frozen_value() -> None:
    d = Decision("allow", "default.allow", "allows: x")
    with pytest.raises(AttributeError):
        d.action = "block"  # type: ignore[misc]


def test_random_text_never_crashes() -> None:
    import random

    rnd = random.Random(7)
    alphabet = [*list("abcrmf -/~$(){}[]|&;<>'\"`\\*?!=#\n\t"), "rm", "sudo", "-rf", "bash -c", "<<EOF", "$(", "${"]
    p = pol()
    for _ in range(2000):
        line = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        for mode in ("normal", "safe", "paranoid", "trusted"):
            d = p.check_command(line, mode=mode)
            assert d.action in ("allow", "confirm", "block")
            assert d.rule and d.reason

"""Rules carry examples that are checked when the rules load (issue 14 §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.config import SecurityConfig
from aios.errors import ConfigError
from aios.security import Policy
from aios.security._rules_toml import builtin_rules

HOME = Path("/home/u")


def build(tmp_path: Path, rules: str, **kw: object) -> Policy:
    f = tmp_path / "site-rules.toml"
    f.write_text(rules)
    return Policy(SecurityConfig(rules_file=str(f), **kw), workspace=HOME / "proj", home=HOME)  # type: ignore[arg-type]


def test_the_built_in_rules_carry_examples_for_every_class() -> None:
    ex = builtin_rules().examples
    rules = {e.rule for e in ex}
    for rid in ("secoff.firewall-ufw", "secoff.kernel-module", "secoff.sudoers-nopasswd", "net.send-http",
                "container.change", "keys.change"):
        assert rid in rules
    assert all(e.line > 0 for e in ex)  # each names the line it is written on
    Policy(SecurityConfig(), workspace=HOME / "proj", home=HOME)  # and every one holds


def test_a_failing_example_is_a_config_error_naming_file_rule_and_line(tmp_path: Path) -> None:
    text = ('version = 1\n\n[[rule]]\nid = "site.backup"\nmatch = ["backup-tool"]\noptions = ["--purge"]\n'
            'action = "confirm"\nexamples = [\n    { cmd = "backup-tool --purge all", decision = "block" },\n]\n')
    with pytest.raises(ConfigError) as err:
        build(tmp_path, text)
    msg = str(err.value)
    assert "site-rules.toml:9" in msg and "site.backup" in msg and "backup-tool --purge all" in msg
    assert err.value.key == "rule[0].examples[0]"


def test_examples_of_command_entries_and_other_modes(tmp_path: Path) -> None:
    ok = ('version = 1\n\n[command.fetch-all]\neffects = [{ effect = "write", options = ["--into"] }]\n'
          'arg_options = ["--into"]\nexamples = [\n  { cmd = "fetch-all --into /etc/x", decision = "confirm" },\n'
          '  { cmd = "fetch-all --into /etc/x", decision = "block", mode = "safe" },\n]\n')
    build(tmp_path, ok)
    bad = ok.replace('decision = "block", mode = "safe"', 'decision = "allow", mode = "safe"')
    with pytest.raises(ConfigError, match=r"command.fetch-all.*safe mode"):
        build(tmp_path, bad)
    with pytest.raises(ConfigError, match=r"mode.*'lenient'"):
        build(tmp_path, ok.replace('mode = "safe"', 'mode = "lenient"'))


def test_a_file_that_replaces_a_built_in_rule_drops_its_built_in_examples(tmp_path: Path) -> None:
    # The site decides ufw reset is only confirmed: the built-in example saying "block" no longer speaks.
    text = ('version = 1\n\n[[rule]]\nid = "secoff.firewall-ufw"\nmatch = ["ufw", ["reset"]]\naction = "confirm"\n'
            'examples = [{ cmd = "ufw reset", decision = "confirm" }]\n')
    p = build(tmp_path, text)
    assert p.check_command("ufw reset").action == "confirm"


def test_the_owners_regexes_do_not_break_built_in_examples(tmp_path: Path) -> None:
    p = Policy(SecurityConfig(dangerous_patterns=["ls"]), workspace=HOME / "proj", home=HOME)
    assert p.check_command("ls").action == "block"

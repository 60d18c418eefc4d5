"""The one option parser (``_args.split_args``) shared by programs and wrappers."""

from __future__ import annotations

from pathlib import Path

from aios.config import SecurityConfig
from aios.security import Policy
from aios.security._args import split_args
from aios.security._words import Word, literal

OPTS = frozenset({"-o", "--output", "-u", "--user"})


def words(*vals: str) -> list[Word]:
    return [literal(v) for v in vals]


def test_glued_and_separate_values() -> None:
    a = split_args(words("-vo/tmp/x", "--output=y", "-u", "bob", "file"), OPTS)
    assert [(o, w.value) for o, w in a.values] == [("-o", "/tmp/x"), ("--output", "y"), ("-u", "bob")]
    assert [w.value for w in a.operands] == ["file"]
    assert {"-v", "-o", "--output", "-u"} <= a.options


def test_a_missing_value_counts_as_given_and_consumes_nothing() -> None:
    # The chosen behaviour: the option is present (a rule on it still fires), it is listed as
    # missing, and no later word is taken as its value (the program would stop with a usage error).
    for spelling in (["-o"], ["--output"], ["-vo"]):
        a = split_args(words(*spelling), OPTS)
        assert a.missing and a.missing[0] in ("-o", "--output")
        assert {"-o", "--output"} & a.options
        assert a.values == ()


def test_double_dash_ends_options() -> None:
    a = split_args(words("--", "-o", "x"), OPTS)
    assert a.values == () and [w.value for w in a.operands] == ["-o", "x"]


def test_wrapper_mode_stops_at_the_command() -> None:
    a = split_args(words("-u", "root", "rm", "-o", "x"), OPTS, stop_after=0)
    assert [(o, w.value) for o, w in a.values] == [("-u", "root")]
    assert [w.value for w in a.rest] == ["rm", "-o", "x"]
    a = split_args(words("A=1", "5s", "rm", "-rf"), OPTS, stop_after=1, assignments=True)
    assert [w.value for w in a.operands] == ["5s"] and [w.value for w in a.rest] == ["rm", "-rf"]


def test_programs_and_wrappers_agree_on_a_missing_value(tmp_path: Path) -> None:
    p = Policy(SecurityConfig(), workspace=tmp_path, home=tmp_path)
    # `sudo -u` with nothing after it runs no command: still privileged (confirmed), never allowed.
    assert p.check_command("sudo -u").action == "confirm"
    # `timeout -s` ending the line: nothing runs, nothing is taken for the command.
    assert p.check_command("timeout -s").action == "allow"
    # A missing value never swallows the command that follows in the same line.
    assert p.check_command("sudo -u; rm -rf /").action == "block"

"""The shell walk: simple commands, unquoting, run-time words, stdin sources."""

from __future__ import annotations

from aios.security._parse import DYN, expand_braces, parse


def argvs(line: str) -> list[tuple[str, ...]]:
    return [c.argv for c in parse(line).commands]


def values(line: str, i: int = 0) -> list[tuple[str, ...]]:
    return [w.values for w in parse(line).commands[i].words]


def test_every_simple_command_in_lists_pipes_and_substitutions() -> None:
    line = "a 1 && b 2 || c; d | e & (f) ; { g; } ; h $(i) <(j)"
    names = sorted(argv[0] for argv in argvs(line))
    assert names == list("abcdefghij")


def test_unquoting_joins_quoted_pieces_and_escapes() -> None:
    assert argvs("r''m -rf /")[0] == ("rm", "-rf", "/")
    assert argvs('"r"m x')[0] == ("rm", "x")
    assert argvs(r"\r\m x")[0] == ("rm", "x")
    assert argvs("$'\\x72\\x6d' x")[0] == ("rm", "x")
    assert argvs('echo "a\\"b"')[0] == ("echo", 'a"b')


def test_variables_assigned_earlier_are_substituted() -> None:
    p = parse("x=rm; $x -rf /")
    assert p.commands[0].words[0].values == ("rm",)
    assert not p.commands[0].words[0].dynamic


def test_unknown_expansions_are_dynamic() -> None:
    w = parse("$CMD -x").commands[0].words[0]
    assert w.dynamic and w.values == (DYN,)
    w = parse("${x:-rm} -x").commands[0].words[0]
    assert w.values == ("rm",)  # the jail clears the environment: the default is what runs
    w = parse("x=ls; ${x:-rm} -x").commands[-1].words[0]
    assert w.values == ("ls",)


def test_home_expansions_become_tilde() -> None:
    assert values("rm $HOME/a ${HOME} ~/b ~root/c")[1:] == [("~/a",), ("~",), ("~/b",), ("/root/c",)]
    assert values('rm "~"')[1] == ("./~",)  # quoted ~ is a file named ~


def test_brace_expansion_and_loop_values_give_alternatives() -> None:
    assert values("rm -rf /{etc,usr}")[2] == ("/etc", "/usr")
    assert expand_braces("a{1..3}b") == ["a1b", "a2b", "a3b"]
    p = parse("for d in /etc /usr; do rm -rf $d; done")
    assert p.commands[0].words[2].values == ("/etc", "/usr")


def test_literal_command_substitution_is_resolved() -> None:
    assert values("$(echo rm) -rf /", 1)[0] == ("rm",)  # commands[0] is the echo inside
    assert values("`which rm` x", 1)[0] == ("rm",)
    assert parse("$(cat f) x").commands[1].words[0].dynamic


def test_globs_are_marked() -> None:
    p = parse("rm /* 'a*'")
    assert p.commands[0].words[1].glob
    assert not p.commands[0].words[2].glob


def test_heredoc_herestring_and_pipe_sources() -> None:
    p = parse("cat <<EOF | sh\nrm -rf /\nEOF")
    cat, sh = p.commands
    assert cat.stdin is not None and cat.stdin.text == "rm -rf /\n"
    assert sh.stdin is not None and sh.stdin.kind == "pipe" and sh.stdin.source is cat
    p = parse("bash <<< 'ls'")
    assert p.commands[0].stdin is not None and p.commands[0].stdin.text == "ls"


def test_redirections() -> None:
    c = parse("echo a 2>&1 > /dev/null >> /etc/x < in").commands[0]
    ops = [(r.op, r.target.value if r.target else None, r.writes) for r in c.redirects]
    assert ops == [(">&", None, False), (">", "/dev/null", True), (">>", "/etc/x", True), ("<", "in", False)]


def test_syntax_errors_and_fork_bombs_are_reported() -> None:
    assert parse("echo 'unterminated").error
    assert not parse("echo ok").error
    assert parse(":(){ :|:& };:").fork_bombs == (":",)
    assert parse("f() { echo; }; f").fork_bombs == ()


def test_ifs_splits_unquoted_expansions_on_its_own_characters() -> None:
    p = parse("IFS=,; x=rm,-rf,/; $x")
    assert [w.value for w in p.commands[-1].words] == ["rm", "-rf", "/"]
    p = parse('IFS=,; x=rm,-rf,/; "$x"')
    assert [w.value for w in p.commands[-1].words] == ["rm,-rf,/"]
    p = parse("IFS=$1; x=rm; $x")
    assert p.commands[-1].words[0].dynamic

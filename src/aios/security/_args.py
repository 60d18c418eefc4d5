"""One option parser for every program and wrapper: options, their values, operands.

Programs are described in rules.toml by which options take a value (``arg_options``); the rest
follows getopt conventions: ``-abc`` is three flags unless one of them takes a value, which is
then the rest of the word or the next word; ``--opt=VALUE`` or ``--opt VALUE``; ``--`` ends the
options; ``-5`` (a number) is a flag.

A value-taking option at the end of the line has no value: it is still counted as given (so a
rule on it still fires) and is listed in ``missing``. The program itself would refuse to run
with a usage error, so nothing is assumed to be consumed — judging the words as they are is
never looser than what runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._words import DYN, Word, literal


class Args(NamedTuple):
    """A command's arguments split by its description.

    Attributes:
        options: every option given (``-a``, ``--all``; letters of ``-abc`` one by one).
        operands: the words that are not options or option values.
        values: (option, value) pairs, in order.
        option_words: the words that held options, as written.
        missing: value-taking options that ended the line without their value.
        rest: for wrappers (``stop_after`` given): the wrapped command and its words.
    """

    options: frozenset[str]
    operands: tuple[Word, ...]
    values: tuple[tuple[str, Word], ...]
    option_words: tuple[Word, ...] = ()
    missing: tuple[str, ...] = ()
    rest: tuple[Word, ...] = ()


def split_args(
    args: Sequence[Word],
    arg_options: frozenset[str],
    *,
    single_dash_long: bool = False,
    stop_after: int | None = None,
    assignments: bool = False,
    numeric: bool = False,
) -> Args:
    """Split ``args`` into options, values and operands.

    Args:
        args: the words after the program name.
        arg_options: options that take a value.
        single_dash_long: ``-name VALUE`` style (find, java): ``-abc`` is one option.
        stop_after: for wrappers: after this many operands the next operand starts the wrapped
            command (``rest``); a run-time word there also starts it. None: never stop.
        assignments: ``VAR=value`` words before the command are skipped (env).
        numeric: ``--5`` is a number option too (nice).
    """
    opts: set[str] = set()
    operands: list[Word] = []
    values: list[tuple[str, Word]] = []
    option_words: list[Word] = []
    missing: list[str] = []
    i = 0
    n = len(args)
    end = False
    while i < n:
        w = args[i]
        v = w.value
        is_option = not end and len(v) >= 2 and v.startswith("-") and not v.startswith(DYN)
        if stop_after is not None:
            if v == "--" and not end:
                return Args(frozenset(opts), tuple(operands), tuple(values), tuple(option_words), tuple(missing),
                            tuple(args[i + 1 :]))
            if assignments and not is_option and _is_assignment(v):
                i += 1
                continue
            if not is_option or w.dynamic:
                if len(operands) >= stop_after:
                    return Args(frozenset(opts), tuple(operands), tuple(values), tuple(option_words),
                                tuple(missing), tuple(args[i:]))
                operands.append(w)
                i += 1
                continue
        i += 1
        if not is_option:
            operands.append(w)
            continue
        if v == "--":
            end = True
            continue
        option_words.append(w)
        opts.add(v)
        if v[1:].isdigit() or (numeric and v[1:].lstrip("-").isdigit()):
            continue
        if v.startswith("--") or single_dash_long or (v in arg_options and len(v) > 2):
            name, eq, val = v.partition("=") if v.startswith("--") or single_dash_long else (v, "", "")
            opts.add(name)
            if eq:
                values.append((name, literal(val)))
            elif name in arg_options:
                if i < n:
                    values.append((name, args[i]))
                    i += 1
                else:
                    missing.append(name)
            continue
        letters = v[1:]
        for j, ch in enumerate(letters):
            o = "-" + ch
            opts.add(o)
            if o in arg_options:
                tail = letters[j + 1 :]
                if tail:
                    values.append((o, literal(tail)))
                elif i < n:
                    values.append((o, args[i]))
                    i += 1
                else:
                    missing.append(o)
                break
    return Args(frozenset(opts), tuple(operands), tuple(values), tuple(option_words), tuple(missing))


def _is_assignment(v: str) -> bool:
    name, eq, _ = v.partition("=")
    return bool(eq) and bool(name) and (name[0].isalpha() or name[0] == "_") and name.replace("_", "a").isalnum()

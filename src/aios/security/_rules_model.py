"""The rules as values: path, prefix and effect rules, program descriptions, the rule set.

Everything here is data; what it means for a command is decided by the judge (``_judge.py``).
Reading rules.toml into these values is ``_rules_toml.py``. The values are ``NamedTuple``s, not
attrs classes: ``aios policy check`` imports this module on every run, and an attrs class costs
about a millisecond to create (``PrefixRule``, which computes its own fields, stays attrs).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from attrs import field, frozen

from ._decision import Action

BUILTIN = "built-in"

PATH_CLASSES: tuple[str, ...] = (
    "protected", "secret", "traces", "switch", "network", "device", "critical", "root", "holder", "workspace-top", "workspace",
    "scratch", "top", "system", "sysdata", "home", "outside", "unknown",
)
EFFECTS: tuple[str, ...] = ("delete", "write", "modify", "format", "read")
OPERAND_SELECTORS: tuple[str, ...] = ("all", "last", "all-but-last", "first", "after-first", "after-script")
TAGS: tuple[str, ...] = ("dangerous", "destructive", "privileged", "system", "secret", "dynamic")

Token = tuple[str, ...] | None
"""One position of a prefix: alternatives, or None for any word ("*")."""


class PathRule(NamedTuple):
    id: str
    cls: str
    patterns: tuple[str, ...]
    reason: str
    source: str = BUILTIN


@frozen
class PrefixRule:
    """A prefix rule: ``match`` against the program name and operands, options refine it."""

    id: str
    match: tuple[Token, ...]
    action: Action
    reason: str
    tags: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    options_all: frozenset[str] = frozenset()
    not_options: frozenset[str] = frozenset()
    args_any: tuple[str, ...] = ()
    args_any_not: tuple[str, ...] = ()
    operands_max: int | None = None
    source: str = BUILTIN
    _compiled: tuple[tuple[frozenset[str], tuple[str, ...]] | None, ...] | None = field(init=False, eq=False,
                                                                                          repr=False)
    _globs: tuple[re.Pattern[str] | None, re.Pattern[str] | None] | None = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Both are worked out on first use: most rules never meet their program, and every
        # policy check builds all of them (from the cache).
        object.__setattr__(self, "_compiled", None)
        object.__setattr__(self, "_globs", None)

    def _words(self) -> tuple[tuple[frozenset[str], tuple[str, ...]] | None, ...]:
        """Per position of ``match``: (plain words, glob words), or None for any word."""
        compiled: list[tuple[frozenset[str], tuple[str, ...]] | None] = []
        for alts in self.match:
            if alts is None:
                compiled.append(None)
                continue
            globs = tuple(a for a in alts if _is_glob(a))
            compiled.append((frozenset(a for a in alts if a not in globs), globs))
        object.__setattr__(self, "_compiled", tuple(compiled))
        return tuple(compiled)

    @property
    def specificity(self) -> tuple[int, int]:
        conditions = sum(
            bool(x)
            for x in (self.options, self.options_all, self.not_options, self.args_any, self.args_any_not)
        ) + (self.operands_max is not None)
        return (len(self.match), conditions)

    def matches(self, tokens: list[str], options: set[str], args: list[str]) -> str | None:
        """The option or word that made it match ("" when none did), or None if it does not."""
        if len(tokens) < len(self.match):
            return None
        for tok, comp in zip(tokens, self._compiled or self._words(), strict=False):
            if comp is not None and tok not in comp[0] and not any(fnmatch.fnmatchcase(tok, g) for g in comp[1]):
                return None
        if self.operands_max is not None and len(tokens) - 1 > self.operands_max:
            return None
        if self.not_options and self.not_options & options:
            return None
        if self.options_all and not self.options_all <= options:
            return None
        if self._globs is None:
            # One regex per glob list: rules with `match = ["*"]` are tried for every command.
            object.__setattr__(self, "_globs", (_globs(self.args_any), _globs(self.args_any_not)))
        any_, any_not = self._globs  # type: ignore[misc]
        if any_not is not None and any(any_not.fullmatch(a) for a in args):
            return None
        hit = ""
        if self.options:
            found = sorted(self.options & options)
            if not found:
                return None
            hit = found[0]
        if any_ is not None:
            word = next((a for a in args if any_.fullmatch(a)), None)
            if word is None:
                return None
            hit = hit or word
        return hit

    def first_names(self) -> tuple[str, ...] | None:
        return self.match[0] if self.match else None


def _is_glob(word: str) -> bool:
    # Three `in` tests, not a generator: every policy built runs this for every rule word.
    return "*" in word or "?" in word or "[" in word


def _globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.S)


class EffectRule(NamedTuple):
    id: str
    effects: frozenset[str]
    targets: frozenset[str]
    action: Action
    reason: str
    tags: frozenset[str] = frozenset()
    recursive: bool | None = None
    source: str = BUILTIN


class EffectSpec(NamedTuple):
    """Which words of a command an effect applies to."""

    effect: str
    operands: str | None = None
    options: tuple[str, ...] = ()
    kv: tuple[str, ...] = ()
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


class CommandSpec(NamedTuple):
    name: str
    aliases: tuple[str, ...] = ()
    arg_options: frozenset[str] = frozenset()
    single_dash_long: bool = False
    recursive: tuple[str, ...] = ()
    always_recursive: bool = False
    effects: tuple[EffectSpec, ...] = ()
    secret_ok: bool = False
    secret_ok_options: frozenset[str] = frozenset()
    no_read: bool = False
    script_options: frozenset[str] = frozenset()
    mode_operand: bool = False
    command_options: tuple[str, ...] = ()
    """Options whose value is a command line the program runs (``OPT``, or ``OPT=PREFIX``: only
    values starting with PREFIX, which is removed: tar's ``--checkpoint-action=exec=CMD``)."""
    setting_options: frozenset[str] = frozenset()
    """Options whose value is ``KEY=VALUE`` or ``KEY VALUE`` (ssh -o, git -c)."""
    command_keys: tuple[str, ...] = ()
    """Setting keys (case-insensitive globs) whose value is a command line the program runs."""


class WrapperSpec(NamedTuple):
    name: str
    aliases: tuple[str, ...] = ()
    arg_options: frozenset[str] = frozenset()
    positionals: int = 0
    string_options: frozenset[str] = frozenset()
    split_options: frozenset[str] = frozenset()
    joins: bool = False
    appends: bool = False
    replace_options: frozenset[str] = frozenset()
    separators: tuple[str, ...] = ()
    privileged: bool = False
    no_command: frozenset[str] = frozenset()
    no_positional_command: bool = False
    alone: str = "nothing"
    assignments: bool = False
    numeric_option: bool = False
    read_options: frozenset[str] = frozenset()
    shell_args: bool = False
    placeholder: str = ""
    """A placeholder the wrapper always replaces with each input (``parallel 'rm {}' ::: x``)."""


class InterpreterSpec(NamedTuple):
    language: str
    names: tuple[str, ...]
    code_options: frozenset[str] = frozenset()
    arg_options: frozenset[str] = frozenset()
    module_option: str | None = None
    inplace_options: frozenset[str] = frozenset()
    file_options: frozenset[str] = frozenset()
    program_operand: bool = False


class Table(NamedTuple):
    """Name → spec, with glob names (``mkfs.*``) tried in order after exact names."""

    exact: Mapping[str, Any]
    globs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def build(cls, specs: Iterable[Any]) -> Table:
        exact: dict[str, Any] = {}
        globs: list[tuple[str, Any]] = []
        for spec in specs:
            names = (spec.name, *spec.aliases) if hasattr(spec, "name") else spec.names
            for n in names:
                if _is_glob(n):
                    globs.append((n, spec))
                else:
                    exact[n] = spec
        return cls(exact, tuple(globs))

    def get(self, name: str) -> Any:
        hit = self.exact.get(name)
        if hit is not None:
            return hit
        for pattern, spec in self.globs:
            if fnmatch.fnmatchcase(name, pattern):
                return spec
        return None


class Example(NamedTuple):
    """A command line a rule documents, with the decision it must get (checked when rules load).

    Attributes:
        cmd: the command line.
        decision: ``allow``, ``confirm`` or ``block``.
        mode: the mode it is judged in (default normal).
        rule: the id (or ``command.NAME``) of the entry that carries it.
        key: the key path of the example (``rule[12].examples[0]``).
        source: the rules file (``built-in`` for rules.toml).
        line: the line of the file it is written on (0 when unknown).
    """

    cmd: str
    decision: Action
    mode: str
    rule: str
    key: str
    source: str = BUILTIN
    line: int = 0


class RuleSet(NamedTuple):
    """All rules in force, with where each came from."""

    paths: tuple[PathRule, ...]
    prefixes: tuple[PrefixRule, ...]
    effects: tuple[EffectRule, ...]
    commands: Mapping[str, CommandSpec]
    wrappers: Mapping[str, WrapperSpec]
    shells: frozenset[str]
    shell_arg_options: frozenset[str]
    interpreters: Mapping[str, InterpreterSpec]
    readonly: tuple[PrefixRule, ...]
    command_table: Table
    wrapper_table: Table
    interpreter_table: Table
    prefix_index: Mapping[str, tuple[PrefixRule, ...]]
    """First token → the prefix rules that can match it ("*" holds rules starting with a glob)."""
    readonly_index: Mapping[str, tuple[PrefixRule, ...]]
    examples: tuple[Example, ...] = ()
    """Examples carried by the rules, checked when a policy is built from them."""

    def command(self, name: str) -> CommandSpec | None:
        spec: CommandSpec | None = self.command_table.get(name)
        return spec

    def wrapper(self, name: str) -> WrapperSpec | None:
        spec: WrapperSpec | None = self.wrapper_table.get(name)
        return spec

    def interpreter(self, name: str) -> InterpreterSpec | None:
        spec: InterpreterSpec | None = self.interpreter_table.get(name)
        return spec

    def prefix_candidates(self, name: str) -> tuple[PrefixRule, ...]:
        return self.prefix_index.get(name, ()) + self.prefix_index.get("*", ())

    def readonly_candidates(self, name: str) -> tuple[PrefixRule, ...]:
        return self.readonly_index.get(name, ()) + self.readonly_index.get("*", ())


def _first_index(rules: Iterable[PrefixRule]) -> dict[str, tuple[PrefixRule, ...]]:
    index: dict[str, list[PrefixRule]] = {}
    for r in rules:
        first = r.first_names()
        if first is None or any(_is_glob(a) for a in first):
            index.setdefault("*", []).append(r)
        else:
            for a in first:
                index.setdefault(a, []).append(r)
    return {k: tuple(v) for k, v in index.items()}


def make_ruleset(
    paths: Iterable[PathRule],
    prefixes: Iterable[PrefixRule],
    effects: Iterable[EffectRule],
    commands: Mapping[str, CommandSpec],
    wrappers: Mapping[str, WrapperSpec],
    shells: frozenset[str],
    shell_arg_options: frozenset[str],
    interpreters: Mapping[str, InterpreterSpec],
    readonly: Iterable[PrefixRule],
    examples: Iterable[Example] = (),
) -> RuleSet:
    """A :class:`RuleSet` with its lookup tables built."""
    prefixes = tuple(prefixes)
    readonly = tuple(readonly)
    return RuleSet(
        tuple(paths), prefixes, tuple(effects), dict(commands), dict(wrappers), shells,
        shell_arg_options, dict(interpreters), tuple(readonly),
        Table.build(commands.values()), Table.build(wrappers.values()),
        Table.build(interpreters.values()), _first_index(prefixes), _first_index(readonly), tuple(examples),
    )




def with_extra_prefixes(rules: RuleSet, extra: Iterable[PrefixRule]) -> RuleSet:
    """The same rules plus more prefix rules (person-typed grants)."""
    return make_ruleset(
        rules.paths, (*rules.prefixes, *extra), rules.effects, rules.commands, rules.wrappers,
        rules.shells, rules.shell_arg_options, rules.interpreters, rules.readonly, rules.examples,
    )


def with_readonly(rules: RuleSet, readonly: Iterable[PrefixRule]) -> RuleSet:
    """The same rules with another paranoid allow list."""
    readonly = tuple(readonly)
    return rules._replace(readonly=readonly, readonly_index=_first_index(readonly))


# ---- path patterns ------------------------------------------------------------------------


def prefix_rule_from_words(words: Sequence[str], rid: str, source: str, reason: str) -> PrefixRule:
    """An allow rule for a prefix a person typed (``make test``, ``git -C``): words after the
    first that start with ``-`` are options the command must carry, the others match in order."""
    match: list[tuple[str, ...]] = []
    opts: list[str] = []
    for i, w in enumerate(words):
        if i > 0 and w.startswith("-"):
            opts.append(w)
        else:
            match.append((w,))
    if not match:
        raise ValueError("empty prefix")
    return PrefixRule(rid, tuple(match), "allow", reason, frozenset(), frozenset(), frozenset(opts), source=source)

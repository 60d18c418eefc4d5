"""Rules: the built-in rules.toml, an optional user rules file on top, and path matching.

Everything here is data: the engine (``_engine.py``) decides what the data means for a command.
A rules file is validated as a whole; any problem is a :class:`~aios.errors.ConfigError` that
names the file and the key path (``rule[3].action``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from attrs import evolve, field, frozen

from aios.errors import ConfigError

from ._decision import ACTIONS, Action

BUILTIN = "built-in"

PATH_CLASSES: tuple[str, ...] = (
    "protected", "secret", "network", "device", "critical", "root", "workspace-top", "workspace", "scratch",
    "system", "sysdata", "home", "outside", "unknown",
)
EFFECTS: tuple[str, ...] = ("delete", "write", "modify", "format", "read")
OPERAND_SELECTORS: tuple[str, ...] = ("all", "last", "all-but-last", "first", "after-first", "after-script")
TAGS: tuple[str, ...] = ("dangerous", "destructive", "privileged", "system", "secret", "dynamic")

Token = tuple[str, ...] | None
"""One position of a prefix: alternatives, or None for any word ("*")."""


@frozen
class PathRule:
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
    _compiled: tuple[tuple[frozenset[str], tuple[str, ...]] | None, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        compiled: list[tuple[frozenset[str], tuple[str, ...]] | None] = []
        for alts in self.match:
            if alts is None:
                compiled.append(None)
                continue
            globs = tuple(a for a in alts if any(c in a for c in "*?["))
            compiled.append((frozenset(a for a in alts if a not in globs), globs))
        object.__setattr__(self, "_compiled", tuple(compiled))

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
        for tok, comp in zip(tokens, self._compiled, strict=False):
            if comp is not None and tok not in comp[0] and not any(fnmatch.fnmatchcase(tok, g) for g in comp[1]):
                return None
        if self.operands_max is not None and len(tokens) - 1 > self.operands_max:
            return None
        if self.not_options and self.not_options & options:
            return None
        if self.options_all and not self.options_all <= options:
            return None
        if self.args_any_not and any(fnmatch.fnmatchcase(a, p) for a in args for p in self.args_any_not):
            return None
        hit = ""
        if self.options:
            found = sorted(self.options & options)
            if not found:
                return None
            hit = found[0]
        if self.args_any:
            words = [a for a in args if any(fnmatch.fnmatchcase(a, p) for p in self.args_any)]
            if not words:
                return None
            hit = hit or words[0]
        return hit

    def first_names(self) -> tuple[str, ...] | None:
        return self.match[0] if self.match else None


@frozen
class EffectRule:
    id: str
    effects: frozenset[str]
    targets: frozenset[str]
    action: Action
    reason: str
    tags: frozenset[str] = frozenset()
    recursive: bool | None = None
    source: str = BUILTIN


@frozen
class EffectSpec:
    """Which words of a command an effect applies to."""

    effect: str
    operands: str | None = None
    options: tuple[str, ...] = ()
    kv: tuple[str, ...] = ()
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


@frozen
class CommandSpec:
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


@frozen
class WrapperSpec:
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


@frozen
class InterpreterSpec:
    language: str
    names: tuple[str, ...]
    code_options: frozenset[str] = frozenset()
    arg_options: frozenset[str] = frozenset()
    module_option: str | None = None
    inplace_options: frozenset[str] = frozenset()
    file_options: frozenset[str] = frozenset()
    program_operand: bool = False


@frozen
class Table:
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
                if any(c in n for c in "*?["):
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


@frozen
class RuleSet:
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
        if first is None or any(any(c in a for c in "*?[") for a in first):
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
) -> RuleSet:
    """A :class:`RuleSet` with its lookup tables built."""
    prefixes = tuple(prefixes)
    readonly = tuple(readonly)
    return RuleSet(
        tuple(paths), prefixes, tuple(effects), dict(commands), dict(wrappers), shells,
        shell_arg_options, dict(interpreters), tuple(readonly),
        Table.build(commands.values()), Table.build(wrappers.values()),
        Table.build(interpreters.values()), _first_index(prefixes), _first_index(readonly),
    )


# ---- loading and validation ---------------------------------------------------------------


class _Reader:
    """Reads one rules document, raising ConfigError that names the file and key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {problem}", source=self.source, key=key)

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return value

    def keys(self, d: Mapping[str, Any], key: str, allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = set(allowed)
        for k in d:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for k in required:
            if k not in d:
                raise self.fail(f"{key}.{k}" if key else k, "missing")

    def str_(self, d: Mapping[str, Any], k: str, key: str, default: str | None = None) -> str:
        v = d.get(k, default)
        if not isinstance(v, str):
            raise self.fail(f"{key}.{k}", f"expected a string, got {type(v).__name__}")
        return v

    def bool_(self, d: Mapping[str, Any], k: str, key: str, default: bool = False) -> bool:
        v = d.get(k, default)
        if not isinstance(v, bool):
            raise self.fail(f"{key}.{k}", f"expected true or false, got {v!r}")
        return v

    def int_(self, d: Mapping[str, Any], k: str, key: str, default: int | None = None) -> int | None:
        v = d.get(k, default)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise self.fail(f"{key}.{k}", f"expected a non-negative integer, got {v!r}")
        return v

    def strs(self, d: Mapping[str, Any], k: str, key: str, choices: Iterable[str] | None = None) -> tuple[str, ...]:
        v = d.get(k, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(f"{key}.{k}", "expected a list of strings")
        if choices is not None:
            allowed = set(choices)
            for x in v:
                if x not in allowed:
                    raise self.fail(f"{key}.{k}", f"{x!r} is not one of {', '.join(sorted(allowed))}")
        return tuple(v)

    def action(self, d: Mapping[str, Any], key: str) -> Action:
        a = self.str_(d, "action", key)
        if a not in ACTIONS:
            raise self.fail(f"{key}.action", f"{a!r} is not one of allow, confirm, block")
        return a  # type: ignore[return-value]

    def match(self, d: Mapping[str, Any], key: str) -> tuple[Token, ...]:
        v = d.get("match")
        if not isinstance(v, list) or not v:
            raise self.fail(f"{key}.match", "expected a non-empty list of words (a word may be a list of alternatives)")
        out: list[Token] = []
        for i, tok in enumerate(v):
            if tok == "*":
                out.append(None)
            elif isinstance(tok, str) and tok:
                out.append((tok,))
            elif isinstance(tok, list) and tok and all(isinstance(x, str) and x for x in tok):
                out.append(tuple(tok))
            else:
                raise self.fail(f"{key}.match[{i}]", "expected a word or a non-empty list of words")
        return tuple(out)

    # -- sections --

    def path_rule(self, d: Any, key: str) -> PathRule:
        d = self.table(d, key)
        self.keys(d, key, ("id", "class", "patterns", "reason"), ("id", "class", "patterns"))
        cls = self.str_(d, "class", key)
        if cls not in PATH_CLASSES or cls == "unknown":
            raise self.fail(f"{key}.class", f"{cls!r} is not a path class ({', '.join(PATH_CLASSES[:-1])})")
        patterns = self.strs(d, "patterns", key)
        for i, p in enumerate(patterns):
            if not (p.startswith(("/", "~", "**")) or p == ""):
                raise self.fail(f"{key}.patterns[{i}]", f"{p!r} must start with /, ~ or **")
        return PathRule(self.str_(d, "id", key), cls, patterns, self.str_(d, "reason", key, ""), self.source)

    def rule(self, d: Any, key: str) -> PrefixRule | EffectRule:
        d = self.table(d, key)
        if ("match" in d) == ("effect" in d):
            raise self.fail(key, "a rule needs exactly one of `match` (prefix rule) or `effect` (effect rule)")
        tags = frozenset(self.strs(d, "tags", key, TAGS))
        if "effect" in d:
            self.keys(d, key, ("id", "effect", "targets", "recursive", "action", "reason", "tags"),
                      ("id", "effect", "targets", "action"))
            rec = d.get("recursive")
            if rec is not None and not isinstance(rec, bool):
                raise self.fail(f"{key}.recursive", f"expected true or false, got {rec!r}")
            return EffectRule(
                self.str_(d, "id", key), frozenset(self.strs(d, "effect", key, EFFECTS)),
                frozenset(self.strs(d, "targets", key, PATH_CLASSES)), self.action(d, key),
                self.str_(d, "reason", key, ""), tags, rec, self.source,
            )
        self.keys(d, key, ("id", "match", "options", "options_all", "not_options", "args_any", "args_any_not",
                           "operands_max", "action", "reason", "tags"), ("id", "match", "action"))
        return PrefixRule(
            self.str_(d, "id", key), self.match(d, key), self.action(d, key),
            self.str_(d, "reason", key, ""), tags, frozenset(self.strs(d, "options", key)),
            frozenset(self.strs(d, "options_all", key)), frozenset(self.strs(d, "not_options", key)),
            self.strs(d, "args_any", key), self.strs(d, "args_any_not", key),
            self.int_(d, "operands_max", key), self.source,
        )

    def readonly(self, d: Any, key: str) -> PrefixRule:
        d = self.table(d, key)
        self.keys(d, key, ("match", "options", "options_all", "not_options", "args_any", "args_any_not", "operands_max"), ("match",))
        return PrefixRule(
            f"readonly[{key.rpartition('[')[2].rstrip(']')}]", self.match(d, key), "allow", "read-only command",
            frozenset(), frozenset(self.strs(d, "options", key)), frozenset(self.strs(d, "options_all", key)),
            frozenset(self.strs(d, "not_options", key)), self.strs(d, "args_any", key),
            self.strs(d, "args_any_not", key), self.int_(d, "operands_max", key), self.source,
        )

    def effect_spec(self, d: Any, key: str) -> EffectSpec:
        d = self.table(d, key)
        self.keys(d, key, ("effect", "operands", "options", "kv", "when", "unless"), ("effect",))
        eff = self.str_(d, "effect", key)
        if eff not in EFFECTS:
            raise self.fail(f"{key}.effect", f"{eff!r} is not one of {', '.join(EFFECTS)}")
        ops = d.get("operands")
        if ops is not None and ops not in OPERAND_SELECTORS:
            raise self.fail(f"{key}.operands", f"{ops!r} is not one of {', '.join(OPERAND_SELECTORS)}")
        spec = EffectSpec(eff, ops, self.strs(d, "options", key), self.strs(d, "kv", key),
                          self.strs(d, "when", key), self.strs(d, "unless", key))
        if spec.operands is None and not spec.options and not spec.kv:
            raise self.fail(key, "an effect needs `operands`, `options` or `kv`")
        return spec

    def command(self, name: str, d: Any, key: str) -> CommandSpec:
        d = self.table(d, key)
        self.keys(d, key, ("aliases", "arg_options", "single_dash_long", "recursive", "always_recursive", "effects",
                           "secret_ok", "secret_ok_options", "no_read", "script_options", "mode_operand",
                           "command_options", "setting_options", "command_keys"))
        effects = d.get("effects", [])
        if not isinstance(effects, list):
            raise self.fail(f"{key}.effects", "expected a list of tables")
        return CommandSpec(
            name, self.strs(d, "aliases", key), frozenset(self.strs(d, "arg_options", key)),
            self.bool_(d, "single_dash_long", key), self.strs(d, "recursive", key),
            self.bool_(d, "always_recursive", key),
            tuple(self.effect_spec(e, f"{key}.effects[{i}]") for i, e in enumerate(effects)),
            self.bool_(d, "secret_ok", key), frozenset(self.strs(d, "secret_ok_options", key)),
            self.bool_(d, "no_read", key), frozenset(self.strs(d, "script_options", key)),
            self.bool_(d, "mode_operand", key), self.strs(d, "command_options", key),
            frozenset(self.strs(d, "setting_options", key)), self.strs(d, "command_keys", key),
        )

    def wrapper(self, name: str, d: Any, key: str) -> WrapperSpec:
        d = self.table(d, key)
        self.keys(d, key, ("aliases", "arg_options", "positionals", "string_options", "split_options", "joins",
                           "appends", "replace_options", "separators", "privileged", "no_command",
                           "no_positional_command", "alone", "assignments", "numeric_option", "read_options",
                           "shell_args"))
        alone = self.str_(d, "alone", key, "nothing")
        if alone not in ("nothing", "root-shell"):
            raise self.fail(f"{key}.alone", f"{alone!r} is not one of nothing, root-shell")
        return WrapperSpec(
            name, self.strs(d, "aliases", key), frozenset(self.strs(d, "arg_options", key)),
            self.int_(d, "positionals", key, 0) or 0, frozenset(self.strs(d, "string_options", key)),
            frozenset(self.strs(d, "split_options", key)), self.bool_(d, "joins", key),
            self.bool_(d, "appends", key), frozenset(self.strs(d, "replace_options", key)),
            self.strs(d, "separators", key), self.bool_(d, "privileged", key),
            frozenset(self.strs(d, "no_command", key)), self.bool_(d, "no_positional_command", key),
            alone, self.bool_(d, "assignments", key), self.bool_(d, "numeric_option", key),
            frozenset(self.strs(d, "read_options", key)), self.bool_(d, "shell_args", key),
        )

    def interpreter(self, language: str, d: Any, key: str) -> InterpreterSpec:
        d = self.table(d, key)
        self.keys(d, key, ("names", "code_options", "arg_options", "module_option", "inplace_options",
                           "file_options", "program_operand"), ("names",))
        mod = d.get("module_option")
        if mod is not None and not isinstance(mod, str):
            raise self.fail(f"{key}.module_option", "expected a string")
        return InterpreterSpec(
            language, self.strs(d, "names", key), frozenset(self.strs(d, "code_options", key)),
            frozenset(self.strs(d, "arg_options", key)), mod, frozenset(self.strs(d, "inplace_options", key)),
            frozenset(self.strs(d, "file_options", key)), self.bool_(d, "program_operand", key),
        )


_TOP_KEYS = ("version", "path", "rule", "command", "wrapper", "shells", "interpreters", "readonly", "disable")


@frozen
class _Doc:
    paths: tuple[PathRule, ...]
    rules: tuple[PrefixRule | EffectRule, ...]
    commands: dict[str, CommandSpec]
    wrappers: dict[str, WrapperSpec]
    shells: tuple[str, ...]
    shell_arg_options: tuple[str, ...]
    interpreters: dict[str, InterpreterSpec]
    readonly: tuple[PrefixRule, ...]
    disable: tuple[str, ...]


def _read_doc(data: Mapping[str, Any], source: str) -> _Doc:
    r = _Reader(source)
    r.keys(data, "", _TOP_KEYS)
    version = data.get("version", 1)
    if version != 1:
        raise r.fail("version", f"unsupported rules version {version!r} (this aios reads 1)")

    def array(name: str) -> list[Any]:
        v = data.get(name, [])
        if not isinstance(v, list):
            raise r.fail(name, f"expected an array of tables ([[{name}]])")
        return v

    paths = tuple(r.path_rule(d, f"path[{i}]") for i, d in enumerate(array("path")))
    rules = tuple(r.rule(d, f"rule[{i}]") for i, d in enumerate(array("rule")))
    readonly = tuple(r.readonly(d, f"readonly[{i}]") for i, d in enumerate(array("readonly")))
    commands = {n: r.command(n, d, f"command.{n}") for n, d in r.table(data.get("command", {}), "command").items()}
    wrappers = {n: r.wrapper(n, d, f"wrapper.{n}") for n, d in r.table(data.get("wrapper", {}), "wrapper").items()}
    interps = {
        n: r.interpreter(n, d, f"interpreters.{n}")
        for n, d in r.table(data.get("interpreters", {}), "interpreters").items()
    }
    shells_t = r.table(data.get("shells", {}), "shells")
    r.keys(shells_t, "shells", ("names", "arg_options"))
    ids: dict[str, str] = {}
    for i, x in enumerate((*paths, *rules)):
        kind = "path" if isinstance(x, PathRule) else "rule"
        idx = i if kind == "path" else i - len(paths)
        if not x.id:
            raise r.fail(f"{kind}[{idx}].id", "must not be empty")
        if x.id in ids:
            raise r.fail(f"{kind}[{idx}].id", f"duplicate id {x.id!r} (first at {ids[x.id]})")
        ids[x.id] = f"{kind}[{idx}]"
    return _Doc(
        paths, rules, commands, wrappers, r.strs(shells_t, "names", "shells"),
        r.strs(shells_t, "arg_options", "shells"), interps, readonly, r.strs(data, "disable", ""),
    )


def _merge(base: _Doc, top: _Doc) -> _Doc:
    """``top`` over ``base``: same id replaces in place, new effect/path rules go first (they
    win over built-ins), new prefix rules are added, ``disable`` removes ids."""
    drop = set(top.disable)
    top_ids = {x.id for x in (*top.paths, *top.rules)}
    replaced_paths = {p.id: p for p in top.paths}
    replaced_rules = {x.id: x for x in top.rules}
    base_ids = {x.id for x in (*base.paths, *base.rules)}
    paths = [p for p in top.paths if p.id not in base_ids]
    paths += [replaced_paths.get(p.id, p) for p in base.paths]
    new_rules = [x for x in top.rules if x.id not in base_ids]
    rules: list[PrefixRule | EffectRule] = [x for x in new_rules if isinstance(x, EffectRule)]
    rules += [replaced_rules.get(x.id, x) for x in base.rules]
    rules += [x for x in new_rules if isinstance(x, PrefixRule)]
    del top_ids
    return _Doc(
        tuple(p for p in paths if p.id not in drop),
        tuple(x for x in rules if x.id not in drop),
        {**base.commands, **top.commands},
        {**base.wrappers, **top.wrappers},
        base.shells + top.shells,
        base.shell_arg_options + top.shell_arg_options,
        {**base.interpreters, **top.interpreters},
        base.readonly + top.readonly,
        (),
    )


def _ruleset(doc: _Doc) -> RuleSet:
    return make_ruleset(
        doc.paths,
        [x for x in doc.rules if isinstance(x, PrefixRule)],
        [x for x in doc.rules if isinstance(x, EffectRule)],
        doc.commands,
        doc.wrappers,
        frozenset(doc.shells),
        frozenset(doc.shell_arg_options),
        doc.interpreters,
        doc.readonly,
    )


@functools.cache
def _builtin_doc() -> _Doc:
    text = resources.files("aios.security").joinpath("rules.toml").read_text(encoding="utf-8")
    return _read_doc(tomllib.loads(text), BUILTIN)


@functools.cache
def builtin_rules() -> RuleSet:
    """The rules shipped in rules.toml (parsed once)."""
    return _ruleset(_builtin_doc())


def load_rules(rules_file: str | None) -> RuleSet:
    """Built-in rules, with ``rules_file`` (same format) on top when given.

    Raises:
        ConfigError: the file cannot be read or is not a valid rules file; names file and key.
    """
    if not rules_file:
        return builtin_rules()
    try:
        with open(rules_file, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"{rules_file}: rules file not found", source=rules_file, key="security.rules_file") from exc
    except OSError as exc:
        raise ConfigError(f"{rules_file}: cannot read rules file: {exc.strerror}", source=rules_file,
                          key="security.rules_file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{rules_file}: not valid TOML: {exc}", source=rules_file, key="") from exc
    return _ruleset(_merge(_builtin_doc(), _read_doc(data, rules_file)))


def with_extra_prefixes(rules: RuleSet, extra: Iterable[PrefixRule]) -> RuleSet:
    """The same rules plus more prefix rules (person-typed grants)."""
    return make_ruleset(
        rules.paths, (*rules.prefixes, *extra), rules.effects, rules.commands, rules.wrappers,
        rules.shells, rules.shell_arg_options, rules.interpreters, rules.readonly,
    )


def with_readonly(rules: RuleSet, readonly: Iterable[PrefixRule]) -> RuleSet:
    """The same rules with another paranoid allow list."""
    readonly = tuple(readonly)
    return evolve(rules, readonly=readonly, readonly_index=_first_index(readonly))


# ---- path patterns ------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> str:
    """A path glob as a regex: ``**`` any depth, ``*``/``?`` within one name, ``dir/**`` also
    matches ``dir``. ``~`` must already be replaced."""
    if pattern.endswith("/**"):
        return glob_to_regex(pattern[:-3]) + "(?:/.*)?"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@frozen
class PathMatcher:
    """Classifies absolute normalized paths with one compiled regex (first rule wins)."""

    regex: re.Pattern[str]
    rules: tuple[PathRule, ...]

    @classmethod
    def build(cls, rules: Iterable[PathRule], home: str) -> PathMatcher:
        kept: list[PathRule] = []
        parts: list[str] = []
        for r in rules:
            pats = []
            for p in r.patterns:
                if not p:
                    continue
                if p == "~" or p.startswith("~/"):
                    p = home.rstrip("/") + p[1:] if home != "/" else "/" + p[2:]
                pats.append(glob_to_regex(p))
            if not pats:
                continue
            parts.append(f"(?P<r{len(kept)}>{'|'.join(pats)})")
            kept.append(r)
        regex = re.compile("|".join(parts) if parts else r"(?!)", re.S)
        return cls(regex, tuple(kept))

    def classify(self, path: str) -> PathRule | None:
        m = self.regex.fullmatch(path)
        if m is None or m.lastgroup is None:
            return None
        return self.rules[int(m.lastgroup[1:])]

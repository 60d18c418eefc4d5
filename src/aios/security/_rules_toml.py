"""Reading rules files: the built-in rules.toml, an optional user file on top.

A rules file is validated as a whole; any problem is a :class:`~aios.errors.ConfigError` that
names the file and the key path (``rule[3].action``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from aios.errors import ConfigError
from aios.modes import MODES

from ._decision import ACTIONS, Action
from ._regex_cache import lazy
from ._rules_model import (
    BUILTIN,
    EFFECTS,
    OPERAND_SELECTORS,
    PATH_CLASSES,
    TAGS,
    CommandSpec,
    EffectRule,
    EffectSpec,
    Example,
    InterpreterSpec,
    PathRule,
    PrefixRule,
    RuleSet,
    Token,
    WrapperSpec,
    make_ruleset,
)


class _Reader:
    """Reads one rules document, raising ConfigError that names the file and key path."""

    def __init__(self, source: str, text: str = "") -> None:
        self.source = source
        self.lines = text.split("\n")
        self.examples: list[Example] = []
        self._starts: dict[str, int] | None = None

    def examples_of(self, d: Mapping[str, Any], key: str, rule: str) -> None:
        """Read ``examples = [{cmd = "...", decision = "block", mode = "normal"}]`` of one entry."""
        v = d.get("examples", [])
        if not isinstance(v, list):
            raise self.fail(f"{key}.examples", "expected a list of tables {cmd = ..., decision = ...}")
        for i, e in enumerate(v):
            k = f"{key}.examples[{i}]"
            e = self.table(e, k)
            self.keys(e, k, ("cmd", "decision", "mode"), ("cmd", "decision"))
            cmd = self.str_(e, "cmd", k)
            mode = self.str_(e, "mode", k, "normal")
            if mode not in MODES:
                raise self.fail(f"{k}.mode", f"{mode!r} is not one of {', '.join(MODES)}")
            decision = self.str_(e, "decision", k)
            if decision not in ACTIONS:
                raise self.fail(f"{k}.decision", f"{decision!r} is not one of allow, confirm, block")
            self.examples.append(Example(cmd, decision, mode, rule, k, self.source,  # type: ignore[arg-type]
                                         self.line_of(rule, cmd)))

    def line_of(self, rule: str, cmd: str) -> int:
        """The line an example is written on: the first mention of its command after the entry."""
        if self._starts is None:
            self._starts = {}
            for i, ln in enumerate(self.lines):
                m = _ENTRY.match(ln)
                if m is not None:
                    self._starts.setdefault(m.group(1) or m.group(2), i)
        start = self._starts.get(rule)
        if start is None:
            return 0
        probe = cmd.replace("\\", "\\\\").replace('"', '\\"')
        for i in range(start, len(self.lines)):
            if cmd in self.lines[i] or probe in self.lines[i]:
                return i + 1
        return start + 1

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
        self.keys(d, key, ("id", "class", "patterns", "reason", "examples"), ("id", "class", "patterns"))
        self.examples_of(d, key, self.str_(d, "id", key))
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
            self.keys(d, key, ("id", "effect", "targets", "recursive", "action", "reason", "tags", "examples"),
                      ("id", "effect", "targets", "action"))
            self.examples_of(d, key, self.str_(d, "id", key))
            rec = d.get("recursive")
            if rec is not None and not isinstance(rec, bool):
                raise self.fail(f"{key}.recursive", f"expected true or false, got {rec!r}")
            return EffectRule(
                self.str_(d, "id", key), frozenset(self.strs(d, "effect", key, EFFECTS)),
                frozenset(self.strs(d, "targets", key, PATH_CLASSES)), self.action(d, key),
                self.str_(d, "reason", key, ""), tags, rec, self.source,
            )
        self.keys(d, key, ("id", "match", "options", "options_all", "not_options", "args_any", "args_any_not",
                           "operands_max", "action", "reason", "tags", "examples"), ("id", "match", "action"))
        self.examples_of(d, key, self.str_(d, "id", key))
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
                           "command_options", "setting_options", "command_keys", "examples"))
        self.examples_of(d, key, f"command.{name}")
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
                           "shell_args", "placeholder", "examples"))
        self.examples_of(d, key, f"wrapper.{name}")
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
            self.str_(d, "placeholder", key, ""),
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


_ENTRY = lazy(r'^\s*id\s*=\s*"([^"]+)"|^\s*\[((?:command|wrapper)\.[^\]]+)\]')
"""Where an entry starts in a rules file: ``id = "X"`` or ``[command.X]``."""
_TOP_KEYS = ("version", "path", "rule", "command", "wrapper", "shells", "interpreters", "readonly", "disable")


class _Doc(NamedTuple):
    paths: tuple[PathRule, ...]
    rules: tuple[PrefixRule | EffectRule, ...]
    commands: dict[str, CommandSpec]
    wrappers: dict[str, WrapperSpec]
    shells: tuple[str, ...]
    shell_arg_options: tuple[str, ...]
    interpreters: dict[str, InterpreterSpec]
    readonly: tuple[PrefixRule, ...]
    disable: tuple[str, ...]
    examples: tuple[Example, ...] = ()


def _read_doc(data: Mapping[str, Any], source: str, text: str = "") -> _Doc:
    r = _Reader(source, text)
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
        r.strs(shells_t, "arg_options", "shells"), interps, readonly, r.strs(data, "disable", ""), tuple(r.examples),
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
    # A built-in example speaks for its built-in rule; one the file replaces or removes drops it.
    changed = top_ids | drop | {f"command.{n}" for n in top.commands} | {f"wrapper.{n}" for n in top.wrappers}
    examples = tuple(e for e in base.examples if e.rule not in changed) + top.examples
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
        examples,
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
        doc.examples,
    )


@functools.cache
def builtin_bytes() -> bytes:
    """rules.toml as shipped (read once; the rules cache's key hashes these very bytes)."""
    return (Path(__file__).parent / "rules.toml").read_bytes()


@functools.cache
def _builtin_doc() -> _Doc:
    import tomllib  # the rules cache spares `policy check` this import

    text = builtin_bytes().decode("utf-8")
    return _read_doc(tomllib.loads(text), BUILTIN, text)


@functools.cache
def builtin_rules() -> RuleSet:
    """The rules shipped in rules.toml (parsed once)."""
    return _ruleset(_builtin_doc())


def read_rules_file(rules_file: str) -> bytes:
    """The bytes of the owner's rules file (read once, so that what is hashed is what is parsed).

    Raises:
        ConfigError: the file cannot be read.
    """
    try:
        with open(rules_file, "rb") as f:
            return f.read()
    except FileNotFoundError as exc:
        raise ConfigError(f"{rules_file}: rules file not found", source=rules_file, key="security.rules_file") from exc
    except OSError as exc:
        raise ConfigError(f"{rules_file}: cannot read rules file: {exc.strerror}", source=rules_file,
                          key="security.rules_file") from exc


def parse_rules(rules_file: str | None, raw: bytes | None) -> RuleSet:
    """Built-in rules, with the rules file's bytes ``raw`` (same format) on top when given.

    Raises:
        ConfigError: not a valid rules file; names file and key.
    """
    if not rules_file or raw is None:
        return builtin_rules()
    import tomllib

    text = raw.decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{rules_file}: not valid TOML: {exc}", source=rules_file, key="") from exc
    return _ruleset(_merge(_builtin_doc(), _read_doc(data, rules_file, text)))


def load_rules(rules_file: str | None) -> RuleSet:
    """Built-in rules, with ``rules_file`` (same format) on top when given.

    Raises:
        ConfigError: the file cannot be read or is not a valid rules file; names file and key.
    """
    return parse_rules(rules_file, read_rules_file(rules_file) if rules_file else None)

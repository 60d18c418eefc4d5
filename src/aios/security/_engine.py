"""The policy: modes turn the findings of ``_judge`` into one decision; file paths too."""

from __future__ import annotations

import copy
import functools
import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aios.errors import ConfigError
from aios.modes import MODES

from . import _rules_cache as rules_cache
from ._cachedir import CacheDir
from ._decision import Action, Decision, PathOp, action_rank
from ._findings import Context, Finding
from ._judge import Judge
from ._paths import Paths, class_rank, plain_compile
from ._regex_cache import compile_named, use_for_patterns
from ._rules_model import BUILTIN, PrefixRule, RuleSet, prefix_rule_from_words, with_readonly
from ._rules_toml import builtin_rules, parse_rules, read_rules_file

if TYPE_CHECKING:
    from typing import Protocol

    class SecuritySettings(Protocol):
        """What a policy reads of the ``[security]`` section (:class:`aios.config.SecurityConfig`)."""

        @property
        def mode(self) -> str: ...
        @property
        def dangerous_patterns(self) -> Sequence[str]: ...
        @property
        def require_confirm(self) -> Sequence[str]: ...
        @property
        def allow(self) -> Sequence[str] | None: ...
        @property
        def rules_file(self) -> str | None: ...


_CHECKED: dict[tuple[object, ...], RuleSet] = {}
"""Rule sets (with the paths they were checked against) whose examples all held. The value keeps
the rule set alive, so its ``id`` in the key cannot be reused by another one."""
_VERB = {"allow": "allows", "confirm": "asks first", "block": "blocks"}

class Policy:
    """Decides allow / confirm / block for command lines and file operations.

    Args:
        config: the ``[security]`` section (mode, regex lists, allow list, rules file).
        workspace: the directory the model works in; relative paths are judged against it.
        protected_paths: the daemon's state and runtime directories; treated like secrets.
        home: the home directory ``~`` stands for (default: the current user's).
        cache_dir: where built rules are kept between runs (``aios.security.CacheDir``: read only
            when this user alone can have written it); None builds them every time.

    Raises:
        ConfigError: a rules file or a regex in the config is invalid (names file/key).

    ``check_command`` and ``check_path`` are pure: they read nothing but the policy (and, for
    ``check_path``, symlinks on the way to the path) and never run anything.
    """

    def __init__(
        self,
        config: SecuritySettings,
        *,
        workspace: Path | None = None,
        protected_paths: Sequence[Path] = (),
        home: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self._config = config
        if config.mode not in MODES:
            raise ConfigError(f"security.mode: {config.mode!r} is not one of {', '.join(MODES)}", key="security.mode")
        raw = read_rules_file(config.rules_file) if config.rules_file else None
        cache = CacheDir(cache_dir) if cache_dir is not None else None
        if cache is not None:
            use_for_patterns(cache)
        key = rules_cache.rules_key(config.rules_file, raw, config.allow,
                                    [*config.dangerous_patterns, *config.require_confirm]) if cache else ""
        rules = rules_cache.load(cache, key) if cache else None
        built = rules is None
        self.rules_from_cache = not built
        """The rules came from the cache (built, checked and stored by an earlier run)."""
        if rules is None:
            rules = parse_rules(config.rules_file, raw)
            # security.allow also names plugin tools ("tool:NAME", judged by the tool registry);
            # only command prefixes replace the built-in read-only set.
            if config.allow is not None and any(not e.startswith("tool:") for e in config.allow):
                rules = with_readonly(rules, _allow_list(config.allow))
        paths = Paths(rules.paths, home=str(home if home is not None else Path.home()),
                      workspace=str(workspace) if workspace is not None else None,
                      protected=[str(p) for p in protected_paths],
                      compile=functools.partial(compile_named, cache) if cache is not None else plain_compile)
        self._judge = Judge(rules, paths)
        self._patterns = (
            self._compile(config.dangerous_patterns, "dangerous_patterns", "block"),
            self._compile(config.require_confirm, "require_confirm", "confirm"),
        )
        if built:
            # A cached rule set passed this check when it was stored.
            self._check_examples()
            if cache is not None:
                rules_cache.store(cache, key, rules)

    def _check_examples(self) -> None:
        """Every example carried by the rules gets its decision, or the rules are refused.

        Checked once per rule set, paths and regex lists (a daemon builds policies per request).
        """
        key = (id(self._judge.rules), self._judge.paths.home, self._judge.paths.workspace,
               self._judge.paths.protected, tuple(rx.pattern for g in self._patterns for rx, _, _ in g))
        if key in _CHECKED:
            return
        # A built-in example speaks for the built-in rules; the owner's file and regexes are
        # checked by the owner's own examples.
        builtin = Judge(builtin_rules(), self._judge.paths)
        failed = []
        for e in self._judge.rules.examples:
            if e.source == BUILTIN:
                d = _decide(builtin.judge(e.cmd), e.mode)
            else:
                d = self.check_command(e.cmd, mode=e.mode)
            if d.action != e.decision:
                failed.append((e, d))
        if failed:
            e, d = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            where = f"{e.source}:{e.line}" if e.line else e.source
            raise ConfigError(f"{where}: rule {e.rule}: example {e.cmd!r} should be {e.decision} in {e.mode} mode, "
                              f"but the policy says {d.action} ({d.rule}){more}", source=e.source, key=e.key)
        if len(_CHECKED) > 64:
            _CHECKED.clear()
        _CHECKED[key] = self._judge.rules

    @staticmethod
    def _compile(patterns: Sequence[str], key: str, action: Action) -> tuple[tuple[re.Pattern[str], str, Action], ...]:
        out = []
        for i, p in enumerate(patterns):
            try:
                out.append((re.compile(p), f"config:security.{key}[{i}]", action))
            except re.error as exc:
                raise ConfigError(f"security.{key}[{i}]: {p!r} is not a valid regex: {exc}",
                                  key=f"security.{key}[{i}]") from exc
        return tuple(out)

    # ---- public API ----------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """The configured mode."""
        return self._config.mode

    def with_prefix_grants(self, grants: Sequence[tuple[str, ...]]) -> Policy:
        """The same policy plus allow rules for prefixes a person typed (``("make", "test")``).

        A grant turns "confirm" into "allow" for commands starting with the prefix, at any
        wrapper level it matches; it never lifts a block.
        """
        new = copy.copy(self)
        extra = []
        n = len(self._judge.grants)
        for i, g in enumerate(grants):
            words = [w for w in g if w]
            if not words:
                continue
            extra.append(prefix_rule_from_words(words, f"grant[{n + i}]", "grant", "granted prefix " + shlex.join(words)))
        new._judge = self._judge.with_grants(extra)
        return new

    def rules(self) -> list[dict[str, object]]:
        """Every rule in force with where it came from (for ``aios policy rules``)."""
        out: list[dict[str, object]] = []
        for r in self._judge.paths.rules:
            out.append({"id": r.id, "kind": "path", "action": _path_action(r.cls), "pattern": list(r.patterns),
                        "class": r.cls, "reason": r.reason, "source": r.source})
        for e in self._judge.rules.effects:
            out.append({"id": e.id, "kind": "effect", "action": e.action,
                        "match": {"effect": sorted(e.effects), "targets": sorted(e.targets), "recursive": e.recursive},
                        "reason": e.reason, "source": e.source, "tags": sorted(e.tags)})
        for p in self._judge.rules.prefixes:
            out.append({"id": p.id, "kind": "prefix", "action": p.action, "match": _match_json(p),
                        "reason": p.reason, "source": p.source, "tags": sorted(p.tags)})
        for p in self._judge.grants:
            out.append({"id": p.id, "kind": "grant", "action": "allow", "match": _match_json(p),
                        "reason": p.reason, "source": "grant"})
        for p in self._judge.rules.readonly:
            out.append({"id": p.id, "kind": "paranoid-allow", "action": "confirm", "match": _match_json(p),
                        "reason": "paranoid mode's allow list", "source": p.source})
        for group in self._patterns:
            for rx, rid, action in group:
                out.append({"id": rid, "kind": "pattern", "action": action, "pattern": rx.pattern,
                            "reason": f"regex from {rid.partition('[')[0]}", "source": rid.partition("[")[0]})
        return out

    def check_command(self, command: str, *, mode: str | None = None) -> Decision:
        """Judge one command line (or a short script) without running it."""
        mode = self._mode(mode)
        ctx = self._judge.judge(command)
        for group in self._patterns:
            for rx, rid, action in group:
                if rx.search(command):
                    tags = frozenset({"dangerous"}) if action == "block" else frozenset()
                    ctx.add(Finding(action, rid, f"the line matches {rid.removeprefix('config:')} {rx.pattern!r}", tags))
        return _decide(ctx, mode)

    def check_path(self, op: PathOp, path: str, *, mode: str | None = None) -> Decision:
        """Judge a file tool's read, write or list of ``path`` (``~`` and relative paths allowed)."""
        mode = self._mode(mode)
        if op not in ("read", "write", "list"):
            raise ValueError(f"op must be read, write or list, not {op!r}")
        p = self._judge.paths.home + path[1:] if path == "~" or path.startswith("~/") else path
        if not p.startswith("/"):
            p = posixpath.join(self._judge.paths.workspace, p)
        norm = posixpath.normpath(p)
        try:
            # realpath raises when a link is swapped or removed while it is resolved (a race),
            # and on a NUL byte: a path that cannot be pinned down is not allowed.
            real = os.path.realpath(norm)
            rule, cls = self._judge.paths.classify_abs(norm)
            rule2, cls2 = self._judge.paths.classify_abs(real, real=True)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            return Decision("block", "path.unresolved", f"blocks: {op} of {path!r}: the path cannot be resolved ({why}); "
                            "it may be changing while it is checked (rule path.unresolved)", (), False, False, ())
        if class_rank(cls2) > class_rank(cls):
            rule, cls = rule2, cls2
        rid = rule.id if rule is not None else "path.outside"
        targets = (real,) if op == "write" else ()
        what = f"{path}" + (f" ({rule.reason})" if rule is not None and rule.reason else "")
        changes = op == "write" and cls not in ("workspace", "scratch")
        if mode == "trusted":
            return Decision("allow", "mode.trusted", f"allows: trusted mode ({op} {what})", (), changes, False, targets)
        if op in ("read", "list"):
            if cls in ("secret", "protected", "network"):
                return Decision("block", rid, f"blocks: {op} of {what} (rule {rid})", (), False, False, targets)
            return Decision("allow", rid, f"allows: {op} of {what} (rule {rid})", (), False, False, targets)
        if cls in ("secret", "protected", "network", "critical", "device", "traces", "switch"):
            return Decision("block", rid, f"blocks: write to {what} (rule {rid})", (), changes, False, targets)
        if cls == "workspace":
            if mode == "paranoid":
                return Decision("confirm", "mode.paranoid-write", f"asks first: paranoid mode confirms every write ({what})",
                                (), False, False, targets)
            return Decision("allow", rid, f"allows: write inside the workspace ({what})", (), False, False, targets)
        if mode == "normal":
            return Decision("confirm", "fs.outside-workspace", f"asks first: write to {what}, outside the workspace "
                            f"(rule fs.outside-workspace)", (), changes, False, targets)
        return Decision("block", f"mode.{mode}-write", f"blocks: {mode} mode allows writes only inside the workspace "
                        f"({what})", (), changes, False, targets)

    def _mode(self, mode: str | None) -> str:
        m = mode or self._config.mode
        if m not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {m!r}")
        return m


def _path_action(cls: str) -> str:
    if cls in ("secret", "protected", "network", "critical", "device", "traces", "switch"):
        return "block"
    if cls in ("workspace", "scratch"):
        return "allow"
    return "confirm"


def _match_json(p: PrefixRule) -> dict[str, object]:
    d: dict[str, object] = {"prefix": ["*" if t is None else (t[0] if len(t) == 1 else list(t)) for t in p.match]}
    for k in ("options", "options_all", "not_options"):
        v = getattr(p, k)
        if v:
            d[k] = sorted(v)
    for k in ("args_any", "args_any_not"):
        v = getattr(p, k)
        if v:
            d[k] = list(v)
    if p.operands_max is not None:
        d["operands_max"] = p.operands_max
    return d


def _decide(ctx: Context, mode: str) -> Decision:
    """The mode's verdict over all findings of one line."""
    commands = tuple(ctx.commands)
    findings = ctx.findings
    privileged = ctx.privileged
    changes = ctx.changes_system
    targets = tuple(ctx.targets)

    def make(action: Action, rule: str, reason: str) -> Decision:
        return Decision(action, rule, reason, commands, changes, privileged, targets)

    def worst(fs: Sequence[Finding]) -> Finding | None:
        best: Finding | None = None
        for f in fs:
            if best is None or action_rank(f.action) > action_rank(best.action):
                best = f
        return best

    top = worst(findings)
    if mode == "trusted":
        note = ""
        if top is not None and top.action != "allow":
            note = f"; normal mode {_VERB[top.action].replace('asks first', 'would ask first').replace('blocks', 'would block')}: {top.reason} (rule {top.rule})"
        return make("allow", "mode.trusted", f"allows: trusted mode{note}")
    if mode == "normal":
        if top is None:
            n = len(commands)
            return make("allow", "default.allow", f"allows: no rule matched ({n} command{'s' if n != 1 else ''})")
        return make(top.action, top.rule, f"{_VERB[top.action]}: {top.reason} (rule {top.rule})")
    if mode == "safe":
        escalated: list[Finding] = []
        for f in findings:
            hard = f.action == "block" or bool(f.tags & {"privileged", "destructive", "system", "dangerous", "secret"})
            escalated.append(Finding("block" if hard else "confirm", f.rule, f.reason, f.tags))
        top = worst(escalated)
        if top is None:
            return make("confirm", "mode.safe", "asks first: safe mode confirms every command")
        if top.action == "block":
            return make("block", top.rule, f"blocks in safe mode: {top.reason} (rule {top.rule})")
        return make("confirm", top.rule, f"asks first: safe mode confirms every command; {top.reason} (rule {top.rule})")
    # paranoid
    for f in findings:
        if f.action == "block":
            return make("block", f.rule, f"blocks: {f.reason} (rule {f.rule})")
    for f in findings:
        if "dynamic" in f.tags:
            return make("block", f.rule, f"blocks in paranoid mode: {f.reason} (rule {f.rule})")
    if ctx.misses:
        return make("block", "mode.paranoid-block", f"blocks: {ctx.misses[0]!r} is not on the paranoid allow list "
                    "(security.allow)")
    for f in findings:
        if f.action != "allow" and f.tags & {"privileged", "system", "destructive", "secret", "dangerous"}:
            return make("block", f.rule, f"blocks in paranoid mode: {f.reason} (rule {f.rule})")
    return make("confirm", "mode.paranoid-allow", "asks first: paranoid mode confirms every command; all of it is on "
                "the allow list")


def _allow_list(entries: Sequence[str]) -> list[PrefixRule]:
    allow: list[PrefixRule] = []
    for i, entry in enumerate(entries):
        if entry.startswith("tool:"):
            continue
        try:
            words = shlex.split(entry)
            allow.append(prefix_rule_from_words(words, f"config:security.allow[{i}]", "config:security.allow",
                                                f"on security.allow: {entry}"))
        except ValueError as exc:
            raise ConfigError(f"security.allow[{i}]: {entry!r} is not a command prefix ({exc})",
                              key=f"security.allow[{i}]") from exc
    return allow

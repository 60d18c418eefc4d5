"""Path classification: which class (secret, system, workspace …) a path or a glob reaches.

The path rules come from rules.toml (``[[path]]``), with ``~`` standing for the daemon user's
home; secrets of every account are spelled with ``/home/*/`` and ``/root/`` patterns there. A
glob counts as reaching a sensitive file when one of its expansions could name it
(``/etc/sha*`` reaches ``/etc/shadow``), whether or not that file exists.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from ._regex_cache import lazy
from ._rules_model import PathRule
from ._words import Word, into

DYN = "\ue000"
"""Marks text only known at run time (the same marker ``_parse`` puts in words)."""
GLOB_CHARS = lazy(r"[*?\[]")
_SCHEME = lazy(r"[A-Za-z][\w+.-]*://")
_PROC_ROOT = lazy(r"^/proc/[^/]+/root(?=/|$)")
SENSITIVE = ("protected", "secret", "traces", "network", "device", "critical")
"""Classes a glob is checked against, strictest first."""
CLASS_ORDER = ("workspace", "scratch", "outside", "home", "sysdata", "system", "top", "holder", "root", "critical",
               "device", "network", "switch", "traces", "secret", "protected")
"""Least to most sensitive (a path reached two ways takes the stricter class)."""
EVERYTHING = frozenset({"*", ".*", "*/", "*/*", "**", "{*,.*}", ".[!.]*", "..?*"})
"""Glob tails that name every entry of a directory."""
NO_WORKSPACE = "/.aios-no-workspace"


def class_rank(cls: str) -> int:
    """Position in :data:`CLASS_ORDER` (unknown classes rank like ``outside``)."""
    return CLASS_ORDER.index(cls) if cls in CLASS_ORDER else 2




def glob_to_regex(pattern: str) -> str:
    """A path glob as a regex: ``**`` any depth, ``*``/``?`` within one name, ``dir/**`` also
    matches ``dir``. ``~`` must already be replaced."""
    if pattern.endswith("/**"):
        return glob_to_regex(pattern[:-3]) + "(?:/.*)?"
    # Token by token rather than character by character: every policy built pays for all rules.
    out: list[str] = []
    pos = 0
    for m in _GLOB_TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        tok = m.group()
        if tok == "**/":
            out.append("(?:.*/)?")
        elif tok == "**":
            out.append(".*")
        elif tok == "*":
            out.append("[^/]*")
        elif tok == "?":
            out.append("[^/]")
        else:
            body = tok[1:-1]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


_GLOB_TOKEN = lazy(r"\*\*/|\*\*|\*|\?|\[[^\]]*\]")


Compiler = Callable[[str, Callable[[], str], int], re.Pattern[str]]
"""``(identity, source, flags) -> pattern``: ``source()`` writes the regex out; ``identity`` is a
string that names it (equal identities, equal regexes), so a cache need not call ``source``."""


def plain_compile(identity: str, source: Callable[[], str], flags: int) -> re.Pattern[str]:
    """:data:`Compiler` without a cache."""
    return re.compile(source(), flags)


class PathMatcher(NamedTuple):
    """Classifies absolute normalized paths with one compiled regex (first rule wins)."""

    regex: re.Pattern[str]
    rules: tuple[PathRule, ...]

    @classmethod
    def build(cls, rules: Iterable[PathRule], home: str, compile: Compiler = plain_compile) -> PathMatcher:
        kept: list[PathRule] = []
        globs: list[list[str]] = []
        for r in rules:
            pats = []
            for p in r.patterns:
                if not p:
                    continue
                if p == "~" or p.startswith("~/"):
                    p = home.rstrip("/") + p[1:] if home != "/" else "/" + p[2:]
                pats.append(p)
            if not pats:
                continue
            globs.append(pats)
            kept.append(r)

        def source() -> str:
            parts = [f"(?P<r{i}>{'|'.join(glob_to_regex(p) for p in pats)})" for i, pats in enumerate(globs)]
            return "|".join(parts) if parts else r"(?!)"

        # The regex is a function of the globs alone: a cache can find it by them, and skip
        # writing it out (and compiling it) when it has it.
        return cls(compile(repr(globs), source, re.S), tuple(kept))

    def classify(self, path: str) -> PathRule | None:
        m = self.regex.fullmatch(path)
        if m is None or m.lastgroup is None:
            return None
        return self.rules[int(m.lastgroup[1:])]


class Paths:
    """The path classes in force for one policy: rules, home, workspace, protected paths.

    Args:
        rules: the ``[[path]]`` rules, first match wins.
        home: the directory ``~`` stands for.
        workspace: the directory relative paths are judged against (None: no workspace).
        protected: the daemon's own config, rules, units and state; class ``protected``.
        compile: how the path regex is compiled (:data:`Compiler`; one may keep it between runs).
    """

    def __init__(self, rules: Iterable[PathRule], *, home: str, workspace: str | None,
                 protected: Sequence[str] = (), compile: Compiler = plain_compile) -> None:
        self.home = posixpath.normpath(home)
        self.workspace = posixpath.normpath(workspace) if workspace is not None else NO_WORKSPACE
        self.protected = tuple(posixpath.normpath(p) for p in protected)
        self.rules = self._in_force(tuple(rules))
        self.matcher = PathMatcher.build(self.rules, self.home, compile)
        real_home = os.path.realpath(self.home)
        self.matcher_real = PathMatcher.build(self.rules, real_home, compile) if real_home != self.home else self.matcher
        self.sensitive = self._sensitive_paths()
        self._home_secrets = tuple(
            cand for cand, cls in self.sensitive
            if cls == "secret" and cand[0] != "**" and (cand[0] in ("home", "root") or self._under_home(cand)))
        self._holds: dict[str, bool] = {}

    def _in_force(self, rules: tuple[PathRule, ...]) -> tuple[PathRule, ...]:
        out: list[PathRule] = []
        if self.protected:
            pats: list[str] = []
            for p in self.protected:
                if self.workspace.startswith(p.rstrip("/") + "/"):
                    continue  # a workspace inside the daemon's directories stays writable
                for q in sorted({p, os.path.realpath(p)}):
                    pats += [q, q.rstrip("/") + "/**"]
            out.append(PathRule("path.protected", "protected", tuple(pats),
                                "the daemon's own configuration, rules, state and socket"))
        for r in rules:
            if r.id == "path.workspace" and r.cls == "workspace":
                ws = {self.workspace, os.path.realpath(self.workspace)}
                r = PathRule(r.id, r.cls, tuple(x for w in sorted(ws) for x in (w, w.rstrip("/") + "/**")), r.reason,
                             r.source)
            out.append(r)
        return tuple(out)

    def abspath(self, value: str, cwd: str | None) -> str | None:
        """``value`` as an absolute normalized path (``~`` expanded); None if cwd is unknown."""
        if value == "~" or value.startswith("~/"):
            value = self.home + value[1:]
        if not value.startswith("/"):
            if cwd is None:
                return None
            value = cwd.rstrip("/") + "/" + value
        norm = "/" + posixpath.normpath(value).lstrip("/")
        if norm.startswith("/proc/"):
            # /proc/self/root/etc/shadow, /proc/1/root/…: another spelling of the path under /.
            norm = _PROC_ROOT.sub("", norm, count=1) or "/"
        return norm

    def classify(self, value: str, cwd: str | None, recursive: bool, glob: bool) -> tuple[str, str]:
        """(class, absolute path) of a word; ``unknown`` when the path is only known at run time."""
        if DYN in value:
            head = value.split(DYN, 1)[0]
            if "/" not in head and not head.startswith("~"):
                return "unknown", value
            # /proc/$(pgrep sshd)/environ: a run-time part is any name, the rest still counts.
            value = re.sub(DYN + "+", "*", value) if "/" in head else head + "*"
            glob = True
        path = self.abspath(value, cwd)
        if path is None:
            return "unknown", value
        m = GLOB_CHARS.search(path) if glob else None
        if m is not None:
            static = path[: m.start()]
            parent = static[: static.rfind("/")] or "/"
            tail = path[len(parent) :].lstrip("/")
            reach = self.glob_reach(path)
            if reach is not None:
                return reach, path
            if recursive and self.glob_holds_precious(path):
                return "holder", path  # `rm -rf ../*` from the workspace: the workspace is among them
            pcls = self.classify_abs(parent)[1]
            if pcls == "root" and (recursive or tail in EVERYTHING):
                return "root", path
            if pcls == "system" and recursive:
                return "system", path
            if pcls == "workspace" and recursive and tail in EVERYTHING and self.is_workspace_top(parent):
                return "workspace-top", path  # `rm -rf *` in the workspace: all of it
        cls = self.classify_abs(path)[1]
        if cls == "workspace" and recursive and self.is_workspace_top(path):
            return "workspace-top", path  # `rm -rf .`: the whole workspace, which no snapshot covers
        if class_rank(cls) < class_rank("holder") and self.holds_precious(path):
            return "holder", path
        return cls, path

    def holds_precious(self, path: str) -> bool:
        """Whether ``path`` is a directory above the workspace or the daemon's own files."""
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in (self.workspace, *self.protected) if p != NO_WORKSPACE)

    def glob_holds_precious(self, pattern: str) -> bool:
        """Whether a glob can expand to the workspace, the daemon's files or a directory above them."""
        comps = pattern.strip("/").split("/")
        for p in (self.workspace, *self.protected):
            pc = p.strip("/").split("/")
            if p != NO_WORKSPACE and len(comps) <= len(pc) and all(comp_match(g, c) for g, c in zip(comps, pc, strict=False)):
                return True
        return False

    def is_workspace_top(self, path: str) -> bool:
        """Whether ``path`` is the workspace itself."""
        return path in (self.workspace, os.path.realpath(self.workspace))

    def glob_reach(self, pattern: str) -> str | None:
        """The strictest sensitive class (protected … critical) of a path a glob can expand to:
        ``/etc/sha*`` reaches /etc/shadow, ``/dev/sd?`` a disk; None when it reaches none."""
        comps = pattern.strip("/").split("/")
        best: str | None = None
        for cand, cls in self.sensitive:
            if best is not None and SENSITIVE.index(cls) >= SENSITIVE.index(best):
                continue
            if cand[0] == "**":
                # `**/id_rsa` anywhere: only a glob that spells part of the name (`id_*`, not `*`).
                ok = bool(comps) and bool(comps[-1].strip("*?")) and comp_match(comps[-1], cand[1])
            elif len(comps) < len(cand) or (len(comps) > len(cand) and not cand[-1] == "**"):
                ok = False
            else:
                ok = all(c == "**" or comp_match(g, c) for g, c in zip(comps, cand, strict=False))
            if ok:
                best = cls
        return best

    def holds_secrets(self, path: str) -> bool:
        """Whether ``path`` is a directory of a home that holds secrets (``~``, ``/home/bob``,
        ``/root``, ``/home``, ``/``): reading all of it reads them."""
        hit = self._holds.get(path)
        if hit is None:
            comps = [c for c in path.strip("/").split("/") if c]
            hit = any(len(comps) < len(cand) - (1 if cand[-1] == "**" else 0)
                      and all(fnmatch.fnmatchcase(c, p) for c, p in zip(comps, cand, strict=False))
                      for cand in self._home_secrets)
            if len(self._holds) < 4096:
                self._holds[path] = hit
        return hit

    def _under_home(self, cand: tuple[str, ...]) -> bool:
        home = [c for c in self.home.strip("/").split("/") if c]
        return list(cand[: len(home)]) == home

    def _sensitive_paths(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        out: list[tuple[tuple[str, ...], str]] = []
        for r in self.matcher.rules:
            if r.cls not in SENSITIVE:
                continue
            for p in r.patterns:
                if p == "~" or p.startswith("~/"):
                    p = self.home.rstrip("/") + p[1:]
                if p.startswith("**/"):
                    out.append((("**", p[3:]), r.cls))
                elif p.startswith("/"):
                    out.append((tuple(p.strip("/").split("/")), r.cls))
        return tuple(out)

    def classify_abs(self, path: str, *, real: bool = False) -> tuple[PathRule | None, str]:
        """The rule and class of an absolute normalized path (``outside`` when none matches)."""
        rule = (self.matcher_real if real else self.matcher).classify(path)
        return rule, (rule.cls if rule is not None else "outside")


def comp_match(word: str, pattern: str) -> bool:
    """Whether one path component written with a glob (``sha*``) and one from a path rule
    (``shadow``, ``id_*``) can name the same file. A leading wildcard does not match a dot."""
    wg = bool(GLOB_CHARS.search(word))
    pg = bool(GLOB_CHARS.search(pattern))
    if not wg:
        return fnmatch.fnmatchcase(word, pattern) if pg else word == pattern
    if not pg:
        if pattern.startswith(".") and not word.startswith("."):
            return False
        return fnmatch.fnmatchcase(pattern, word)
    # Both globs: `*.log` and `auth.log*` can name the same file when one matches the other's stem.
    return (word == "*" or pattern == "*" or word == pattern or fnmatch.fnmatchcase(pattern.rstrip("*"), word)
            or fnmatch.fnmatchcase(word.rstrip("*"), pattern))


def path_candidates(value: str) -> list[str]:
    """Paths a word may name besides itself: ``--opt=PATH``, ``@PATH``, ``<PATH``."""
    out: list[str] = []
    v = value
    if "=" in v and not v.startswith(("/", "~", ".")):
        v = v.split("=", 1)[1]
    v = v.lstrip("@<")
    if _SCHEME.match(v):
        return out  # a URL: the path inside one (`file:///etc/shadow`) is found where words are searched for paths
    if v.startswith(("/", "~", ".")) or "/" in v or v.startswith("id_") or v.endswith((".key", ".pem", ".p12", ".pfx")):
        out.append(v)
    return out


INTO_DIR = frozenset({"cp", "mv", "install", "ln", "rsync", "scp"})
"""Copiers whose last operand, when a directory, receives each source under its own name."""


def into_dir(paths: Paths, operands: Sequence[Word], cwd: str | None) -> list[Word]:
    """``cp SRC DIR/``, ``cp -r /tmp/aios /etc``: where each source lands when the last operand is
    a directory (a trailing slash, several sources, or a directory that exists now)."""
    if len(operands) < 2 or any(w.dynamic for w in operands):
        return []
    *sources, dest = operands
    path = paths.abspath(dest.value, cwd)
    if path is None or not (dest.value.endswith("/") or len(sources) > 1 or os.path.isdir(path)):
        return []
    return [into(dest, s) for s in sources if s.value.rstrip("/") not in ("", ".", "..")]

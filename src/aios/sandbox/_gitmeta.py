"""Which repository metadata makes git run programs, and whether a new version of it is harmless.

git runs programs named in repository metadata: hooks, ``core.fsmonitor``, ``core.pager``,
``core.hooksPath``, ``core.sshCommand``, filter/diff/merge drivers, ``include.path`` pulling in
another file, ``commondir``/gitfiles pointing git at another directory's config and hooks. A
jailed command may write all of that anywhere in the workspace (a nested repository of its own,
``.git/modules/*`` of a submodule); the person's own git runs it later, outside the jail. The
runner undoes such changes after every command (:mod:`aios.sandbox._workspace`); this module
says what counts and what may stay: a config whose new entries are all on :data:`SAFE_KEYS`
(so ``git init`` and ``git clone`` inside the jail still give a usable repository), hook
samples, attribute files that name no driver.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from collections.abc import Iterable

SAFE_KEYS: tuple[str, ...] = (
    "core.repositoryformatversion", "core.filemode", "core.bare", "core.logallrefupdates",
    "core.ignorecase", "core.precomposeunicode", "core.symlinks", "core.autocrlf", "core.eol",
    "core.sparsecheckout", "core.sparsecheckoutcone", "extensions.objectformat",
    "extensions.worktreeconfig", "extensions.refstorage",
    "remote.*.url", "remote.*.fetch", "remote.*.tagopt", "branch.*.remote", "branch.*.merge", "branch.*.rebase",
    "submodule.*.url", "submodule.*.active", "user.name", "user.email", "init.defaultbranch",
    "pull.rebase", "pull.ff", "lfs.repositoryformatversion", "gc.auto",
)  # fmt: skip
"""Config keys that name no program (glob patterns over git's lower-cased key names). Anything
else added by a jailed command is undone: the list of keys that *do* run programs is long and
grows with every git release, so this is an allow list. Not on it although they name no program:
a partial clone's ``extensions.partialclone``/``remote.*.promisor`` (the person's own ``git diff``
or ``show`` would then fetch missing objects from a URL the jail chose, with the person's
credentials) and ``remote.*.mirror`` (a plain ``git push`` would then delete every remote branch
the repository lacks). A partial clone made in the jail therefore loses its lazy fetching."""

# A .gitattributes line that selects a driver (filter=, diff=NAME, merge=NAME): the driver's
# command comes from config, including the person's global config (git-lfs, textconv tools).
_DRIVER_ATTR = re.compile(rb"(^|\s)(filter|diff|merge)=\S", re.MULTILINE)
# .gitmodules: "update = !command" (git ignores it there since 2.24, but not every git is new).
_MODULE_UPDATE = re.compile(rb"^\s*update\s*=", re.MULTILINE | re.IGNORECASE)


def is_git_dir(name: str, entries: Iterable[str]) -> bool:
    """A ``.git`` directory, or one git would take for a repository (bare, a submodule's
    ``modules/NAME``, a worktree's ``worktrees/NAME``): HEAD plus objects or commondir."""
    if name == ".git":
        return True
    names = set(entries)
    return "HEAD" in names and ("objects" in names or "commondir" in names)


def _config_entries(data: bytes) -> list[tuple[str, str]] | None:
    """(key, value) pairs as git itself parses them (no includes), or None when git cannot."""
    git = shutil.which("git", path="/usr/local/bin:/usr/bin:/bin")
    if git is None:
        return None
    try:
        # Parsing by git, not by a parser of our own: a difference between the two would be a
        # way to hide a key from the check. --file never follows include.path.
        proc = subprocess.run(
            [git, "config", "--file", "-", "--list", "--null"],
            input=data, capture_output=True, timeout=10, check=False,
            env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    pairs = []
    for item in proc.stdout.split(b"\0"):
        if not item:
            continue
        key, _, value = item.partition(b"\n")
        pairs.append((key.decode(errors="replace").lower(), value.decode(errors="replace")))
    return pairs


def _safe_key(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in SAFE_KEYS)


def harmful(kind: str, what: str, data: bytes | None, before: bytes | None) -> str | None:
    """Why this new or changed entry could make git run a program (None: it may stay).

    Args:
        kind: what it is to git (see :data:`KINDS`).
        what: ``file``, ``link`` or ``dir``.
        data: its content now (None: unreadable or too large).
        before: its content before the command (None: it did not exist, or was no file).
    """
    if kind == "hook":
        return "a git hook"
    if kind == "sample":  # git never runs a sample (a link or directory could be anything)
        return None if what == "file" else "a git hook"
    if what != "file" or data is None:
        return f"git metadata ({KINDS[kind]}, a {what})"
    if kind == "config":
        now = _config_entries(data)
        if now is None:
            return "a git config that git cannot parse"
        old = set(_config_entries(before) or []) if before is not None else set()
        bad = sorted({key for key, value in now if (key, value) not in old and not _safe_key(key)})
        return f"git config setting {', '.join(bad)}" if bad else None
    if kind == "attributes":
        return "a filter/diff/merge driver in git attributes" if _DRIVER_ATTR.search(data) else None
    if kind == "gitmodules":
        return "a submodule update command" if _MODULE_UPDATE.search(data) else None
    return KINDS[kind]


KINDS: dict[str, str] = {
    "hook": "a git hook",
    "sample": "a git hook sample",
    "config": "a git config",
    "commondir": "a commondir pointing git at another directory's config and hooks",
    "gitfile": "a .git file or link pointing git at another directory",
    "attributes": "git attributes",
    "gitmodules": "a .gitmodules file",
}
"""What the workspace walk may find, in words."""


def classify(name: str, is_dir: bool, where: str) -> str | None:
    """The kind of git metadata an entry is (a key of :data:`KINDS`), or None.

    Args:
        name: the entry's name.
        is_dir: it is a real directory (not a symlink to one).
        where: ``tree`` (the work tree), ``gitdir`` (directly in a git directory), ``hooks``
            (below one's hooks/), ``info`` (its info/) or ``other`` (anywhere else in one).
    """
    if where == "tree":
        if name == ".gitattributes" and not is_dir:
            return "attributes"
        if name == ".gitmodules" and not is_dir:
            return "gitmodules"
        if name == ".git" and not is_dir:
            return "gitfile"
        return None
    if where == "gitdir":
        if name in ("config", "config.worktree"):
            return "config"
        if name == "commondir":
            return "commondir"
        if name == "hooks" and not is_dir:
            return "hook"  # a link to a directory of someone else's hooks
        return None
    if where == "hooks":
        return None if is_dir else ("sample" if name.endswith(".sample") else "hook")
    if where == "info":
        return "attributes" if name == "attributes" else None
    return None

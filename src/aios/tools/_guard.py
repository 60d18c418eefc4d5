"""The final guard of the write tool: what no file tool writes, in any mode, confirmed or not.

Two classes, both beyond what a person can approve, because a write there turns into code that
runs later without anyone asking:

- **git metadata** (issue 13 A3): ``.git/config`` (``core.fsmonitor``, ``core.hooksPath``),
  ``.git/hooks/**``, ``commondir``, ``modules/**`` — anything inside a ``.git`` directory —, a
  ``.git`` *file* (a ``gitdir:`` pointer sends git to a repository of the writer's choosing),
  ``.gitmodules`` and ``.gitattributes`` (filter and diff drivers), and the same files of a
  bare repository (a directory holding ``HEAD`` beside ``objects``, ``refs``, ``config`` or
  ``commondir``), nested ones included. Names are compared the way a case-insensitive or NTFS
  file system would see them (``.GIT``, ``.git.``, ``git~1``).
- **the daemon's own files** (A4): its config files, rules file, systemd units, state and
  runtime directories, as the daemon lists them in :attr:`ToolContext.protected`. Compared by
  path (as given and as resolved) before the policy runs, and by device and inode while the
  file is open, so a hard link or a bind mount of one is refused too.

This is defence in depth behind the policy: the policy judges a path first, this guard has the
last word whatever the policy said.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from aios.security import Decision

GIT_RULE = "tools.git-metadata"
PROTECTED_RULE = "tools.protected"

# Code points HFS+ ignores in names (git's is_hfs_dotgit list): ".g\u200cit" is ".git" there.
_IGNORABLE = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
     0x206A, 0x206B, 0x206C, 0x206D, 0x206E, 0x206F, 0xFEFF]
)
_GIT_FILES = {".gitmodules": "submodule URLs and update commands", ".gitattributes": "filter and diff drivers"}
_GIT_WHY = "git runs programs named there (hooks, core.fsmonitor, filter drivers), later and unasked"


def canon(name: str) -> str:
    """A name as git on a case-insensitive, HFS+ or NTFS file system would compare it."""
    name = name.translate(_IGNORABLE).casefold().rstrip(". ")
    return ".git" if name == "git~1" else name


def git_refusal(path: str) -> str | None:
    """Why writing ``path`` (absolute, normalised) would write git metadata, or None."""
    comps = [c for c in path.split("/") if c]
    for i, comp in enumerate(comps):
        if canon(comp) == ".git":
            where = "/" + "/".join(comps[: i + 1])
            if i == len(comps) - 1:
                return (f"{where} would be a .git file or directory (a gitdir: pointer makes git use "
                        f"a repository of the writer's choosing); {_GIT_WHY}")
            return f"{path} is inside git's metadata directory {where}; {_GIT_WHY}"
    if comps and canon(comps[-1]) in _GIT_FILES:
        return f"{path} holds git's {_GIT_FILES[canon(comps[-1])]}; {_GIT_WHY}"
    return None


def _has(dirfd: int, name: str, kind: int | None = None) -> bool:
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except OSError:
        return False
    return kind is None or stat.S_IFMT(st.st_mode) == kind


def looks_like_gitdir(dirfd: int) -> bool:
    """A directory git would take for a repository's metadata (a bare repository, a moved .git)."""
    return _has(dirfd, "HEAD") and any(_has(dirfd, n) for n in ("objects", "refs", "commondir", "config"))


def bare_refusal(dirfd: int, shown_dir: str, leaf: str | None) -> str | None:
    """Why a write in the directory ``dirfd`` would write a bare repository's metadata, or None.

    Args:
        dirfd: a directory on the path (an ancestor of the file, or its parent).
        shown_dir: the directory's path, for the message.
        leaf: the file's name when ``dirfd`` is its parent, else None.
    """
    if looks_like_gitdir(dirfd):
        return f"{shown_dir} is a git repository's metadata directory (HEAD beside objects/refs/config); {_GIT_WHY}"
    if leaf is not None:
        name = canon(leaf)
        if name == "head" and any(_has(dirfd, n) for n in ("config", "objects", "refs", "commondir")):
            return f"a HEAD file in {shown_dir} would make it a git repository's metadata directory; {_GIT_WHY}"
        if name in ("config", "commondir") and _has(dirfd, "HEAD"):
            return f"{leaf} beside HEAD in {shown_dir} would be a git repository's {leaf}; {_GIT_WHY}"
    return None


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def protected_refusal(path: str, protected: Sequence[Path]) -> str | None:
    """Why ``path`` (absolute, normalised) is one of the daemon's own files, or None."""
    for p in protected:
        for form in {os.path.normpath(p), os.path.realpath(p)}:
            if path == form:
                return f"{path}, one of the daemon's own files (config, rules, units, state)"
            if _under(path, form):
                return f"{path}, inside {form}, one of the daemon's own directories (config, rules, units, state)"
    return None


def identities(protected: Iterable[Path]) -> dict[tuple[int, int], str]:
    """(device, inode) of each protected path that exists, for checks on open descriptors."""
    out: dict[tuple[int, int], str] = {}
    for p in protected:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out[(st.st_dev, st.st_ino)] = str(p)
    return out


def identity_refusal(st: os.stat_result, shown: str, ids: dict[tuple[int, int], str]) -> str | None:
    """Why an open file or directory is one of the protected ones under another name, or None."""
    hit = ids.get((st.st_dev, st.st_ino))
    if hit is None:
        return None
    return f"{shown} is the daemon's own {hit} under another name (a hard link or a bind mount)"


def write_block(path: str, protected: Sequence[Path]) -> Decision | None:
    """A block decision for a write the tools never do, whatever the mode and the policy."""
    reason = git_refusal(path)
    if reason is not None:
        return Decision("block", GIT_RULE, f"blocks: write to {reason} (rule {GIT_RULE}; never written by a "
                        "tool in any mode: change it yourself, e.g. with git config)", targets=(path,))
    reason = protected_refusal(path, protected)
    if reason is not None:
        return Decision("block", PROTECTED_RULE, f"blocks: write to {reason}; no tool writes it, confirmed or "
                        f"not, in any mode (rule {PROTECTED_RULE})", targets=(path,))
    return None


def targets_block(decision: Decision, protected: Sequence[Path]) -> Decision | None:
    """A block decision when an action the policy let through writes one of the daemon's files.

    For every tool, through the gate: the policy names what a command writes in
    ``Decision.targets`` as far as it can tell; whatever mode and rule allowed it, a target
    below :attr:`ToolContext.protected` ends it here.
    """
    if decision.action == "block":
        return None
    for target in decision.targets:
        reason = protected_refusal(os.path.normpath(target), protected)
        if reason is not None:
            return Decision("block", PROTECTED_RULE, f"blocks: {reason} would be written; no tool writes it, "
                            f"confirmed or not, in any mode (rule {PROTECTED_RULE})", decision.commands,
                            decision.changes_system, decision.privileged, decision.targets)
    return None

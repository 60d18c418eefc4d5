"""aios.tools._gitindex.flagged reads a real git index: flags set by real git are seen, and an
index it cannot fully read (a link, garbage, cut short, version 3) answers "cannot tell"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from aios.tools._gitindex import flagged


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "r"
    _git(tmp_path, "init", "-q", "r")
    for i in range(5):
        (repo / f"f{i}").write_text("x" * i)
    deep = Path(*[f"d{i:02d}" + "x" * 100 for i in range(30)])  # a name longer than 4,095 bytes
    (repo / deep).mkdir(parents=True)
    (repo / deep / "leaf").write_text("y")
    _git(repo, "add", "-A")
    return repo, str(deep / "leaf")


def test_flags_set_by_git_are_seen(tmp_path: Path) -> None:
    repo, leaf = _repo(tmp_path)
    assert flagged(repo) is False
    for name in ("f3", leaf):  # after a short name and after one whose length field overflows
        _git(repo, "update-index", "--assume-unchanged", name)
        assert flagged(repo) is True
        _git(repo, "update-index", "--no-assume-unchanged", name)
        assert flagged(repo) is False
    _git(repo, "update-index", "--skip-worktree", "f2")  # version 3: git answers
    assert flagged(repo) is None


def test_what_cannot_be_read_safely_is_cannot_tell(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    index = repo / ".git" / "index"
    data = index.read_bytes()
    for bad in (data[:100], b"garbage", data[:-30]):
        index.write_bytes(bad)
        assert flagged(repo) is None
    index.unlink()
    assert flagged(repo) is False  # no index: nothing flagged
    os.symlink(tmp_path / "elsewhere", index)
    assert flagged(repo) is None
    sub = tmp_path / "gitfile"
    sub.mkdir()
    (sub / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    assert flagged(sub) is None

"""The daemon's own check of its import path (issue 13 A1, belt and braces): which entries are
places another user could plant code. Real directories in a temporary tree, a real second uid."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from aios.daemon._pathguard import unsafe_reason
from harness import Env


def test_safe_entries_pass(env: Env) -> None:
    safe = env.root / "lib"
    safe.mkdir(mode=0o755)
    assert unsafe_reason(str(safe)) is None
    assert unsafe_reason(str(safe / "not-yet.zip")) is None  # judged by the directory that would hold it
    sticky = env.root / "scratch"
    sticky.mkdir()
    sticky.chmod(0o1777)
    mine = sticky / "mine"
    mine.mkdir(mode=0o755)
    assert unsafe_reason(str(mine)) is None  # others cannot rename what is ours in a sticky dir


def test_the_current_directory_is_never_safe() -> None:
    assert unsafe_reason("") == "the current directory"
    assert unsafe_reason("relative/dir") == "the current directory"


def test_directories_others_can_write_are_unsafe(env: Env, other_user: pwd.struct_passwd) -> None:
    world = env.root / "world"
    world.mkdir()
    world.chmod(0o777)
    assert "writable by everybody" in (unsafe_reason(str(world)) or "")
    assert "writable by everybody" in (unsafe_reason(str(world / "later" / "site")) or "")  # not created yet
    group = env.root / "group"
    group.mkdir()
    os.chown(group, 0, other_user.pw_gid)
    group.chmod(0o775)
    assert f"writable by group {other_user.pw_gid}" in (unsafe_reason(str(group)) or "")
    theirs = env.root / "theirs"
    (theirs / "pkg").mkdir(parents=True)
    os.chown(theirs, other_user.pw_uid, other_user.pw_gid)
    assert f"owned by uid {other_user.pw_uid}" in (unsafe_reason(str(theirs / "pkg")) or "")  # a parent they own


def test_a_symlink_is_judged_by_where_it_points(env: Env) -> None:
    world = env.root / "world"
    world.mkdir()
    world.chmod(0o777)
    link = env.root / "looks-safe"
    link.symlink_to(world)
    reason = unsafe_reason(str(link)) or ""
    assert "points to" in reason and "writable by everybody" in reason
    assert unsafe_reason(str(Path("/usr/lib"))) is None

"""rt7: a git tool *read* plants a git hook in the workspace, and no walk undoes it.

Since a80f7cd the git tool's reads run with the workspace bound read-only and without the
workspace walks that undo planted git metadata; the walks come back only when a writable
``sandbox.extra_binds`` entry has its *destination* inside the workspace
(``Jail._binds_in_workspace``). A writable bind whose *source* is the workspace, or a directory
in it, mounted at a destination outside it, is a second, writable path to the same files, and
the read-only bind of the workspace path does not cover it.

What runs during a read: a filter driver. The runner's walk undoes drivers named in repository
metadata, but not in ``$HOME/.gitconfig`` and ``$HOME/.config/git/attributes`` — and ``HOME``
in the jail is the workspace. A jailed command writes both (nothing is undone: they are not
repository metadata); the git tool's ``diff`` then runs the clean filter, which writes
``.git/hooks/post-checkout`` of the repository through the writable alias. The hook stays: the
person's own git, outside the jail, runs it at their next ``git checkout``.

Spelling 1: ``extra_binds = ["WS:/srv/…/alias"]`` (the whole workspace at another path).
Spelling 2: ``extra_binds = ["WS/cache:/srv/…/alias"]`` (a directory in it), the repository in
``cache/``.
"""

from __future__ import annotations

import json
import os

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"


@pytest.mark.parametrize("spelling", ["whole-workspace", "directory-in-it"])
def test_a_read_plants_a_hook_through_a_writable_alias_of_the_workspace(env: Env, spelling: str) -> None:
    outside = env.outside()
    os.chmod(outside, 0o755)  # our own temporary directory: the jail's user must reach the bind's destination
    alias = outside / "alias"
    alias.mkdir()
    sub = "" if spelling == "whole-workspace" else "cache"
    if sub:
        (env.workspace / sub).mkdir()
        os.chmod(env.workspace / sub, 0o777)
    src = env.workspace / sub if sub else env.workspace
    env.write_config(f'[sandbox]\nextra_binds = ["{src}:{alias}"]\n')
    d: Daemon = env.start_daemon()
    try:
        repo = f"{sub}/r" if sub else "r"
        hook = f"{alias}/r/.git/hooks/post-checkout"
        # what the model writes: a filter script, and a command that makes a repository and
        # names the filter in the jail's global git config and attributes ($HOME is the workspace)
        (env.workspace / "filter.sh").write_text(
            f"mkdir -p {alias}/r/.git/hooks && printf '#!/bin/sh\\necho hook-ran\\n' > {hook} && chmod +x {hook}\ncat\n")
        (env.workspace / "setup.sh").write_text(
            f"set -e\n{G} init -q {repo}\ncd {repo}\necho one > f\n{G} add f\n{G} commit -qm 1\necho two > f\ncd \"$HOME\"\n"
            "git config --global filter.x.clean 'sh \"$HOME/filter.sh\"'\n"
            "mkdir -p .config/git\necho '* filter=x' > .config/git/attributes\n")
        setup = "bash setup.sh"
        made = env.cli("run", "--", setup)
        assert made.returncode == 0, made.stderr
        planted = env.workspace / repo / ".git" / "hooks" / "post-checkout"
        assert not planted.exists(), "the setup command's own walk should have left no hook"
        diff = env.cli("tools", "call", "git", json.dumps({"action": "diff", "path": repo}), "--json", timeout=120)
        assert "Traceback" not in diff.stderr, diff.stderr
        assert not planted.exists(), (
            f"a git tool read (diff) planted {planted.relative_to(env.workspace)} through the writable alias {alias}; "
            "no walk ran to undo it"
        )
    finally:
        d.kill()

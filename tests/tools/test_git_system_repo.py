"""The git tool in the repository outside the workspace (etckeeper's /etc, moved here by
``tools.git.system_repo``): diff and show leave out the files the policy would not let the
request read, as ``git show HEAD:shadow`` through bash is refused (real daemon, real git)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import Env

KEY = "-----BEGIN PRIVATE KEY-----\nSECRET-MATERIAL-4242\n-----END PRIVATE KEY-----\n"


def _git(repo: Path, *words: str) -> None:
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", "-c", "init.defaultBranch=main", "-C", str(repo), *words],
                   check=True, capture_output=True)


def _repo(env: Env) -> Path:
    repo = env.outside() / "etc"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "hosts").write_text("127.0.0.1 localhost\n")
    (repo / "ssl").mkdir()
    (repo / "ssl" / "server.key").write_text(KEY)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "etckeeper: daily")
    return repo


def test_show_and_diff_leave_out_secret_files(env: Env) -> None:
    repo = _repo(env)
    env.write_config(f'[tools.git]\nsystem_repo = "{repo}"\n')
    d = env.start_daemon()
    try:
        shown = env.cli("tools", "call", "git", json.dumps({"action": "show", "path": str(repo)}), "--json")
        assert shown.returncode == 0, shown.stderr
        assert "SECRET-MATERIAL" not in shown.stdout and "localhost" in shown.stdout
        assert "ssl/server.key" in shown.stdout  # named as left out
        # second spelling: the working tree's changes, and a path asked for by name
        (repo / "ssl" / "server.key").write_text(KEY.replace("4242", "5353"))
        (repo / "hosts").write_text("127.0.0.1 localhost\n10.0.0.1 db\n")
        for args in ({"action": "diff", "path": str(repo)}, {"action": "diff", "path": str(repo), "paths": ["ssl/server.key"]}):
            diff = env.cli("tools", "call", "git", json.dumps(args), "--json")
            assert diff.returncode == 0, diff.stderr
            assert "SECRET-MATERIAL" not in diff.stdout, args
        assert "10.0.0.1 db" in env.cli("tools", "call", "git", json.dumps({"action": "diff", "path": str(repo)}), "--json").stdout
        # another directory outside the workspace is refused
        other = env.cli("tools", "call", "git", json.dumps({"action": "status", "path": str(repo.parent)}), "--json")
        assert "works in the workspace" in other.stdout + other.stderr
    finally:
        d.kill()

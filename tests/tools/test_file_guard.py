"""What the write tool never writes, in any mode, confirmed or not (issue 13 A3 and A4).

Through the real daemon and CLI: git metadata anywhere (nested repositories, bare ones, every
spelling), and the daemon's own config, rules and state. Each attack is tried in normal mode with
``--yes`` (a person approving) and in trusted mode (no policy at all).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness import Daemon, Env


def write(env: Env, path: str | Path, content: str, *flags: str, append: bool = False) -> dict[str, Any]:
    args = json.dumps({"path": str(path), "content": content, "append": append})
    proc = env.cli("tools", "call", "write", args, "--json", *flags)
    out: dict[str, Any] = json.loads(proc.stdout)
    out["exit"] = proc.returncode
    return out


TRUSTED = ("--mode", "trusted")  # no policy at all: only the guard stands
APPROVED = ("--yes",)  # normal mode, a person approving whatever is asked

FSMONITOR = "[core]\n\tfsmonitor = touch /tmp/aios-pwned\n"


def test_git_metadata_is_never_written(env: Env, daemon: Daemon) -> None:
    ws = env.workspace
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (ws / "sub" / ".git").mkdir(parents=True)
    (ws / "vendor" / "lib").mkdir(parents=True)
    spellings = [
        (".git/config", APPROVED),
        (".git/hooks/pre-commit", TRUSTED),
        (".git/commondir", TRUSTED),
        (".git/modules/x/config", TRUSTED),
        (".GIT/config", TRUSTED),  # a case-insensitive file system takes it for .git
        ("./.git//config", TRUSTED),
        ("sub/../.git/config", TRUSTED),
        ("sub/.git/config", APPROVED),  # a nested repository
        (f"{ws}/sub/.git/hooks/post-checkout", TRUSTED),
        (".gitmodules", TRUSTED),
        ("sub/.gitattributes", APPROVED),
        (".Git./config", TRUSTED),  # NTFS drops trailing dots
        ("vendor/lib/.git", TRUSTED),  # a gitdir: pointer file
    ]
    for rel, flags in spellings:
        out = write(env, rel, FSMONITOR, *flags)
        assert out["exit"] == 126, (rel, out)
        assert out["metadata"]["rule"] == "tools.git-metadata", (rel, out)
        assert "git" in out["error"] and "never written" in out["error"], out["error"]
    assert (ws / ".git" / "config").read_text() == "[core]\n\tbare = false\n"
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert not (ws / ".gitmodules").exists() and not (ws / "vendor" / "lib" / ".git").exists()
    appended = write(env, ".git/config", FSMONITOR, *TRUSTED, append=True)
    assert appended["exit"] == 126 and "fsmonitor" not in (ws / ".git" / "config").read_text()
    ok = write(env, "sub/README.md", "fine\n", *TRUSTED)  # ordinary files beside them still work
    assert ok["exit"] == 0, ok


def test_bare_repository_metadata_is_never_written(env: Env, daemon: Daemon) -> None:
    # `git status` run inside a directory that looks like a bare repository uses its config.
    bare = env.workspace / "evil"
    (bare / "objects").mkdir(parents=True)
    (bare / "refs").mkdir()
    for flags in (APPROVED, TRUSTED):
        head = write(env, "evil/HEAD", "ref: refs/heads/main\n", *flags)
        assert head["exit"] == 1 and "refused" in head["error"] and "git" in head["error"], head
    assert not (bare / "HEAD").exists()
    (bare / "HEAD").write_text("ref: refs/heads/main\n")  # as if a jailed command had made it
    (bare / "hooks").mkdir()
    (bare / "info").mkdir()
    for rel in ("evil/config", "evil/hooks/pre-receive", "evil/info/attributes"):
        out = write(env, rel, FSMONITOR, *TRUSTED)
        assert out["exit"] == 1 and "metadata directory" in out["error"], (rel, out)
    assert not (bare / "config").exists() and not (bare / "hooks" / "pre-receive").exists()


def test_the_daemons_own_files_are_never_written(env: Env, daemon: Daemon) -> None:
    env.config_file.write_text("")
    takeover = '[security]\nmode = "trusted"\n'
    targets = [
        (env.config_file, APPROVED),  # AIOS_CONFIG, read at the next start
        (env.system_config, APPROVED),  # AIOS_SYSTEM_CONFIG, not even there yet
        (f"{env.workspace}/../config.toml", TRUSTED),
        (env.state / "grants.json", TRUSTED),
        (env.state / "memory.db", APPROVED),
        (env.root / "xdg-config" / "aios" / "config.toml", TRUSTED),  # the default user config file
        (env.root / "xdg-config" / "systemd" / "user" / "aios-runtime.service.d" / "override.conf", TRUSTED),
    ]
    for target, flags in targets:
        out = write(env, target, takeover, *flags)
        assert out["exit"] == 126, (target, out)
        assert out["metadata"]["rule"] == "tools.protected", (target, out)
        assert "daemon's own" in out["error"]
    appended = write(env, env.config_file, takeover, *TRUSTED, append=True)
    assert appended["exit"] == 126
    assert env.config_file.read_text() == ""
    assert not env.system_config.exists()
    assert not (env.state / "grants.json").exists() or "trusted" not in (env.state / "grants.json").read_text()
def test_a_hard_link_to_the_config_is_refused_by_inode(env: Env, daemon: Daemon) -> None:
    # A second name the path check cannot see: the descriptor's device and inode give it away.
    env.config_file.write_text("")
    os.link(env.config_file, env.workspace / "innocent.toml")
    out = write(env, "innocent.toml", '[security]\nmode = "trusted"\n', "--mode", "trusted", append=True)
    assert out["exit"] == 1 and "daemon's own" in out["error"], out
    assert env.config_file.read_text() == ""

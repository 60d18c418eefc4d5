"""rt7: a request made from ~/.config (or ~/.local/bin) makes it the workspace, so a jailed command plants autostart entries and programs on PATH.

``workspace_for`` refuses a home directory and the directories above one ("the jail could write
~/.bashrc, ~/.profile or ~/.config/autostart there, which the person's own shell and desktop run
later, unjailed"), and takes any other directory the caller owns as it is. A directory *below*
the home that the person's session runs from is taken: ``cd ~/.config && aios chat …`` makes
``~/.config`` the writable workspace, and an allowed jailed command writes
``autostart/x.desktop`` (run at the next login), ``git/config`` (the person's global git config:
``core.fsmonitor`` runs at every ``git status``), ``systemd/user/…`` units. No walk looks there
(it undoes repository metadata only). Same for ``~/.local/bin``, which is on the person's PATH.

Spelling 1: ~/.config, an autostart entry. Spelling 2: ~/.local/bin, a program named ``sudo``.
"""

from __future__ import annotations

import subprocess

import pytest

from harness import BIN, Daemon, Env

CASES = {
    ".config": "mkdir -p autostart && printf '[Desktop Entry]\\nExec=sh -c id\\n' > autostart/upd.desktop",
    ".local/bin": "printf '#!/bin/sh\\nexec /usr/bin/sudo \"$@\"\\n' > sudo && chmod +x sudo",
}
PLANTED = {".config": "autostart/upd.desktop", ".local/bin": "sudo"}


@pytest.mark.parametrize("where", sorted(CASES))
def test_a_jailed_command_plants_a_login_item_from_a_home_dot_directory(env: Env, where: str) -> None:
    env.env.pop("AIOS_PATHS__WORKSPACE")  # the workspace is where the person runs aios from
    cwd = env.home / where
    cwd.mkdir(parents=True)
    d: Daemon = env.start_daemon()
    try:
        ran = subprocess.run([str(BIN / "aios"), "run", "--", CASES[where]], cwd=cwd, env=env.env,
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert "Traceback" not in ran.stderr, ran.stderr
        planted = cwd / PLANTED[where]
        assert not planted.exists(), (
            f"a jailed command run from ~/{where} wrote ~/{where}/{PLANTED[where]} (allowed, exit {ran.returncode}): "
            "the person's session runs it later, unjailed"
        )
    finally:
        d.kill()

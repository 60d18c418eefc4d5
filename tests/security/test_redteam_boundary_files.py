"""Red team of issue 13 (A4, B, C): the daemon's own files through bash, odd files, another uid.

Each test PASSES when the attack is stopped and FAILS when it gets through. Real daemon, real
CLI, real jail; a real second local uid where the requester matters.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import socket
import subprocess
from typing import Any

import pytest
from redteam import as_user, open_socket, secret_dir

from harness import Daemon, Env

TAKEOVER = '[security]\\nmode = \\"trusted\\"\\n'  # printf's escapes inside a double-quoted word


def _bash(env: Env, command: str, *flags: str) -> dict[str, Any]:
    proc = env.cli("tools", "call", "bash", json.dumps({"command": command}), "--json", *flags)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _spellings(env: Env) -> dict[str, str]:
    """Ways to name the config file that never spell its path (the authors' tests cover the
    ones that do: redirection, tee, sed -i, cp, dd, mv, install, python -c with the path)."""
    root, ws = env.root, env.workspace
    b64 = base64.b64encode(str(env.config_file).encode()).decode()
    return {
        "glob": f'cd {root} && printf "{TAKEOVER}" >> conf*.toml',
        "question-mark": f'printf "{TAKEOVER}" >> {root}/config.tom?',
        "command-substitution": f'printf "{TAKEOVER}" >> "$(echo {b64} | base64 -d)"',
        "symlink-from-workspace": f'ln -sf {env.config_file} {ws}/l && printf "{TAKEOVER}" >> {ws}/l',
        "find-exec": f'find {root} -maxdepth 1 -name "conf*.toml" -exec sh -c \'printf "{TAKEOVER}" >> "$1"\' _ {{}} \\;',
        "python-concat": f"cd {root} && python3 -c \"open('con'+'fig.toml','a').write('[security]\\nmode = 1\\n')\"",
    }


SPELLINGS = ["glob", "question-mark", "command-substitution", "symlink-from-workspace", "find-exec", "python-concat"]


# Normal mode with approval only: trusted mode runs commands unjailed ("no restrictions"), and a
# command that hides its target can write anything the daemon can — documented in docs/security.md
# ("What this cannot protect against", with the pin that prevents it); only the owner can ask for it.
@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("flags", [("--yes",)], ids=["normal-approved"])
def test_bash_never_writes_the_daemons_config(env: Env, daemon: Daemon, spelling: str, flags: tuple[str, ...]) -> None:
    """A4: "no tool may write them, confirmed or not", trusted included (the authors test the
    write tool in trusted mode). bash in trusted mode runs on the host as the daemon: the
    policy's ``targets`` cannot name a path the command line never spells."""
    env.config_file.write_text("")
    out = _bash(env, _spellings(env)[spelling], *flags)
    assert env.config_file.read_text() == "", f"{spelling} ({' '.join(flags)}) wrote the daemon's config: {out}"


PROC = ["/proc/self/environ", "/proc/thread-self/environ", "/proc/{pid}/environ", "/proc/{pid}/task/{pid}/environ",
        "/proc/{pid}//environ", "/proc/{pid}/./environ", "/proc/self/mem", "/proc/{pid}/mem",
        "/proc/self/root/proc/{pid}/environ", "/proc/self/cwd/proc/{pid}/environ", "/proc/{pid}/root/proc/{pid}/environ"]


def test_the_daemons_environment_is_never_read(env: Env) -> None:
    """/proc/…/environ and mem of the daemon (its API keys) through the read tool, approved."""
    d = env.start_daemon(env={"RT_API_KEY": "RTENVSECRET42"})
    try:
        for raw in PROC:
            path = raw.format(pid=d.proc.pid)
            proc = env.cli("tools", "call", "read", json.dumps({"path": path}), "--json", "--yes")
            assert "RTENVSECRET42" not in proc.stdout, (path, proc.stdout)
            assert json.loads(proc.stdout)["ok"] is False, (path, proc.stdout)
    finally:
        d.kill()


def test_odd_files_get_a_clear_refusal(env: Env, daemon: Daemon) -> None:
    """A FIFO (would block), a socket, a directory, a device, a very long path, a NUL: a clear
    one-line refusal, never a hang or a traceback."""
    ws = env.workspace
    os.mkfifo(ws / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ws / "sock"))
    (ws / "dir").mkdir()
    try:
        for path in ("fifo", "sock", "dir", "/dev/zero", "/dev/tty", "a" * 5000, "d/" * 3000 + "x", "x\0y"):
            proc = env.cli("tools", "call", "read", json.dumps({"path": path}), "--json", "--yes", timeout=30)
            assert proc.returncode in (1, 2, 126), (path[:40], proc.returncode, proc.stderr)
            assert "Traceback" not in proc.stderr + proc.stdout, (path[:40], proc.stderr)
        for path in ("fifo", "sock", "/proc/self/fd"):
            proc = env.cli("tools", "call", "list", json.dumps({"path": path}), "--json", timeout=30)
            assert proc.returncode == 1 and json.loads(proc.stdout)["ok"] is False, (path, proc.stdout)
        big = env.cli("tools", "call", "write", json.dumps({"path": "dir", "content": "x"}), "--json", "--yes")
        assert big.returncode == 1 and (ws / "dir").is_dir(), big.stdout
    finally:
        sock.close()


def test_another_uid_reads_and_lists_nothing_it_could_not(env: Env, other_user: pwd.struct_passwd) -> None:
    """C: read and list of a 0700 directory of root's, by path, by ``~`` (the daemon's home) and
    through the owner's workspace, approved by nobody (they need no approval: the policy allows
    reads), must fail as the requester's own ``cat`` would."""
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "3s"\n')
    d = env.start_daemon()
    try:
        open_socket(env)
        secret, token = secret_dir(env)
        f = next(iter(os.scandir(secret))).path
        os.link(f, env.workspace / "linked")  # root's own hard link into the shared workspace
        (env.home / "note").write_text(token)
        env.home.chmod(0o700)
        asks = [("read", {"path": f}), ("list", {"path": str(secret)}), ("read", {"path": "linked"}),
                ("read", {"path": "~/note"}), ("list", {"path": "~", "hidden": True})]
        for tool, args in asks:
            reply, _ = as_user(env, other_user, "tools.call", {"tool": tool, "arguments": args})
            result = reply.get("result") or {}
            # the refusal may name the path asked for (which holds the token): judge what came back
            assert token not in str(result.get("output")), (tool, args, reply)
            assert result.get("ok") is False, (tool, args, reply)
    finally:
        d.kill()


NESTED = {
    # a complete nested repository (git init makes HEAD, objects, refs) with a planted fsmonitor
    "nested-config": ("git init -q sub && printf '[core]\\n\\tfsmonitor = touch {m}\\n' >> sub/.git/config",
                      "sub/.git/config"),
    "nested-hook": ("git init -q sub && printf '#!/bin/sh\\ntouch {m}\\n' > sub/.git/hooks/post-checkout"
                    " && chmod +x sub/.git/hooks/post-checkout", "sub/.git/hooks/post-checkout"),
    # a bare-looking directory and a gitdir: pointer that sends git to it
    "gitdir-file": ("mkdir -p evil/objects evil/refs wt && echo 'ref: refs/heads/main' > evil/HEAD"
                    " && printf '[core]\\n\\tfsmonitor = touch {m}\\n' > evil/config && printf 'gitdir: ../evil\\n' > wt/.git",
                    "evil/config"),
}


@pytest.mark.parametrize("spelling", sorted(NESTED))
def test_a_jailed_command_leaves_no_nested_git_metadata(env: Env, daemon: Daemon, spelling: str) -> None:
    """A3: "restored/removed after a jailed command changes it, nested repositories included".
    The jail keeps only WS/.git/{hooks,config,commondir} read-only; a command that needs no
    confirmation builds another repository beside it whose config names a program."""
    subprocess.run(["git", "init", "-q", str(env.workspace)], check=True)
    marker = env.root / "git-ran"
    command, planted = NESTED[spelling]
    out = _bash(env, command.format(m=marker))
    left = env.workspace / planted
    assert not (left.exists() and str(marker) in left.read_text()), (
        f"{spelling}: {planted} with a program in it is still there after the jailed command ({out['metadata'].get('rule')}, "
        f"{out['metadata'].get('profile')}); undone: {out['metadata'].get('undone') or out['metadata'].get('removed')}")


def test_another_uids_jailed_commands_get_no_more_than_it_could_alone(env: Env, other_user: pwd.struct_passwd) -> None:
    """C: "requests from any other uid run their jail as that uid (not as aios-sandbox)". Root's
    workspace is private (0700, as ~/aios-workspace under /root is); the jail grants the sandbox
    user rwx on it by ACL. Another uid's commands that need no approval (``cat``, a redirection
    into the workspace) must not read or write it: that uid could do neither alone."""
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "3s"\n')
    d = env.start_daemon()
    try:
        open_socket(env)
        env.workspace.chmod(0o700)
        assert _bash(env, "true")["ok"]  # the owner's first command: the jail sets its ACLs
        token = f"RTWS{os.urandom(6).hex()}"
        wrote = env.cli("tools", "call", "write", json.dumps({"path": "notes.txt", "content": token}), "--json")
        assert wrote.returncode == 0, wrote.stdout
        own = subprocess.run(["cat", str(env.workspace / "notes.txt")], user=other_user.pw_uid, group=other_user.pw_gid,
                             extra_groups=[], capture_output=True, text=True)
        assert own.returncode != 0  # alone, the other uid cannot read it
        read, _ = as_user(env, other_user, "tools.call", {"tool": "bash", "arguments": {"command": f"cat {env.workspace}/notes.txt"}})
        wrote_in, _ = as_user(env, other_user, "tools.call", {"tool": "bash", "arguments": {"command": "echo x > rt-planted"}})
        # the typed git tool runs in the same jail: `git show` of root's committed notes
        for argv in (["git", "init", "-q"], ["git", "add", "notes.txt"],
                     ["git", "-c", "user.name=r", "-c", "user.email=r@x", "commit", "-qm", "notes"]):
            subprocess.run(argv, cwd=env.workspace, check=True, capture_output=True)
        shown, _ = as_user(env, other_user, "tools.call", {"tool": "git", "arguments": {"action": "show"}})
        got = []
        if token in json.dumps(shown):
            got.append("read root's private repository with the git tool")
        if token in json.dumps(read):
            got.append(f"read root's private workspace through the jail: {read['result']['output']!r}")
        if (env.workspace / "rt-planted").exists():
            got.append(f"wrote root's private workspace: {wrote_in['result']['metadata'].get('profile')}")
        assert not got, f"another uid (uid {other_user.pw_uid}): " + "; ".join(got)
    finally:
        d.kill()

"""Red team of issue 13 B and C: another uid races the daemon's choice of its workspace.

Without ``paths.workspace``, another uid's ``cwd`` becomes its workspace when it owns that
directory (``_tooling.workspace_for``: realpath, then stat). The jail resolves the path again
when it runs (``check_workspace``), grants the sandbox user rwx on it by ``setfacl`` (which
follows symlinks) and binds it by name. Between those moments the requester swaps its
directory for a symlink to root's private directory (``renameat2(RENAME_EXCHANGE)`` in a loop,
as that uid). The test PASSES when no attempt reads or writes root's directory or changes its
ACL.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import subprocess

from redteam import SYSTEM_PYTHON, as_user, open_socket

from harness import Env

SWAP = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
while True:
    libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: the name flips between dir and symlink
"""

ATTEMPTS = 60  # it got through within the first few on the machine it was written on


def test_a_workspace_swapped_for_a_symlink_never_opens_roots_directory(env: Env, other_user: pwd.struct_passwd) -> None:
    env.env.pop("AIOS_PATHS__WORKSPACE")  # the default: the caller's own directory may be the workspace
    env.write_config(f'[daemon]\nallowed_uids = [{other_user.pw_uid}]\napproval_timeout = "3s"\n')
    d = env.start_daemon()
    swapper = None
    try:
        open_socket(env)
        private = env.root / "private"  # root's, 0700: the other uid can neither enter nor list it
        private.mkdir(mode=0o700)
        token = f"RTPRIV{secrets.token_hex(6)}"
        (private / "secret").write_text(token + "\n")
        (private / "secret").chmod(0o644)
        acl_before = subprocess.run(["getfacl", "-cp", str(private)], capture_output=True, text=True).stdout
        theirs = env.root / "theirs"
        theirs.mkdir()
        os.chown(theirs, other_user.pw_uid, other_user.pw_gid)
        mine, link = theirs / "mine", theirs / "link"
        subprocess.run([SYSTEM_PYTHON, "-c", f"import os; os.mkdir({str(mine)!r}); os.symlink({str(private)!r}, {str(link)!r})"],
                       user=other_user.pw_uid, group=other_user.pw_gid, extra_groups=[], check=True)
        swapper = subprocess.Popen([SYSTEM_PYTHON, "-c", SWAP, str(mine), str(link)],
                                   user=other_user.pw_uid, group=other_user.pw_gid, extra_groups=[])
        got: list[str] = []
        for attempt in range(ATTEMPTS):
            reply, _ = as_user(env, other_user, "tools.call", {
                "tool": "bash", "arguments": {"command": "cat secret; echo x > rt-planted"}, "cwd": str(mine)})
            if token in json.dumps(reply):
                got.append(f"attempt {attempt}: read root's {private}/secret")
            if (private / "rt-planted").exists():
                got.append(f"attempt {attempt}: wrote into root's {private}")
            acl = subprocess.run(["getfacl", "-cp", str(private)], capture_output=True, text=True).stdout
            if acl != acl_before:
                got.append(f"attempt {attempt}: the daemon changed the ACL of root's {private}: {acl.split()}")
            if got:
                break
        assert not got, "; ".join(got)
    finally:
        if swapper is not None:
            swapper.kill()
            swapper.wait()
        d.kill()

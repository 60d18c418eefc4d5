"""File tools asked for by another uid act with that user's permissions (issue 13 C).

A real throwaway user (useradd, userdel afterwards) is the requester; the daemon's side (this
process) is root. The user must get exactly what their own shell would: no root-only file, no
write into a directory they cannot write, their own supplementary groups and nothing of root's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
from toolctx import User, make_context

from aios.sandbox import Identity
from aios.tools._builtin import ListTool, ReadTool, WriteTool

pytestmark = pytest.mark.root  # creates a user and acts as them


def _prepare(scratch: Path, outside: Path, user: User) -> Path:
    ws = scratch / "ws"
    ws.mkdir()
    os.chown(ws, user.uid, user.gid)  # the requester's own workspace
    (outside / "root-only.txt").write_text("ROOT ONLY")
    (outside / "root-only.txt").chmod(0o600)
    (outside / "root-group.txt").write_text("ROOT GROUP")
    (outside / "root-group.txt").chmod(0o640)  # group root: the daemon's groups must not leak
    (outside / "their-group.txt").write_text("THEIR GROUP")
    os.chown(outside / "their-group.txt", 0, user.group_gid)
    (outside / "their-group.txt").chmod(0o640)
    (outside / "public.txt").write_text("PUBLIC")
    (outside / "private-dir").mkdir(mode=0o700)
    (outside / "private-dir" / "inside.txt").write_text("HIDDEN")
    return ws


async def test_a_requester_reads_only_what_they_could_read(scratch: Path, outside: Path, throwaway_user: User) -> None:
    ws = _prepare(scratch, outside, throwaway_user)
    ctx = make_context(ws, home=scratch / "home", requester=Identity.for_uid(throwaway_user.uid))
    denied = await ReadTool().execute({"path": str(outside / "root-only.txt")}, ctx)
    assert not denied.ok and "Permission denied" in (denied.error or "") and "ROOT" not in denied.output
    group_root = await ReadTool().execute({"path": str(outside / "root-group.txt")}, ctx)
    assert not group_root.ok and "ROOT" not in group_root.output
    theirs = await ReadTool().execute({"path": str(outside / "their-group.txt")}, ctx)
    assert theirs.ok and theirs.output == "THEIR GROUP"  # their supplementary groups count
    public = await ReadTool().execute({"path": str(outside / "public.txt")}, ctx)
    assert public.ok and public.output == "PUBLIC" and public.metadata["as_user"] == throwaway_user.name
    listing = await ListTool().execute({"path": str(outside / "private-dir")}, ctx)
    assert not listing.ok and "inside.txt" not in listing.output
    # The worker thread put the daemon's identity back: the daemon itself still reads it.
    owner = make_context(ws, home=scratch / "home")
    for _ in range(4):  # every worker thread of the cache
        again = await ReadTool().execute({"path": str(outside / "root-only.txt")}, owner)
        assert again.ok and again.output == "ROOT ONLY"


async def test_a_requester_writes_only_where_they_could_write(scratch: Path, outside: Path, throwaway_user: User) -> None:
    user = throwaway_user
    ws = _prepare(scratch, outside, user)
    ctx = make_context(ws, home=scratch / "home", requester=Identity.for_uid(user.uid), mode="trusted")
    made = await WriteTool().execute({"path": "notes.txt", "content": "mine"}, ctx)
    assert made.ok, made.error
    st = (ws / "notes.txt").stat()
    assert (st.st_uid, st.st_gid) == (user.uid, user.gid)  # made by them, not by root
    # Trusted mode lets the policy allow anything; the kernel still judges the requester.
    for path in (outside / "new.txt", outside / "root-only.txt", outside / "private-dir" / "inside.txt"):
        out = await WriteTool().execute({"path": str(path), "content": "PWNED"}, ctx)
        assert not out.ok and "Permission denied" in (out.error or ""), (path, out)
        appended = await WriteTool().execute({"path": str(path), "content": "PWNED", "append": True}, ctx)
        assert not appended.ok, (path, appended)
    assert not (outside / "new.txt").exists()
    assert (outside / "root-only.txt").read_text() == "ROOT ONLY"
    assert (outside / "private-dir" / "inside.txt").read_text() == "HIDDEN"


async def test_requests_run_concurrently_keep_their_own_identities(scratch: Path, outside: Path, throwaway_user: User) -> None:
    # Credentials are per thread: a requester's call in flight never lends its identity to the
    # daemon's own call in another worker thread, nor the other way round.
    ws = _prepare(scratch, outside, throwaway_user)
    theirs = make_context(ws, home=scratch / "home", requester=Identity.for_uid(throwaway_user.uid))
    mine = make_context(ws, home=scratch / "home")
    seen: dict[str, list[bool]] = {"theirs": [], "mine": []}

    async def hammer(who: str) -> None:
        ctx = theirs if who == "theirs" else mine
        for _ in range(50):
            r = await ReadTool().execute({"path": str(outside / "root-only.txt")}, ctx)
            seen[who].append(r.ok)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hammer, "theirs")
        nursery.start_soon(hammer, "mine")
    assert not any(seen["theirs"]) and all(seen["mine"])


def test_a_daemon_that_is_not_root_refuses_and_changes_nothing(throwaway_user: User) -> None:
    # A user daemon cannot take another user's identity; the call must fail with a message that
    # says so, and leave the thread exactly as it was. The thread drops to a non-root effective
    # uid with the raw per-thread system call (saved uid 0 kept, to come back afterwards).
    import ctypes
    import platform
    import threading

    from aios.errors import ToolError
    from aios.tools._ident import acting_as, current_fsuid

    setresuid = {"x86_64": 117, "aarch64": 147}[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    seen: dict[str, object] = {}

    def body() -> None:
        assert libc.syscall(setresuid, -1, 65534, -1) == 0
        try:
            before = (current_fsuid(), os.getgroups())
            try:
                with acting_as(Identity.for_uid(throwaway_user.uid)):
                    seen["ran"] = True
            except ToolError as exc:
                seen["error"] = exc.message
            seen["same"] = (current_fsuid(), os.getgroups()) == before
        finally:
            assert libc.syscall(setresuid, -1, 0, -1) == 0

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert "ran" not in seen and "must run as root" in str(seen.get("error")), seen
    assert seen["same"] is True


async def test_a_backend_run_for_another_user_gets_their_home_not_the_daemons(throwaway_user: User) -> None:
    """Backends run as the requester (podman, rpm …) find their own per-user files under HOME:
    the daemon's HOME (/root) made rootless podman fail with permission denied for every other
    user. The environment is theirs: HOME, USER, no runtime directory of the daemon's."""
    import pwd

    from aios.tools._host import run_host

    who = Identity.for_uid(throwaway_user.uid, throwaway_user.gid)
    res = await run_host(["env"], who=who)
    assert res.ok, res.stderr
    env = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    assert env["HOME"] == pwd.getpwuid(throwaway_user.uid).pw_dir
    assert env["USER"] == throwaway_user.name
    assert env.get("XDG_RUNTIME_DIR", f"/run/user/{throwaway_user.uid}") == f"/run/user/{throwaway_user.uid}"
    own = await run_host(["env"])
    assert "HOME=" + ("/root" if os.geteuid() == 0 else str(Path.home())) in own.stdout.splitlines()

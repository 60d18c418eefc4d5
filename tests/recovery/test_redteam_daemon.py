"""Red-team attacks through the daemon: a second local uid allowed on the socket, and a
snapshot another container left in a shared store. Each test PASSES when the attack is stopped.

The throwaway user is deleted in the fixture's ``finally``; "outside" paths are the harness's
temporary directories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aios.recovery import SnapshotStore
from harness import Daemon, Env

# -- a second local uid allowed on the socket -------------------------------------------------

CALL_AS = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}) + "\\n").encode())
buf = b""
while True:  # notifications (progress) come first; the answer is the message with id 1
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\\n")
    found = [m for m in map(json.loads, lines) if m.get("id") == 1]
    if found:
        print(json.dumps(found[0]))
        break
"""


@pytest.fixture
def other_user(
    env: Env,
) -> Iterator[tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]]]:
    """A daemon whose owner snapshotted a root-only directory, and a throwaway uid allowed on its
    socket (deleted at the end)."""
    import pwd
    import subprocess

    name = f"aiosrt{os.getpid() % 100000}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
    )
    try:
        user = pwd.getpwnam(name)
        target = env.outside() / "etc-like"
        target.mkdir()
        (target / "app.conf").write_text("setting = original\n")
        secret = env.outside() / "root-only"
        secret.mkdir(mode=0o700)
        (secret / "id_ed25519-SECRETNAME").write_text("key\n")
        env.write_config(
            f'[recovery]\npaths = ["{target}"]\npackages = false\n[daemon]\nallowed_uids = [{user.pw_uid}]\n'
        )
        d = env.start_daemon()
        try:
            for p in (env.root, env.run_dir):
                os.chmod(p, 0o755)
            os.chmod(d.socket, 0o666)

            def as_user(method: str, params: dict[str, object]) -> dict[str, object]:
                proc = subprocess.run(
                    ["/usr/bin/python3", "-c", CALL_AS, str(d.socket), method, json.dumps(params)],
                    user=user.pw_uid,
                    group=user.pw_gid,
                    extra_groups=[],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert proc.stdout, proc.stderr
                return dict(json.loads(proc.stdout))

            yield env, d, secret, as_user
        finally:
            d.kill()
    finally:
        subprocess.run(["userdel", name], check=False)


def test_another_uid_cannot_list_a_root_only_directory_through_diff_of_two_snapshots(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    env, _, secret, as_user = other_user
    plain = env.cli_json("snapshot")
    chosen = env.cli_json("snapshot", "--path", str(secret))  # the owner's --path snapshot
    answer = as_user("snapshot.diff", {"id": plain["id"], "id2": chosen["id"]})
    assert "SECRETNAME" not in json.dumps(answer), answer


def test_another_uid_cannot_list_a_root_only_directory_through_a_dry_run(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    env, _, secret, as_user = other_user
    chosen = env.cli_json("snapshot", "--path", str(secret))
    (secret / "id_ed25519-SECRETNAME").unlink()  # the owner's change since: a restore would add it
    answer = as_user("snapshot.restore", {"id": chosen["id"], "dry_run": True})
    assert "SECRETNAME" not in json.dumps(answer), answer


def test_another_uid_cannot_list_a_root_only_directory_through_a_diff_with_the_live_files(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    env, _, secret, as_user = other_user
    chosen = env.cli_json("snapshot", "--path", str(secret))
    (secret / "new-SECRETNAME").write_text("key\n")  # the owner's change since
    live = as_user("snapshot.diff", {"id": chosen["id"]})
    assert "SECRETNAME" not in json.dumps(live), live


def test_another_uid_cannot_delete_the_owners_snapshots(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    env, _, _, as_user = other_user
    snap = env.cli_json("snapshot", "-d", "the owner's way back")
    answer = as_user("snapshot.delete", {"id": snap["id"]})
    assert "error" in answer, answer
    assert [s["id"] for s in env.cli_json("snapshots")] == [snap["id"]]


def test_a_symlink_under_this_daemons_paths_does_not_widen_a_foreign_snapshots_restore(
    env: Env,
) -> None:
    mine = env.outside() / "mine"
    mine.mkdir()
    theirs = env.outside() / "theirs"  # a path only the other container configured
    theirs.mkdir()
    (theirs / "f.conf").write_text("original\n")
    env.write_config(f'[recovery]\npaths = ["{mine}"]\npackages = false\n')
    # Another container sharing the store snapshotted its own path.
    foreign = SnapshotStore(env.state / "snapshots", origin="other-container").create(
        [theirs], trigger="manual", packages=False
    )
    (theirs / "f.conf").write_text("this host's own change\n")
    (mine / "link").symlink_to(theirs)  # passes the "under my recovery.paths" check by name
    d = env.start_daemon()
    try:
        env.cli("restore", foreign.id, "--yes", "--path", str(mine / "link" / "f.conf"))
        assert (theirs / "f.conf").read_text() == "this host's own change\n"
    finally:
        d.kill()


def test_another_uid_cannot_fill_the_disk_with_snapshots_retention_never_removes(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    _, _, _, as_user = other_user
    answer = as_user("snapshot.create", {"description": "one of many"})
    made = answer.get("result")
    # Refused, or at least not "manual" (which retention never deletes).
    assert made is None or made["trigger"] != "manual", answer  # type: ignore[index]


def test_another_uid_cannot_read_a_root_only_symlinks_target_through_a_restore_error(
    other_user: tuple[Env, Daemon, Path, Callable[[str, dict[str, object]], dict[str, object]]],
) -> None:
    env, _, secret, as_user = other_user
    snap = env.cli_json("snapshot")
    hidden = env.outside() / "HIDDEN-TARGET-NAME"
    hidden.mkdir()
    (secret / "pointer").symlink_to(hidden)  # inside a 0700 root directory
    # The daemon resolves the requested path as itself, and names the result in its error.
    answer = as_user(
        "snapshot.restore",
        {"id": snap["id"], "dry_run": True, "paths": [str(secret / "pointer" / "x")]},
    )
    assert "HIDDEN-TARGET-NAME" not in json.dumps(answer), answer

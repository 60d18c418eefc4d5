"""Snapshots through the real daemon: CLI, safe_execute with auto-rollback, kill -9 mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness import BIN, Env, RPCError, connect, rpc


def _configure(env: Env, target: Path, extra: str = "") -> None:
    env.write_config(f'[recovery]\npaths = ["{target}"]\npackages = false\n{extra}')


def make_target(env: Env) -> Path:
    target = env.outside() / "etc-like"
    target.mkdir()
    (target / "app.conf").write_text("setting = original\n")
    return target


def test_snapshot_cli_round_trip(env: Env) -> None:
    target = make_target(env)
    _configure(env, target)
    d = env.start_daemon()
    try:
        snap = env.cli_json("snapshot", "-d", "before editing")
        assert snap["trigger"] == "manual" and snap["description"] == "before editing"
        listed = env.cli_json("snapshots")
        assert [s["id"] for s in listed] == [snap["id"]]
        assert set(listed[0]) >= {"id", "created_at", "trigger", "description", "size_bytes", "disk_bytes", "origin"}
        assert listed[0]["disk_bytes"] >= listed[0]["size_bytes"] > 0
        (target / "app.conf").write_text("setting = broken\n")
        (target / "junk").write_text("x")
        diff = env.cli_json("snapshot", "diff", snap["id"])
        kinds = {Path(c["path"]).name: c["kind"] for c in diff}
        assert kinds == {"app.conf": "modified", "junk": "added"}
        dry = env.cli_json("restore", snap["id"], "--dry-run")
        assert dry["dry_run"] and (target / "junk").exists()
        no_tty = env.cli("restore", snap["id"])
        assert no_tty.returncode == 1 and "--yes" in no_tty.stderr
        done = env.cli_json("restore", snap["id"], "--yes")
        assert (target / "app.conf").read_text() == "setting = original\n"
        assert not (target / "junk").exists()
        assert done["pre_restore"]
        triggers = sorted(s["trigger"] for s in env.cli_json("snapshots"))
        assert triggers == ["manual", "pre-restore"]
        bad = env.cli("restore", "../../etc", "--yes")
        assert bad.returncode == 1 and "not a snapshot id" in bad.stderr
        gone = env.cli("snapshot", "delete", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        assert gone.returncode == 1 and "no snapshot" in gone.stderr
    finally:
        d.kill()


def test_safe_execute_rolls_back_a_failed_command(env: Env) -> None:
    target = make_target(env)
    _configure(env, target, "auto_rollback = true\n")
    d = env.start_daemon()
    try:
        conf = target / "app.conf"
        proc = env.cli("run", "--yes", "--", f"echo damaged > {conf}; exit 4")
        assert proc.returncode == 4, proc.stderr
        assert "restored" in proc.stderr
        assert conf.read_text() == "setting = original\n"
        snaps = env.cli_json("snapshots")
        assert [s["trigger"] for s in snaps] == ["pre-exec"]
        assert snaps[0]["description"].startswith("before bash:")
        ok = env.cli("run", "--yes", "--", f"echo changed > {conf}")
        assert ok.returncode == 0, ok.stderr
        assert conf.read_text() == "changed\n"
        undo = [ln for ln in ok.stderr.splitlines() if ln.startswith("undo with: aios restore ")]
        assert undo, ok.stderr
        snap_id = undo[0].split()[-1]
        env.cli_json("restore", snap_id, "--yes")
        assert conf.read_text() == "setting = original\n"
        cmds = [m for m in json.loads(env.cli("memory", "search", "damaged", "--json").stdout) if m["type"] == "Command"]
        assert cmds and cmds[0]["metadata"]["snapshot_id"]
    finally:
        d.kill()


def test_kill_9_during_a_snapshot_leaves_no_partial_one(env: Env) -> None:
    target = env.root / "big"
    target.mkdir()
    for i in range(40):
        (target / f"f{i}").write_bytes(os.urandom(4 * 1024 * 1024))
    _configure(env, target)
    d = env.start_daemon()
    snaps_dir = env.state / "snapshots"
    cli = subprocess.Popen([str(BIN / "aios"), "snapshot"], env=env.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(p.name.startswith(".tmp-") for p in snaps_dir.glob(".tmp-*")):
            time.sleep(0.01)
        assert any(snaps_dir.glob(".tmp-*")), "the snapshot finished before it could be interrupted"
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
    finally:
        cli.kill()
        cli.wait()
    d2 = env.start_daemon()
    try:
        assert env.cli_json("snapshots") == []
        assert not list(snaps_dir.glob(".tmp-*"))
        env.cli_json("snapshot")
        assert len(env.cli_json("snapshots")) == 1
    finally:
        d2.kill()


def _cli_in(env: Env, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``aios`` started in ``cwd`` (relative --path values resolve from there)."""
    return subprocess.run(
        [str(BIN / "aios"), *args], env=env.env, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def test_a_snapshot_of_given_paths_is_restored_by_its_owner(env: Env) -> None:
    target = make_target(env)
    _configure(env, target)
    other = env.outside() / "elsewhere"
    other.mkdir()
    (other / "data.txt").write_text("kept\n")
    d = env.start_daemon()
    try:
        made = _cli_in(env, env.outside(), "snapshot", "--path", "elsewhere", "--json")  # relative
        assert made.returncode == 0, made.stderr
        snap = json.loads(made.stdout)
        assert snap["paths"] == [str(other)]
        (other / "data.txt").write_text("damaged\n")
        (other / "junk").write_text("x")
        done = env.cli_json("restore", snap["id"], "--yes")
        assert (other / "data.txt").read_text() == "kept\n" and not (other / "junk").exists()
        assert done["restored"] == [{"path": str(other), "how": "in-place"}]
        # The same with --path, relative to another directory.
        (other / "data.txt").write_text("damaged again\n")
        again = _cli_in(env, other, "restore", snap["id"], "--yes", "--path", "data.txt", "--json")
        assert again.returncode == 0, again.stderr
        assert (other / "data.txt").read_text() == "kept\n"
        # Undoing the restore puts back what it replaced, and only that.
        undo = json.loads(again.stdout)["pre_restore"]
        assert env.cli_json("snapshot", "show", undo)["paths"] == [str(other / "data.txt")]
        # A path the snapshot does not hold is still refused.
        before = len(env.cli_json("snapshots"))
        outside = _cli_in(env, env.outside(), "restore", snap["id"], "--yes", "--path", str(target / "app.conf"))
        assert outside.returncode == 1 and "not in snapshot" in outside.stderr
        assert len(env.cli_json("snapshots")) == before  # refused before a pre-restore snapshot
    finally:
        d.kill()


def test_paths_sent_to_the_daemon_must_be_absolute(env: Env) -> None:
    target = make_target(env)
    _configure(env, target)
    d = env.start_daemon()
    try:
        snap = env.cli_json("snapshot")
        sock = connect(d.socket)
        try:
            for method, params in (
                ("snapshot.create", {"paths": ["relative/dir"]}),
                ("snapshot.create", {"paths": ["~/x"]}),
                ("snapshot.restore", {"id": snap["id"], "paths": ["app.conf"], "dry_run": True}),
            ):
                with pytest.raises(RPCError, match="must be absolute"):
                    rpc(sock, method, params)
        finally:
            sock.close()
    finally:
        d.kill()


CALL_AS = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2], "params": json.loads(sys.argv[3])}) + "\\n").encode())
data = b""
while not data.endswith(b"\\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
for line in data.decode().splitlines():
    msg = json.loads(line)
    if msg.get("id") == 1:
        print(json.dumps(msg))
"""


def test_another_user_cannot_make_the_daemon_restore_or_read(env: Env) -> None:
    name = f"aiosr{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        import pwd

        user = pwd.getpwnam(name)
        target = make_target(env)
        _configure(env, target, "")
        env.write_config(env.config_file.read_text() + f"[daemon]\nallowed_uids = [{user.pw_uid}]\n")
        d = env.start_daemon()
        try:
            for p in (env.root, env.run_dir):
                os.chmod(p, 0o755)
            os.chmod(d.socket, 0o666)
            snap = env.cli_json("snapshot")
            (target / "app.conf").write_text("changed by the owner\n")

            def as_user(params: dict[str, object], method: str = "snapshot.restore") -> dict[str, object]:
                proc = subprocess.run(
                    ["/usr/bin/python3", "-c", CALL_AS, str(d.socket), method, json.dumps(params)],
                    user=user.pw_uid, group=user.pw_gid, extra_groups=[], capture_output=True, text=True, timeout=60,
                )
                assert proc.stdout, proc.stderr
                return dict(json.loads(proc.stdout))

            whole = as_user({"id": snap["id"]})
            assert "only the daemon's owner" in str(whole.get("error")), whole
            one = as_user({"id": snap["id"], "paths": [str(target / "app.conf")]})
            assert "only the daemon's owner" in str(one.get("error")), one
            assert (target / "app.conf").read_text() == "changed by the owner\n"
            # Not even a preview or a diff: both list names the daemon read as itself.
            dry = as_user({"id": snap["id"], "dry_run": True})
            assert "only the daemon's owner" in str(dry.get("error")), dry
            diff = as_user({"id": snap["id"]}, "snapshot.diff")
            assert "only the daemon's owner" in str(diff.get("error")), diff
            # Nor read what it chooses as the daemon: a snapshot of a root-only directory.
            secret = env.outside() / "root-only"
            secret.mkdir(mode=0o700)
            chosen = as_user({"paths": [str(secret)]}, "snapshot.create")
            assert "only the daemon's owner" in str(chosen.get("error")), chosen
        finally:
            d.kill()
    finally:
        subprocess.run(["userdel", name], check=False)

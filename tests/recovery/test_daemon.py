"""Snapshots through the real daemon: CLI, safe_execute with auto-rollback, kill -9 mid-way."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from harness import BIN, Env


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
        assert set(listed[0]) >= {"id", "created_at", "trigger", "description", "size_bytes", "origin"}
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
    import subprocess

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

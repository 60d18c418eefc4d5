"""The daemon's seal on its own snapshots (metadata.json sits in a store others may write):
it survives a restart, and an edited metadata.json widens nothing. A real daemon, real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from harness import Env


def _setup(env: Env) -> tuple[Path, Path]:
    target = env.outside() / "etc-like"
    target.mkdir()
    (target / "app.conf").write_text("setting = original\n")
    other = env.outside() / "elsewhere"  # not under recovery.paths
    other.mkdir()
    (other / "data").write_text("original\n")
    env.write_config(f'[recovery]\npaths = ["{target}"]\npackages = false\n')
    return target, other


def test_a_path_snapshot_is_still_the_daemons_own_after_a_restart(env: Env) -> None:
    _, other = _setup(env)
    d = env.start_daemon()
    try:
        snap = env.cli_json("snapshot", "--path", str(other))
    finally:
        d.kill()
    assert (env.config_file.parent / "snapshot-seal.key").exists()
    (other / "data").write_text("changed\n")
    d = env.start_daemon()
    try:
        # Outside recovery.paths: restorable only because the seal (key kept beside the
        # config, not in the store) still shows this daemon took it.
        done = env.cli("restore", snap["id"], "--yes")
        assert done.returncode == 0, done.stderr
        assert (other / "data").read_text() == "original\n"
    finally:
        d.kill()


def test_an_own_snapshots_metadata_edited_to_add_a_path_is_refused(env: Env) -> None:
    target, other = _setup(env)
    d = env.start_daemon()
    try:
        snap = env.cli_json("snapshot")
        mf = env.state / "snapshots" / snap["id"] / "metadata.json"
        meta = json.loads(mf.read_text())
        meta["paths"] = [str(target), str(other)]  # as another container could edit it
        mf.write_text(json.dumps(meta))
        (other / "data").write_text("this host's own change\n")
        (target / "app.conf").write_text("setting = changed\n")
        whole = env.cli("restore", snap["id"], "--yes")
        assert whole.returncode == 1 and "seal" in whole.stderr, whole.stderr
        one = env.cli("restore", snap["id"], "--yes", "--path", str(other / "data"))
        assert one.returncode == 1, one.stderr
        assert (other / "data").read_text() == "this host's own change\n"
        assert (target / "app.conf").read_text() == "setting = changed\n"
    finally:
        d.kill()

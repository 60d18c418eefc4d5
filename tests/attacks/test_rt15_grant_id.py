"""rt15: the audit record can name the wrong grant as the one that let an action through.

The policy says ``rule grant[N]`` (an index into the prefix grants as they were when it judged);
``_methods_audit._grant_id`` turns N into an id by indexing the grants as they are when the
record is written, after the command finished. A grant revoked (or added) meanwhile shifts the
list: the record then names another grant (one created after the decision) or no id at all.
"""

from __future__ import annotations

import json
import subprocess
import time

from harness import BIN, Daemon, Env


def _grant(env: Env, *words: str) -> str:
    proc = env.cli("policy", "grant", "--json", "--", *words)
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)["id"])


def _run_while(env: Env, command: str, meanwhile: list[tuple[str, ...]]) -> dict[str, object]:
    proc = subprocess.Popen([str(BIN / "aios"), "run", "--", command], env=env.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # decided and running (sleep 3)
    for args in meanwhile:
        assert env.cli(*args).returncode == 0
    proc.communicate(timeout=60)
    [record] = [r for r in env.cli_json("audit") if r["subject"] == command]
    assert str(record["rule"]).startswith("grant["), record
    return record


def test_a_revoke_and_a_new_grant_during_the_run_change_the_named_grant(env: Env, daemon: Daemon) -> None:
    out = env.outside()
    first = _grant(env, "touch", f"{out}/first")
    second = _grant(env, "touch", f"{out}/second")
    record = _run_while(env, f"touch {out}/second; sleep 3",
                        [("policy", "revoke", first), ("policy", "grant", "--", "touch", f"{out}/third")])
    assert record["grant_id"] == second, f"the record names grant {record['grant_id']}, not {second} that allowed it"


def test_a_revoke_during_the_run_loses_the_grant_id(env: Env, daemon: Daemon) -> None:
    out = env.outside()
    first = _grant(env, "touch", f"{out}/first")
    second = _grant(env, "touch", f"{out}/second")
    record = _run_while(env, f"touch {out}/second; sleep 3", [("policy", "revoke", first)])
    assert record["grant_id"] == second, f"the record names {record['grant_id']!r}, not grant {second}"

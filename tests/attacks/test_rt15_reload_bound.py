"""rt15: a reload reports settings as applied that are bound at start and silently keep their old value.

``_reload.RESTART_KEYS`` names what a reload cannot change (reported under ``needs_restart``). The
audit trail is opened once, at start, with ``memory.audit_journal`` (``build_services`` carries
``previous.audit`` over), and logging is set up once with ``daemon.log_target``,
``daemon.log_max_bytes`` and ``daemon.log_keep``; none of them is in ``RESTART_KEYS``. A reload
that turns the journal copy on (or moves it), or sends the log elsewhere, answers "changed:
memory"/"changed: daemon", names nothing as needing a restart, and changes nothing: the
administrator believes records are shipped to the journal while none is.
"""

from __future__ import annotations

import socket
from typing import Any

from harness import Env, connect, rpc


def _reload(env: Env) -> dict[str, Any]:
    with connect(env.socket) as s:
        result: dict[str, Any] = rpc(s, "config.reload", {})
    assert not result["errors"], result
    return result


def test_turning_the_journal_copy_on_by_reload_is_neither_applied_nor_named(env: Env) -> None:
    extra = env.root / "daemon-extra.toml"  # the daemon's own --config file: flags beat the harness's variables
    extra.write_text('[memory]\naudit_journal = ""\n')
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(env.root / "journal.sock"))
    listener.settimeout(5)
    d = env.start_daemon("--config", str(extra))
    try:
        extra.write_text(f'[memory]\naudit_journal = "{env.root / "journal.sock"}"\n')
        result = _reload(env)
        assert env.cli("run", "--", "rm -rf /").returncode == 126
        try:
            listener.recv(65536)
            sent = True
        except TimeoutError:
            sent = False
        assert sent or "memory.audit_journal" in result["needs_restart"], \
            f"the reload answered {result} but no record reaches the journal it names"
    finally:
        d.kill()
        listener.close()


def test_moving_the_log_by_reload_is_neither_applied_nor_named(env: Env) -> None:
    extra = env.root / "daemon-extra.toml"
    extra.write_text('[daemon]\nlog_target = "file"\n')
    d = env.start_daemon("--config", str(extra))
    try:
        extra.write_text('[daemon]\nlog_target = "stderr"\nlog_keep = 1\n')
        result = _reload(env)
        before = (env.state / "daemon.log").read_text()
        assert env.cli("run", "--", "rm -rf /").returncode == 126
        still_in_file = (env.state / "daemon.log").read_text()[len(before):]
        assert "audit: block" not in still_in_file or "daemon.log_target" in result["needs_restart"], \
            f"the reload answered {result} but the log still goes to daemon.log"
    finally:
        d.kill()

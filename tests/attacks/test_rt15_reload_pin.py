"""rt15: a pin the administrator adds by reload does not apply while the user's file is looser.

"Security pins in the system config keep winning." The administrator pins ``security.mode`` to
paranoid in the system config; the user's file says ``trusted``. A reload refuses the whole new
config (the user's file loosens the pin) and keeps the last good one, so the daemon keeps running
trusted, the very mode the new pin forbids, until the user edits their own file. At a start the
same files are refused outright; a reload fails open to the looser state. Two spellings: the
watch, and ``config.reload``.
"""

from __future__ import annotations

import time

from harness import Env, connect, rpc


def _status(env: Env) -> dict[str, object]:
    with connect(env.socket) as s:
        result: dict[str, object] = rpc(s, "status")
    return result


def test_a_pin_added_by_config_reload_leaves_the_daemon_trusted(env: Env) -> None:
    env.write_config('[daemon]\nwatch_config = false\n[security]\nmode = "trusted"\n')
    d = env.start_daemon()
    try:
        env.system_config.write_text('[pin.security]\nmode = "paranoid"\n')
        with connect(env.socket) as s:
            reply = rpc(s, "config.reload", {})
        assert reply["errors"], reply
        assert _status(env)["mode"] != "trusted", f"the pinned daemon still runs trusted after {reply}"
    finally:
        d.kill()


def test_a_pin_added_while_watched_leaves_the_daemon_trusted(env: Env) -> None:
    env.write_config('[daemon]\nwatch_config = true\n[security]\nmode = "trusted"\n')
    d = env.start_daemon()
    try:
        env.system_config.write_text('[pin.security]\nmode = "paranoid"\n')
        deadline = time.monotonic() + 15
        while "config reload" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert _status(env)["mode"] != "trusted", "the pinned daemon still runs trusted"
    finally:
        d.kill()


def test_applying_new_pins_never_widens_the_allow_list_in_force(env: Env) -> None:
    """The pins applied after a failed reload only tighten: an allow list in force keeps what the
    pinned list allows and gains nothing from it."""
    env.write_config('[daemon]\nwatch_config = false\n[security]\nmode = "trusted"\nallow = ["git status"]\n')
    d = env.start_daemon()
    try:
        env.system_config.write_text('[pin.security]\nmode = "paranoid"\nallow = ["git status", "rm -rf /srv"]\n')
        with connect(env.socket) as s:
            reply = rpc(s, "config.reload", {})
            shown = rpc(s, "config.show", {})
        assert reply["errors"], reply
        assert _status(env)["mode"] == "paranoid"
        assert shown["config"]["security"]["allow"] == ["git status"], shown["config"]["security"]
    finally:
        d.kill()

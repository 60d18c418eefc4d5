"""rt15: a one-off config *file* given through the environment still reaches an autostarted daemon.

``aios --config trusted.toml info`` no longer leaves a trusted daemon behind, but the environment
spelling of the same one-off does: ``AIOS_CONFIG`` and ``AIOS_SYSTEM_CONFIG`` are kept as
"locating" variables (``client/_spawn.LOCATING_VARIABLES``), so the file one call named becomes
the settings of every later call. With ``AIOS_SYSTEM_CONFIG`` a single call even drops the
administrator's pins for the daemon it leaves behind. Issue 15: "--set, --config and AIOS_* given
to one CLI call affect that call ... never from the call's one-off overrides".
"""

from __future__ import annotations

from harness import Env

AUTOSTART = {"AIOS_DAEMON__AUTOSTART": "true"}


def _oneoff_then_status(env: Env, oneoff: dict[str, str]) -> str:
    try:
        proc = env.cli("info", env={**AUTOSTART, **oneoff})
        assert proc.returncode == 0, proc.stderr
        status = env.cli_json("status")  # a later call, without the one-off variable
        return str(status["mode"])
    finally:
        env.cli("daemon", "stop")


def test_aios_config_for_one_call_leaves_a_trusted_daemon(env: Env) -> None:
    oneoff = env.root / "just-this-once.toml"
    oneoff.write_text('[security]\nmode = "trusted"\n')
    # the --config spelling is handled: the autostarted daemon stays normal
    try:
        proc = env.cli("--config", str(oneoff), "info", env=AUTOSTART)
        assert proc.returncode == 0, proc.stderr
        assert env.cli_json("status")["mode"] == "normal"
    finally:
        env.cli("daemon", "stop")
    assert _oneoff_then_status(env, {"AIOS_CONFIG": str(oneoff)}) == "normal", \
        "AIOS_CONFIG=FILE on one call left a trusted daemon behind"


def test_aios_system_config_for_one_call_drops_the_pins(env: Env) -> None:
    env.system_config.write_text('[security]\nmode = "paranoid"\n[pin.security]\nmode = "paranoid"\n')
    empty = env.root / "no-pins.toml"
    empty.write_text("")
    assert _oneoff_then_status(env, {}) == "paranoid"  # the administrator's pin holds normally
    assert _oneoff_then_status(env, {"AIOS_SYSTEM_CONFIG": str(empty)}) == "paranoid", \
        "AIOS_SYSTEM_CONFIG=FILE on one call left a daemon without the system config's pin"

"""A broken config reports every problem at once, each naming its file (or variable, or flag) and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aios.config import ConfigError, check_file, load
from harness import BIN, Env


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "AIOS_SYSTEM_CONFIG": str(tmp_path / "system.toml"), "AIOS_CONFIG": str(tmp_path / "user.toml")}
    env.update(extra)
    return env


THREE_IN_ONE_FILE = '[security]\nmode = "lax"\nmod = 1\n[recovery]\nmax_snapshots = 0\n'


def _problems(exc: ConfigError) -> list[tuple[str, str]]:
    return [(e["source"], e["key"]) for e in exc.data["errors"]]


def test_every_problem_of_one_file(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text(THREE_IN_ONE_FILE)
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path))
    assert _problems(info.value) == [(str(user), "security.mode"), (str(user), "security.mod"), (str(user), "recovery.max_snapshots")]
    lines = str(info.value).splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{user}: ") for line in lines)
    # The first problem stays in .source/.key for callers that look at one.
    assert info.value.source == str(user) and info.value.key == "security.mode"


def test_every_problem_of_every_layer(tmp_path: Path) -> None:
    (tmp_path / "system.toml").write_text("[daemon\nbroken =")  # not TOML
    (tmp_path / "user.toml").write_text('[llm.providers.x]\nkind = "gemini"\n[nosuch]\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[sandbox]\ntimeout = "soon"\n')
    env = _env(tmp_path, AIOS_SECURITY_MODE="safe", AIOS_DAEMON__MAX_LINE="lots")
    with pytest.raises(ConfigError) as info:
        load(environ=env, config_file=extra, sets=["nokey", "security.mode=lax"])
    got = _problems(info.value)
    assert (str(tmp_path / "system.toml"), "") in got  # the TOML syntax error
    for expected in [
        (str(tmp_path / "user.toml"), "llm.providers.x.kind"),
        (str(tmp_path / "user.toml"), "nosuch"),
        ("environment variable AIOS_SECURITY_MODE", "AIOS_SECURITY_MODE"),
        ("environment variable AIOS_DAEMON__MAX_LINE", "daemon.max_line"),
        (str(extra), "sandbox.timeout"),
        ("flag --set nokey", "nokey"),
        ("flag --set security.mode=lax", "security.mode"),
    ]:
        assert expected in got, (expected, got)
    assert len(str(info.value).splitlines()) == len(got) == 8


def test_check_file_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(THREE_IN_ONE_FILE + '[pin]\nnope = 1\n')
    with pytest.raises(ConfigError) as info:
        check_file(bad)
    assert [k for _s, k in _problems(info.value)] == ["pin", "security.mode", "security.mod", "recovery.max_snapshots"]


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    proc = env.cli(*args)
    assert "Traceback" not in proc.stderr
    return proc


def test_cli_prints_one_line_per_problem(env: Env) -> None:
    env.write_config(THREE_IN_ONE_FILE)
    for args in (("config", "show"), ("config", "check"), ("config", "check", str(env.config_file))):
        proc = _cli(env, *args)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 3, proc.stderr
        for line, key in zip(lines, ("security.mode", "security.mod", "recovery.max_snapshots"), strict=True):
            assert line.startswith(f"aios: {env.config_file}: ") and key in line


def test_daemon_prints_one_line_per_problem(env: Env) -> None:
    env.write_config(THREE_IN_ONE_FILE)
    proc = subprocess.run([str(BIN / "aios-runtime")], env=env.env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"aios-runtime: {env.config_file}: ") for line in lines), proc.stderr


@pytest.mark.parametrize("content", [b'x = "\xff"\n', b"\xff\xfe[security]\n"])
def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, content: bytes) -> None:
    user = tmp_path / "user.toml"
    user.write_bytes(content)
    for call in (lambda: load(environ=_env(tmp_path)), lambda: check_file(user)):
        with pytest.raises(ConfigError, match="not UTF-8 text") as info:
            call()
        assert info.value.source == str(user) and str(user) in str(info.value)


def test_config_flag_naming_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load(environ=_env(tmp_path), config_file=tmp_path)


def test_every_problem_of_the_pin_table(tmp_path: Path) -> None:
    system = tmp_path / "system.toml"
    system.write_text('[pin.security]\nmode = "lax"\nrules = 1\nallow = "ls"\n')
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path))
    assert _problems(info.value) == [(str(system), "pin.security.mode"), (str(system), "pin.security.rules"),
                                     (str(system), "pin.security.allow")]


def test_every_loosened_pin(tmp_path: Path) -> None:
    (tmp_path / "system.toml").write_text('[pin.security]\nmode = "safe"\nallow = ["ls"]\n')
    (tmp_path / "user.toml").write_text('[security]\nmode = "trusted"\nallow = ["ls", "rm"]\n')
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path))
    assert [k for _s, k in _problems(info.value)] == ["security.mode", "security.allow"]
    assert all("loosens the pin" in line for line in str(info.value).splitlines())

"""The system config can pin security settings that later layers cannot loosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.config import ConfigError, load


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "HOME": str(tmp_path),
        "AIOS_SYSTEM_CONFIG": str(tmp_path / "system.toml"),
        "AIOS_CONFIG": str(tmp_path / "user.toml"),
        **extra,
    }


def _pin(tmp_path: Path, text: str) -> None:
    (tmp_path / "system.toml").write_text(text)


def test_pinned_mode_is_the_floor(tmp_path: Path) -> None:
    _pin(tmp_path, '[pin.security]\nmode = "safe"\n')
    assert load(environ=_env(tmp_path)).config.security.mode == "safe"
    assert load(environ=_env(tmp_path, AIOS_SECURITY__MODE="paranoid")).config.security.mode == "paranoid"
    with pytest.raises(ConfigError) as info:
        load(environ=_env(tmp_path, AIOS_SECURITY__MODE="trusted"))
    assert "pin.security.mode" in str(info.value)
    assert "AIOS_SECURITY__MODE" in str(info.value)
    with pytest.raises(ConfigError, match="pin.security.mode"):
        load(environ=_env(tmp_path), sets=["security.mode=normal"])


def test_pinned_patterns_cannot_be_removed(tmp_path: Path) -> None:
    _pin(tmp_path, "[pin.security]\ndangerous_patterns = ['curl .*\\| *sh']\n")
    (tmp_path / "user.toml").write_text("[security]\ndangerous_patterns = []\n")
    lc = load(environ=_env(tmp_path))
    assert lc.config.security.dangerous_patterns == ["curl .*\\| *sh"]
    assert "pinned" in lc.source_of("security", "dangerous_patterns")


def test_pinned_allow_list_can_only_shrink(tmp_path: Path) -> None:
    _pin(tmp_path, '[pin.security]\nallow = ["ls", "cat"]\n')
    assert load(environ=_env(tmp_path)).config.security.allow == ["ls", "cat"]
    (tmp_path / "user.toml").write_text('[security]\nallow = ["ls"]\n')
    assert load(environ=_env(tmp_path)).config.security.allow == ["ls"]
    (tmp_path / "user.toml").write_text('[security]\nallow = ["ls", "rm"]\n')
    with pytest.raises(ConfigError, match="pin.security.allow"):
        load(environ=_env(tmp_path))


def test_pin_outside_the_system_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "user.toml").write_text('[pin.security]\nmode = "trusted"\n')
    with pytest.raises(ConfigError, match="only allowed in the system config"):
        load(environ=_env(tmp_path))


def test_bad_pin_is_named(tmp_path: Path) -> None:
    _pin(tmp_path, '[pin.security]\nmood = "safe"\n')
    with pytest.raises(ConfigError, match="pin.security.mood"):
        load(environ=_env(tmp_path))

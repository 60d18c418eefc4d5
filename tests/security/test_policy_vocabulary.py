"""One mode vocabulary (aios.config) and one place that decides plugin calls (aios.security)."""

from __future__ import annotations

from aios import config
from aios.config import MODES, STRICTNESS, is_mode
from aios.sandbox import _profile, _runner
from aios.security import plugin_decision


def test_modes_are_defined_once_and_imported() -> None:
    assert MODES == ("safe", "normal", "paranoid", "trusted")
    assert _profile.MODES is config.MODES and _runner.MODES is config.MODES
    assert sorted(STRICTNESS, key=STRICTNESS.__getitem__) == ["trusted", "normal", "safe", "paranoid"]
    assert all(is_mode(m) for m in MODES) and not is_mode("lax") and not is_mode(None)


def test_plugin_calls_are_decided_by_the_mode() -> None:
    assert plugin_decision("weather", mode="normal", allow=None).action == "allow"
    assert plugin_decision("weather", mode="safe", allow=None).action == "confirm"
    d = plugin_decision("weather", mode="paranoid", allow=["ls"])
    assert (d.action, d.rule) == ("block", "tool.plugin-paranoid") and "tool:weather" in d.reason
    assert plugin_decision("weather", mode="paranoid", allow=["tool:weather"]).action == "confirm"
    assert plugin_decision("weather", mode="trusted", allow=None).action == "allow"

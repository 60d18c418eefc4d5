"""Specialists as configuration, the built-ins, and the coordinator's ranking (no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent import rank, specialists
from aios.config import AgentsConfig, ConfigError, load, to_dict


def _load(tmp_path: Path, text: str, **env: str) -> AgentsConfig:
    user = tmp_path / "xdg" / "aios" / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(text)
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
               "AIOS_SYSTEM_CONFIG": str(tmp_path / "none.toml"), **env}
    lc = load(environ=environ)
    rows = {key: source for key, _v, source in lc.rows()}
    if "logs" in lc.config.agents.specialists:  # `aios config show` names each key as written
        assert rows["agents.logs.description"] == str(user)
        assert rows["agents.logs.system_prompt"] == "default"
    return lc.config.agents


def test_agents_tables_sit_beside_the_limits(tmp_path: Path) -> None:
    agents = _load(
        tmp_path,
        '[agents]\nmax_parallel = 2\n[agents.logs]\ndescription = "Reads logs."\ntools = ["bash"]\n'
        'mode = "safe"\nread_only = true\ntimeout = "90s"\n',
        AIOS_AGENTS__LOGS__MAX_ROUNDS="3",
    )
    assert agents.max_parallel == 2 and agents.max_tasks == 8 and agents.max_depth == 1
    logs = agents.specialists["logs"]
    assert (logs.tools, logs.mode, logs.read_only, logs.timeout, logs.max_rounds) == (["bash"], "safe", True, 90.0, 3)
    assert "specialists" not in to_dict(agents) and to_dict(agents)["logs"]["description"] == "Reads logs."


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[agents.logs]\ndescripton = "typo"\n', "agents.logs.descripton"),
        ('[agents.logs]\nmode = "yolo"\n', "agents.logs.mode"),
        ("[agents]\nmax_parallel = 0\n", "agents.max_parallel"),
        ('[agents]\nmax_paralel = 3\n', "agents.max_paralel"),
    ],
)
def test_agent_config_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert info.value.key == key


def test_builtins_need_no_config_and_a_configured_name_replaces_one() -> None:
    builtin = specialists(AgentsConfig())
    assert sorted(builtin) == ["investigator", "reviewer"]
    inv = builtin["investigator"]
    assert inv.read_only and inv.tools == ("bash", "read", "list") and inv.system_prompt.startswith("You are the investigator")
    assert builtin["reviewer"].tools == ("read", "list") and "Risks" in builtin["reviewer"].system_prompt
    from aios.config import AgentConfig

    replaced = specialists(AgentsConfig(specialists={"investigator": AgentConfig(description="Mine.", tools=["bash"])}))
    assert replaced["investigator"].description == "Mine." and not replaced["investigator"].builtin
    assert "Mine." in replaced["investigator"].system_prompt


def test_the_ranking_is_deterministic_and_fits_descriptions() -> None:
    agents = specialists(AgentsConfig())
    assert rank("find why the disk filled up and which logs grow fastest", agents)[0][0] == "investigator"
    assert rank("review this change to sshd_config before I apply it: what are the risks?", agents)[0][0] == "reviewer"
    first = rank("check the failing services", agents)
    assert first == rank("check the failing services", agents)
    # no word in common: a score of 0, ties broken by name
    assert rank("zzz qqq", agents) == [("investigator", 0.0), ("reviewer", 0.0)]


def test_the_worked_example_is_valid_and_its_unnamed_task_goes_to_the_investigator() -> None:
    from aios.config import check_file
    from harness import REPO

    agents = specialists(check_file(REPO / "examples" / "agents" / "config.toml").agents)
    assert sorted(agents) == ["investigator", "logs", "reviewer", "web"]
    assert agents["web"].mode == "safe" and agents["logs"].read_only
    assert rank("Which directories use the most disk space?", agents)[0][0] == "investigator"
    assert rank("Is nginx healthy: config test, status, ports, certificate dates?", agents)[0][0] == "web"

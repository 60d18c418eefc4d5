"""Worked examples for small models: typed admin tools are shown when they are offered."""

from __future__ import annotations

import json

from aios.agent import ToolSpec
from aios.agent._prompt import few_shot

ALL = ["bash", "read", "packages", "services", "containers", "git"]


def _calls(request: str, names: list[str]) -> list[tuple[str, dict[str, object]]]:
    tools = [ToolSpec(n, n, {"type": "object"}) for n in names]
    msgs = few_shot(tools, request)
    return [(c.name, json.loads(c.arguments)) for m in msgs[8:] for c in m.tool_calls]


def test_typed_tools_replace_the_bash_examples_of_their_domain() -> None:
    for request, tool, action in [("Restart the postgresql service", "services", "restart"),
                                  ("Install the htop package", "packages", "install"),
                                  ("Show the logs of the container named web", "containers", "logs"),
                                  ("Which commits were made recently in git", "git", "log")]:
        calls = _calls(request, ALL)
        assert calls[-1][0] == tool and calls[-1][1]["action"] == action, (request, calls)
        assert not any(name == "bash" and str(args["command"]).split()[0] in ("systemctl", "git", "podman", "dpkg")
                       for name, args in calls), calls


def test_without_typed_tools_the_examples_stay_bash() -> None:
    calls = _calls("Restart the postgresql service", ["bash", "read"])
    assert calls and all(name == "bash" for name, _ in calls)
